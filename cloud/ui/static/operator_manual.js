// The console's manual panel: the approved manual's script for the chosen procedure and the
// FAQ search. Only the version in force is shown (the call records the same version when it
// is accepted); the panel reloads it when a call starts.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const picker = $("manual-procedure");
  const steps = $("manual-steps");
  const version = $("manual-version");
  const results = $("faq-results");
  const query = $("faq-q");
  const outcomeProcedure = document.querySelector('#outcome-form select[name="procedure"]');
  let manual = null;

  function renderSteps() {
    steps.replaceChildren();
    if (!manual) return;
    const script = manual.scripts.find((s) => s.procedure === picker.value);
    for (const step of script ? script.steps : []) {
      const item = document.createElement("li");
      const title = document.createElement("strong");
      title.textContent = step.title;
      const body = document.createElement("p");
      body.textContent = step.body;
      item.append(title, body);
      steps.append(item);
    }
  }

  function renderFaq(hits) {
    results.replaceChildren();
    for (const hit of hits) {
      const question = document.createElement("dt");
      question.textContent = hit.question;
      const answer = document.createElement("dd");
      answer.textContent = hit.answer;
      results.append(question, answer);
    }
    if (!hits.length) {
      const none = document.createElement("dd");
      none.textContent = "該当する FAQ はありません。";
      results.append(none);
    }
  }

  async function load() {
    const response = await fetch("/api/manuals/current");
    if (!response.ok) {
      manual = null;
      version.textContent = response.status === 404 ? "承認されたマニュアルはまだありません" : "読み込めませんでした";
      renderSteps();
      return;
    }
    manual = await response.json();
    const approved = manual.approved_at ? `（${new Date(manual.approved_at).toLocaleDateString("ja-JP")} 市承認）` : "";
    version.textContent = `第${manual.number}版${approved}`;
    renderSteps();
    await search();
  }

  async function search() {
    if (!manual) return;
    const response = await fetch(`/api/manuals/current/faq?q=${encodeURIComponent(query.value.trim())}`);
    if (response.ok) renderFaq((await response.json()).hits);
  }

  picker.addEventListener("change", () => {
    if (outcomeProcedure) outcomeProcedure.value = picker.value;
    renderSteps();
  });
  if (outcomeProcedure) {
    outcomeProcedure.addEventListener("change", () => {
      picker.value = outcomeProcedure.value;
      renderSteps();
    });
  }
  $("faq-search").addEventListener("submit", (event) => {
    event.preventDefault();
    search();
  });
  let typing = null;
  query.addEventListener("input", () => {
    clearTimeout(typing);
    typing = setTimeout(search, 300);
  });
  // A call starting (the call panel shown): the version in force may have changed.
  const callPanel = $("call-panel");
  if (callPanel) {
    new MutationObserver(() => { if (!callPanel.hidden) load(); })
      .observe(callPanel, { attributes: true, attributeFilter: ["hidden"] });
  }
  load();
})();
