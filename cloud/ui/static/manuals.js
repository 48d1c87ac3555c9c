// The manual's approval page: the city approves or returns a submitted version; the
// contractor's admin creates a draft, edits it and submits it.
"use strict";

const result = document.getElementById("manual-result");

async function call(method, path, body) {
  const response = await fetch(path, {
    method,
    headers: { "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.ok) return response;
  const detail = await response.json().catch(() => ({}));
  result.textContent = `できませんでした: ${typeof detail.detail === "string" ? detail.detail : "入力を確認してください"}`;
  return null;
}

// The server commits a request's transaction just after answering it: before reloading, wait
// (briefly) until the change can be read back.
async function settled(number, state) {
  for (let i = 0; i < 40; i += 1) {
    const response = await fetch(`/api/manuals/${number}`);
    if (response.ok && (await response.json()).state === state) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function act(method, path, body, done, state) {
  const response = await call(method, path, body);
  if (!response) return;
  result.textContent = done;
  if (state) await settled((await response.json()).number, state);
  window.location.reload();
}

const newDraft = document.getElementById("new-draft");
if (newDraft) {
  newDraft.addEventListener("submit", (event) => {
    event.preventDefault();
    const form = new FormData(newDraft);
    act("POST", "/api/manuals", { change_note: form.get("change_note") || "" }, "下書きを作成しました", "draft");
  });
}

for (const section of document.querySelectorAll(".manual-version")) {
  const number = section.dataset.version;
  const approve = section.querySelector(".manual-approve");
  if (approve) {
    approve.addEventListener("click", () => act("POST", `/api/manuals/${number}/approve`, undefined, "承認しました", "approved"));
  }
  const returning = section.querySelector(".manual-return");
  if (returning) {
    returning.addEventListener("submit", (event) => {
      event.preventDefault();
      const comment = new FormData(returning).get("comment");
      act("POST", `/api/manuals/${number}/return`, { comment }, "差し戻しました", "returned");
    });
  }
  const edit = section.querySelector(".manual-edit");
  if (edit) {
    edit.addEventListener("submit", (event) => {
      event.preventDefault();
      const form = new FormData(edit);
      let content;
      try {
        content = JSON.parse(form.get("content"));
      } catch (error) {
        result.textContent = `内容の JSON が正しくありません: ${error.message}`;
        return;
      }
      act("PUT", `/api/manuals/${number}`, {
        change_note: form.get("change_note") || "", scripts: content.scripts || {}, faq: content.faq || [],
      }, "保存しました");
    });
  }
  const submit = section.querySelector(".manual-submit");
  if (submit) {
    submit.addEventListener("click", () => act("POST", `/api/manuals/${number}/submit`, undefined, "提出しました", "submitted"));
  }
}
