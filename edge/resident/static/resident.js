// The resident screen: shows the kiosk agent's view and sends touches. No keyboard input,
// nothing typed, nothing stored: the agent owns the state.
"use strict";

const cache = {};
let socket = null;
let view = null;

async function texts(language) {
  if (!cache[language]) {
    const [own, fallback] = await Promise.all([
      fetch(`/i18n/${language}.json`).then((r) => r.json()),
      language === "ja" ? Promise.resolve({}) : fetch("/i18n/en.json").then((r) => r.json()),
    ]);
    cache[language] = Object.assign({}, fallback, own);
  }
  return cache[language];
}

function fill(template, values) {
  return template.replace(/\{(\w+)\}/g, (_, key) => (values[key] ?? ""));
}

async function render() {
  if (!view) return;
  const t = await texts(view.language);
  document.documentElement.lang = view.language;
  const values = {
    terms: view.terms_version,
    privacy: view.privacy_version,
    position: view.queue_position ?? "",
    minutes: view.estimated_wait_s == null ? "" : Math.max(1, Math.ceil(view.estimated_wait_s / 60)),
    operator: view.operator_name ?? "",
  };
  for (const element of document.querySelectorAll("[data-text]")) {
    element.textContent = fill(t[element.dataset.text] ?? element.dataset.text, values);
  }
  for (const section of document.querySelectorAll(".screen")) {
    section.classList.toggle("active", section.id === view.screen);
  }
  document.getElementById("queue-position").textContent =
    view.queue_position == null ? t["waiting.checking"] : fill(t["waiting.position"], values);
  document.getElementById("estimated-wait").textContent =
    view.estimated_wait_s == null ? "" : fill(t["waiting.eta"], values);
  document.getElementById("support-coming").hidden = !view.support_coming;
  document.getElementById("operator-control").hidden = !view.operator_control;
  document.getElementById("pin-protected").hidden = !view.pin_protected;
  document.getElementById("connecting-title").textContent = fill(t["connecting.title"], values);
  document.getElementById("operator-banner").textContent = fill(t["in_call.banner"], values);
  const counter = view.referral_counter ? t[`referral.counter.${view.referral_counter}`] : "";
  document.getElementById("referral-counter").textContent = counter;
  const endedReferral = document.getElementById("ended-referral");
  endedReferral.textContent = counter;
  endedReferral.hidden = !counter;
  for (const button of document.querySelectorAll("[data-language]")) {
    button.classList.toggle("current", button.dataset.language === view.language);
  }
}

function send(message) {
  if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
}

function connect() {
  socket = new WebSocket(`ws://${location.host}/ws`);
  socket.onmessage = (event) => {
    view = JSON.parse(event.data);
    render();
  };
  socket.onclose = () => setTimeout(connect, 1000);
}

document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-action]");
  if (!button) return;
  const message = { action: button.dataset.action };
  if (button.dataset.accepted) message.accepted = button.dataset.accepted === "true";
  if (button.dataset.language) message.language = button.dataset.language;
  send(message);
});
// Touch only: no text selection, no context menu, no keyboard shortcuts reach the page.
document.addEventListener("contextmenu", (event) => event.preventDefault());
connect();
