// City staff record a closure (e.g. a storm warning) for the site shown on the page.
"use strict";

const closure = document.getElementById("closure-form");
closure.addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData(closure);
  const body = { date: form.get("date"), reason: form.get("reason") };
  if (form.get("from_time")) body.from_time = form.get("from_time");
  if (form.get("until_time")) body.until_time = form.get("until_time");
  const response = await fetch(`/api/sites/${encodeURIComponent(closure.dataset.site)}/closures`, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  });
  const result = document.getElementById("closure-result");
  if (response.ok) {
    result.textContent = "記録しました";
  } else {
    const detail = await response.json().catch(() => ({}));
    result.textContent = `記録できませんでした: ${typeof detail.detail === "string" ? detail.detail : "入力を確認してください"}`;
  }
});
