// The consent documents page: an admin adds a new version of the terms of use or the
// privacy policy through the API (the session cookie, same origin: the CSRF guard checks).
"use strict";

const result = document.getElementById("consent-result");
const form = document.getElementById("consent-new");

function problem(detail) {
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail) && detail.length) {
    return detail.map((item) => `${(item.loc || []).slice(-1)[0]}: ${item.msg}`).join("; ");
  }
  return "入力を確認してください";
}

if (form) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const body = {};
    for (const name of ["kind", "version", "title", "body", "effective_from"]) {
      body[name] = String(data.get(name) || "");
    }
    const button = form.querySelector("button");
    button.disabled = true;
    try {
      const response = await fetch("/api/consent-documents", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
      if (!response.ok) {
        const answer = await response.json().catch(() => ({}));
        result.textContent = `追加できませんでした: ${problem(answer.detail)}`;
        return;
      }
      result.textContent = `${body.version} を追加しました`;
      window.location.reload();
    } finally {
      button.disabled = false;
    }
  });
}
