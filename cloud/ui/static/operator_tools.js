// The operator's tools during a call, over the call's data channel (peer to peer, encrypted):
// the card reader's state, the PIN step, remote control of the kiosk screen, the face photo
// with live guidance, and the application form's ID. What arrives here (a photo, an
// application ID) stays in this page: it is never sent to the control plane.
"use strict";

(() => {
  const madoguchi = window.madoguchi;
  const $ = (id) => document.getElementById(id);
  const tools = (madoguchi.tools = { remote: false, pinGuard: false, photo: null, applicationId: null });

  function sendAction(action) {
    const channel = madoguchi.channel;
    if (!channel || channel.readyState !== "open") return false;
    channel.send(JSON.stringify(action));
    return true;
  }
  madoguchi.sendAction = sendAction;

  function setPressed(id, pressed, onLabel, offLabel) {
    $(id).setAttribute("aria-pressed", String(pressed));
    $(id).textContent = pressed ? onLabel : offLabel;
  }

  // --- what the kiosk sends -----------------------------------------------------------------

  function showPrivacy(event) {
    tools.pinGuard = event.pin_guard;
    tools.remote = event.remote_control;
    const parts = [];
    if (event.pin_guard) {
      parts.push(event.reasons.includes("tenkey")
        ? "住民が暗証番号を入力中です（端末画面は非表示、遠隔操作は停止）"
        : "暗証番号の入力段階です（端末画面は非表示、遠隔操作は停止）");
    }
    parts.push(event.remote_control ? "遠隔操作中" : "遠隔操作なし");
    $("privacy-state").textContent = parts.join("／");
    setPressed("pin-step", event.reasons.includes("operator"), "暗証番号の入力段階を終える", "暗証番号の入力段階にする");
    setPressed("remote-control", event.remote_control, "遠隔操作を終了", "遠隔操作を開始");
    $("kiosk-screen").classList.toggle("remote", event.remote_control && !event.pin_guard);
    $("remote-hint").hidden = !event.remote_control;
  }

  function showTries(id, tries) {
    const cell = $(id);
    cell.textContent = tries == null ? "—" : tries === 0 ? "ロック" : `残り${tries}回`;
    cell.classList.toggle("warn", tries != null && tries <= 1);
  }

  function showCard(event) {
    $("card-state").textContent = event.message_ja;
    showTries("card-user-auth", event.user_auth_pin_tries);
    showTries("card-input-support", event.input_support_pin_tries);
  }

  // The face outline over the camera video, where the kiosk found the face.
  function showGuidance(event) {
    $("photo-guidance").textContent = event.hints.map((hint) => hint.message_ja).join("／")
      || "撮影できます";
    const outline = $("face-outline");
    const video = $("resident-camera");
    if (!event.face || !video.videoWidth) { outline.hidden = true; return; }
    // The video keeps its aspect ratio inside the element (letterboxed).
    const box = video.getBoundingClientRect();
    const scale = Math.min(box.width / video.videoWidth, box.height / video.videoHeight);
    const shownWidth = video.videoWidth * scale, shownHeight = video.videoHeight * scale;
    const left = video.offsetLeft + (box.width - shownWidth) / 2;
    const top = video.offsetTop + (box.height - shownHeight) / 2;
    const face = event.face;  // crown to chin, cheek to cheek, as shares of the frame
    outline.style.left = `${left + face.x0 * shownWidth}px`;
    outline.style.top = `${top + face.y0 * shownHeight}px`;
    outline.style.width = `${(face.x1 - face.x0) * shownWidth}px`;
    outline.style.height = `${(face.y1 - face.y0) * shownHeight}px`;
    outline.classList.toggle("bad", !event.ok_to_capture);
    outline.hidden = false;
  }

  function showPhoto(event) {
    tools.photo = { captureId: event.capture_id, chunks: new Array(event.chunks), received: 0, report: event.report };
    $("photo-result").hidden = false;
    $("photo-verdict").textContent = event.report.ok ? "規格に適合しています" : "規格に適合しない点があります";
    const list = $("photo-problems");
    list.replaceChildren();
    for (const problem of event.report.problems) {
      const item = document.createElement("li");
      item.textContent = problem.message_ja;
      item.dataset.code = problem.code;
      list.append(item);
    }
    $("photo-image").hidden = true;
    $("photo-image").removeAttribute("src");
  }

  function addPhotoChunk(event) {
    const photo = tools.photo;
    if (!photo || photo.captureId !== event.capture_id || event.index >= photo.chunks.length) return;
    if (photo.chunks[event.index] === undefined) photo.received += 1;
    photo.chunks[event.index] = event.data;
    if (photo.received === photo.chunks.length) {
      $("photo-image").src = `data:image/jpeg;base64,${photo.chunks.join("")}`;
      $("photo-image").hidden = false;
    }
  }

  function showForm(event) {
    tools.applicationId = event.application_id;
    $("form-result").textContent = event.application_id
      ? event.application_id.replace(/(\d{4})(?=\d)/g, "$1 ")
      : event.message_ja;
    $("form-fill").disabled = !event.application_id;
  }

  const handlers = {
    privacy: showPrivacy,
    card_state: showCard,
    photo_guidance: showGuidance,
    photo_captured: showPhoto,
    photo_chunk: addPhotoChunk,
    form_result: showForm,
    result: (event) => {
      if (!event.ok && event.action !== "pointer") $("console-error").textContent = event.detail ?? "";
    },
  };

  madoguchi.onKioskEvent = (event) => {
    madoguchi.results.push(event);
    const handler = handlers[event.type];
    if (handler) handler(event);
  };

  madoguchi.resetTools = () => {
    Object.assign(tools, { remote: false, pinGuard: false, photo: null, applicationId: null });
    for (const id of ["privacy-state", "card-state", "card-user-auth", "card-input-support", "form-result"]) {
      $(id).textContent = "—";
    }
    $("photo-guidance").textContent = "";
    $("photo-result").hidden = true;
    $("face-outline").hidden = true;
    $("form-fill").disabled = true;
    setPressed("photo-preview", false, "撮影ガイドを止める", "撮影ガイドを表示");
    $("kiosk-screen").classList.remove("remote");
    $("remote-hint").hidden = true;
  };

  // --- what the operator does ---------------------------------------------------------------

  $("pin-step").addEventListener("click", () => {
    sendAction({ type: "pin_step", active: $("pin-step").getAttribute("aria-pressed") !== "true" });
  });
  $("remote-control").addEventListener("click", () => {
    sendAction({ type: "remote_control", enabled: !tools.remote });
  });
  $("card-check").addEventListener("click", () => sendAction({ type: "card_check" }));
  $("photo-preview").addEventListener("click", () => {
    const active = $("photo-preview").getAttribute("aria-pressed") !== "true";
    if (sendAction({ type: "photo_preview", active })) {
      setPressed("photo-preview", active, "撮影ガイドを止める", "撮影ガイドを表示");
      if (!active) { $("face-outline").hidden = true; $("photo-guidance").textContent = ""; }
    }
  });
  $("photo-capture").addEventListener("click", () => sendAction({ type: "photo_capture" }));
  $("form-scan").addEventListener("click", () => sendAction({ type: "form_scan" }));
  $("form-fill").addEventListener("click", () => sendAction({ type: "form_fill" }));

  // Remote control: the pointer on the kiosk-screen video, as fractions of the kiosk screen.
  const screen = $("kiosk-screen");
  function position(event) {
    const box = screen.getBoundingClientRect();
    if (!screen.videoWidth) return null;
    const scale = Math.min(box.width / screen.videoWidth, box.height / screen.videoHeight);
    const shownWidth = screen.videoWidth * scale, shownHeight = screen.videoHeight * scale;
    const x = (event.clientX - box.left - (box.width - shownWidth) / 2) / shownWidth;
    const y = (event.clientY - box.top - (box.height - shownHeight) / 2) / shownHeight;
    if (x < 0 || x > 1 || y < 0 || y > 1) return null;
    return { x, y };
  }
  const BUTTONS = ["left", "middle", "right"];
  let lastMove = 0;
  function pointer(action, event, extra = {}) {
    if (!tools.remote || tools.pinGuard) return;
    const at = position(event);
    if (!at) return;
    sendAction({ type: "pointer", action, x: at.x, y: at.y, ...extra });
  }
  screen.addEventListener("pointermove", (event) => {
    const now = performance.now();
    if (now - lastMove < 33) return;  // ~30 moves a second is plenty; the kiosk limits too
    lastMove = now;
    pointer("move", event);
  });
  screen.addEventListener("pointerdown", (event) => {
    screen.focus();
    pointer("down", event, { button: BUTTONS[event.button] ?? "left" });
  });
  screen.addEventListener("pointerup", (event) => pointer("up", event, { button: BUTTONS[event.button] ?? "left" }));
  screen.addEventListener("contextmenu", (event) => { if (tools.remote) event.preventDefault(); });
  screen.addEventListener("wheel", (event) => {
    if (!tools.remote) return;
    event.preventDefault();
    const steps = (delta) => Math.max(-10, Math.min(10, Math.round(delta / 100))) || Math.sign(delta);
    if (event.deltaX || event.deltaY) pointer("wheel", event, { dx: steps(event.deltaX), dy: steps(event.deltaY) });
  }, { passive: false });
  for (const kind of ["keydown", "keyup"]) {
    screen.addEventListener(kind, (event) => {
      if (!tools.remote || tools.pinGuard || event.isComposing) return;
      event.preventDefault();
      sendAction({
        type: "key", action: kind === "keydown" ? "down" : "up", key: event.key,
        ctrl: event.ctrlKey, alt: event.altKey, shift: event.shiftKey, meta: event.metaKey,
      });
    });
  }
})();
