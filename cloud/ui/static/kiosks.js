// Refreshes the kiosk table from /api/kiosks (the session cookie authenticates).
"use strict";
const STATE = { online: "オンライン", offline: "オフライン" };

function cell(text) {
  const td = document.createElement("td");
  td.textContent = text;
  return td;
}

function render(kiosks) {
  const body = document.querySelector("#kiosks tbody");
  const rows = kiosks.map((k) => {
    const tr = document.createElement("tr");
    tr.append(cell(k.kiosk_id), cell(k.site_id));
    const state = document.createElement("td");
    const badge = document.createElement("span");
    badge.className = "state " + k.status;
    badge.textContent = STATE[k.status] || k.status;
    state.append(badge);
    tr.append(state, cell(new Date(k.last_seen_at).toLocaleString("ja-JP")),
              cell(k.agent_version), cell(k.os_version));
    const peripherals = document.createElement("td");
    for (const p of k.peripherals) {
      const span = document.createElement("span");
      span.className = "peripheral " + p.status;
      span.textContent = p.name + (p.simulated ? "（シミュレーション）" : "");
      peripherals.append(span, " ");
    }
    tr.append(peripherals);
    return tr;
  });
  body.replaceChildren(...rows);
  document.getElementById("refreshed").textContent = new Date().toLocaleTimeString("ja-JP");
}

async function refresh() {
  try {
    const response = await fetch("/api/kiosks", { credentials: "same-origin" });
    if (response.status === 401) { window.location.assign("/login"); return; }
    if (response.ok) render(await response.json());
  } catch (error) {
    document.getElementById("refreshed").textContent = "更新できません（接続を確認中）";
  }
}

refresh();
setInterval(refresh, 3000);
