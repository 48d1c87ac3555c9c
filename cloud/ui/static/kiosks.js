// Refreshes the kiosk table from /api/kiosks (the session cookie authenticates) and lets
// techs and admins run a self-test on a kiosk and read its result.
"use strict";
const STATE = { online: "オンライン", offline: "オフライン" };
const COMMAND_STATE = {
  queued: "送信待ち", sent: "送信済み", accepted: "実行中", deferred: "利用者対応中のため待機",
  succeeded: "成功", failed: "失敗", rejected: "拒否", expired: "期限切れ", timed_out: "応答なし",
};
const PERIPHERAL = {
  card_reader: "カードリーダー", tenkey: "テンキー", face_camera: "顔写真カメラ",
  document_scanner: "スタンドスキャナー", headset: "ヘッドセット",
};
const FINAL = new Set(["succeeded", "failed", "rejected", "expired", "timed_out"]);
const table = document.getElementById("kiosks");
const canMaintain = table.dataset.canMaintain === "yes";
const results = new Map(); // kiosk id -> last result text, kept across refreshes

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function percent(value) {
  return value === undefined || value === null ? "—" : Math.round(value) + "%";
}

function render(kiosks) {
  const rows = kiosks.map((k) => {
    const tr = document.createElement("tr");
    tr.append(cell(k.kiosk_id, "id"), cell(k.site_id));
    const state = document.createElement("td");
    const badge = document.createElement("span");
    badge.className = "state " + k.status;
    badge.textContent = STATE[k.status] || k.status;
    state.append(badge);
    const host = k.host || {};
    tr.append(state, cell(new Date(k.last_seen_at).toLocaleString("ja-JP"), "when"),
              cell(k.agent_version), cell(k.os_version), cell(percent(host.cpu_percent)),
              cell(percent(host.memory_percent)), cell(percent(host.disk_percent)),
              cell(host.temperature_c == null ? "—" : Math.round(host.temperature_c) + "℃"));
    const peripherals = document.createElement("td");
    for (const p of k.peripherals) {
      const span = document.createElement("span");
      span.className = "peripheral " + p.status;
      span.textContent = (PERIPHERAL[p.name] || p.name) + (p.simulated ? "（模擬）" : "");
      span.title = p.simulated ? "実機ではなくシミュレーション" : p.status;
      peripherals.append(span, " ");
    }
    tr.append(peripherals);
    if (canMaintain) {
      const td = document.createElement("td");
      const button = document.createElement("button");
      button.type = "button";
      button.className = "self-test";
      button.dataset.kiosk = k.kiosk_id;
      button.textContent = "自己診断";
      const output = document.createElement("output");
      output.className = "result";
      const result = results.get(k.kiosk_id) || { text: "", title: "" };
      output.textContent = result.text;
      output.title = result.title;
      td.append(button, " ", output);
      tr.append(td);
    }
    return tr;
  });
  table.tBodies[0].replaceChildren(...rows);
  document.getElementById("refreshed").textContent = new Date().toLocaleTimeString("ja-JP");
}

async function refreshAlerts() {
  const list = document.getElementById("alerts");
  if (!list) return;
  const response = await fetch("/api/alerts", { credentials: "same-origin" });
  if (!response.ok) return;
  const alerts = await response.json();
  const items = alerts.map((a) => {
    const li = document.createElement("li");
    li.className = "alert " + a.severity;
    li.textContent = `${a.kiosk_id}（${a.site_id}）: ${a.detail} — ` +
      new Date(a.opened_at).toLocaleString("ja-JP") + " から";
    return li;
  });
  if (items.length === 0) {
    const li = document.createElement("li");
    li.textContent = "ありません";
    items.push(li);
  }
  list.replaceChildren(...items);
}

async function refresh() {
  try {
    if (canMaintain) refreshAlerts();
    const response = await fetch("/api/kiosks", { credentials: "same-origin" });
    if (response.status === 401) { window.location.assign("/login"); return; }
    if (response.ok) render(await response.json());
  } catch (error) {
    document.getElementById("refreshed").textContent = "更新できません（接続を確認中）";
  }
}

// A short line for the table; the full output goes in the tooltip.
function describe(command) {
  const outputs = Object.entries(command.output || {})
    .map(([k, v]) => `${PERIPHERAL[k] || k}: ${v}`).join("\n");
  return {
    text: `${COMMAND_STATE[command.state] || command.state}` +
          (command.detail ? `（${command.detail}）` : ""),
    title: outputs,
  };
}

async function selfTest(kioskId) {
  results.set(kioskId, { text: "送信中…", title: "" });
  const response = await fetch(`/api/kiosks/${encodeURIComponent(kioskId)}/commands`, {
    method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ name: "self_test", expires_in_s: 120 }),
  });
  if (!response.ok) {
    results.set(kioskId, { text: "送信できませんでした", title: String(response.status) });
    refresh();
    return;
  }
  let command = await response.json();
  while (!FINAL.has(command.state)) {
    results.set(kioskId, describe(command));
    refresh();
    await new Promise((resolve) => setTimeout(resolve, 700));
    const poll = await fetch(`/api/commands/${command.command_id}`, { credentials: "same-origin" });
    if (!poll.ok) break;
    command = await poll.json();
  }
  results.set(kioskId, describe(command));
  refresh();
}

table.addEventListener("click", (event) => {
  const button = event.target.closest("button.self-test");
  if (button) selfTest(button.dataset.kiosk);
});

refresh();
setInterval(refresh, 3000);
