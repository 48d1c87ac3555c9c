// The support staff page: kiosks whose residents wait long, and walk-in cases.
"use strict";

async function refresh() {
  const list = document.getElementById("crowded");
  try {
    const response = await fetch("/api/support/alerts");
    if (!response.ok) throw new Error(response.status);
    const waiting = await response.json();
    list.replaceChildren();
    for (const item of waiting) {
      const li = document.createElement("li");
      li.className = "alert critical";
      const minutes = Math.floor((Date.now() - Date.parse(item.requested_at)) / 60000);
      li.textContent = `${item.site_id} / ${item.kiosk_id} — ${item.position} 番目、${minutes} 分待ち`;
      list.append(li);
    }
    if (!waiting.length) {
      const li = document.createElement("li");
      li.textContent = "混雑している端末はありません。";
      list.append(li);
    }
  } catch (error) {
    list.replaceChildren(Object.assign(document.createElement("li"), { textContent: "取得できませんでした" }));
  }
}

document.getElementById("case-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  const body = { site_id: form.get("site_id"), procedure: form.get("procedure"), outcome: form.get("outcome") };
  if (form.get("kiosk_id")) body.kiosk_id = form.get("kiosk_id");
  if (form.get("reason")) body.reason = form.get("reason");
  const response = await fetch("/api/support/cases", {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  });
  document.getElementById("case-result").textContent = response.ok ? "記録しました" : "記録できませんでした（入力を確認してください）";
});

const attendance = document.getElementById("attendance-form");
attendance.elements.day.value = new Date().toLocaleDateString("sv-SE");  // today, YYYY-MM-DD
attendance.addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  const response = await fetch("/api/attendance", {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ site_id: form.get("site_id"), day: form.get("day") }),
  });
  const result = document.getElementById("attendance-result");
  if (response.ok) result.textContent = "記録しました";
  else if (response.status === 409) result.textContent = "この日は記録済みです";
  else result.textContent = "記録できませんでした";
});

refresh();
setInterval(refresh, 5000);
