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

// The month-end approval: the contractor submits, city staff approve or return with comments.
const approval = document.getElementById("approval");
if (approval) {
  for (const button of approval.querySelectorAll("button[data-approval]")) {
    button.addEventListener("click", async () => {
      const action = button.dataset.approval;
      const body = { site: approval.dataset.site, month: approval.dataset.month };
      const comment = document.getElementById("approval-comment-input");
      if (action !== "submit" && comment && comment.value.trim()) body.comment = comment.value.trim();
      const result = document.getElementById("approval-result");
      if (action === "return" && !body.comment) {
        result.textContent = "差し戻す理由をコメントに書いてください";
        return;
      }
      const response = await fetch(`/api/reports/approvals/${action}`, {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
      });
      if (response.ok) {
        window.location.reload();
      } else {
        const detail = await response.json().catch(() => ({}));
        result.textContent = `できませんでした: ${typeof detail.detail === "string" ? detail.detail : response.status}`;
      }
    });
  }
}
