// The operator console: presence, the queue, the call (WebRTC answerer) and the outcome form.
// The kiosk offers (camera, screen, audio, data channel); this page answers with the
// operator's camera and microphone. Signaling goes through the control plane's WebSocket.
"use strict";

const PRESENCE_LABELS = {
  available: "受付中", ringing: "着信中", in_call: "通話中", wrap_up: "後処理中",
  away: "離席中", offline: "未接続",
};
const $ = (id) => document.getElementById(id);

const madoguchi = (window.madoguchi = {
  socket: null, iceServers: [], state: null, pc: null, channel: null,
  localStream: null, answered: new Set(), callId: null, results: [],
  timeline: {},  // performance.now() marks of the last call's set-up (for the call benchmark)
  guestPc: null, mixer: null,
});

function send(message) {
  if (madoguchi.socket && madoguchi.socket.readyState === WebSocket.OPEN) {
    madoguchi.socket.send(JSON.stringify(message));
  }
}

async function localMedia() {
  if (madoguchi.localStream) return madoguchi.localStream;
  try {
    madoguchi.localStream = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
  } catch (error) {
    $("console-error").textContent = "カメラ・マイクが使えません（受信のみで通話します）";
    madoguchi.localStream = new MediaStream();
  }
  return madoguchi.localStream;
}

function waitForGathering(pc, timeoutMs) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => { if (pc.iceGatheringState === "complete") resolve(); };
    pc.addEventListener("icegatheringstatechange", done);
    setTimeout(resolve, timeoutMs);
  });
}

async function answer(call) {
  madoguchi.timeline.offer = performance.now();
  madoguchi.answered.add(call.call_id);
  closePeer();
  const pc = new RTCPeerConnection({ iceServers: madoguchi.iceServers });
  madoguchi.pc = pc;
  madoguchi.callId = call.call_id;
  pc.ontrack = (event) => {
    const mid = Number(event.transceiver.mid);
    if (event.track.kind === "audio") {
      $("resident-audio").srcObject = new MediaStream([event.track]);
      return;
    }
    // The kiosk adds the camera before the screen, so the camera has the lower mid.
    const videos = pc.getTransceivers().filter((t) => t.receiver.track.kind === "video")
      .map((t) => Number(t.mid)).sort((a, b) => a - b);
    const target = mid === videos[0] ? "resident-camera" : "kiosk-screen";
    $(target).srcObject = new MediaStream([event.track]);
    if (target === "resident-camera") {
      $(target).requestVideoFrameCallback(() => { madoguchi.timeline.firstFrame = performance.now(); });
    }
  };
  pc.ondatachannel = (event) => {
    madoguchi.channel = event.channel;
    event.channel.onmessage = (message) => madoguchi.onKioskEvent(JSON.parse(message.data));
  };
  pc.onconnectionstatechange = () => {
    $("call-state").textContent = pc.connectionState;
    if (pc.connectionState === "connected") madoguchi.timeline.connected = performance.now();
  };
  await pc.setRemoteDescription({ type: "offer", sdp: call.offer });
  const stream = await localMedia();
  for (const track of stream.getTracks()) pc.addTrack(track, stream);
  await pc.setLocalDescription(await pc.createAnswer());
  madoguchi.timeline.answerCreated = performance.now();
  await waitForGathering(pc, 3000);
  madoguchi.timeline.answerSent = performance.now();
  send({ type: "answer", call_id: call.call_id, sdp: pc.localDescription.sdp });
}

// --- a third party (interpreter, family member) ---------------------------------------------
// The guest connects to this browser only: it forwards the resident's camera and voice to
// the guest and mixes the guest's voice into what the kiosk hears. The kiosk encodes once.

function kioskAudioSender() {
  return madoguchi.pc && madoguchi.pc.getSenders().find((s) => s.track && s.track.kind === "audio");
}

function residentTracks() {
  if (!madoguchi.pc) return [];
  const receivers = madoguchi.pc.getTransceivers()
    .filter((t) => t.receiver.track && (t.currentDirection === "sendrecv" || t.currentDirection === "recvonly"))
    .sort((a, b) => Number(a.mid) - Number(b.mid));
  const video = receivers.find((t) => t.receiver.track.kind === "video");
  const audio = receivers.find((t) => t.receiver.track.kind === "audio");
  return [video, audio].filter(Boolean).map((t) => t.receiver.track);
}

async function startGuest(callId) {
  closeGuest();
  const pc = new RTCPeerConnection({ iceServers: madoguchi.iceServers });
  madoguchi.guestPc = pc;
  const stream = await localMedia();
  // Order matters to the guest's page: the operator's camera, then the resident's.
  for (const track of stream.getVideoTracks()) pc.addTrack(track, stream);
  for (const track of stream.getAudioTracks()) pc.addTrack(track, stream);
  const forwarded = new MediaStream(residentTracks());
  for (const track of forwarded.getTracks()) pc.addTrack(track, forwarded);
  pc.ontrack = (event) => {
    if (event.track.kind === "video") {
      $("guest-video").srcObject = new MediaStream([event.track]);
      $("guest-panel").hidden = false;
    } else {
      $("guest-audio").srcObject = new MediaStream([event.track]);
      mixGuestIntoKiosk(event.track);
    }
  };
  await pc.setLocalDescription(await pc.createOffer());
  await waitForGathering(pc, 3000);
  send({ type: "guest_offer", call_id: callId, sdp: pc.localDescription.sdp });
}

function mixGuestIntoKiosk(guestAudio) {
  const sender = kioskAudioSender();
  const mic = madoguchi.localStream && madoguchi.localStream.getAudioTracks()[0];
  if (!sender || !mic) return;
  const context = new AudioContext();
  const destination = context.createMediaStreamDestination();
  context.createMediaStreamSource(new MediaStream([mic])).connect(destination);
  context.createMediaStreamSource(new MediaStream([guestAudio])).connect(destination);
  madoguchi.mixer = { context, mic };
  sender.replaceTrack(destination.stream.getAudioTracks()[0]);
}

function closeGuest() {
  if (madoguchi.guestPc) madoguchi.guestPc.close();
  madoguchi.guestPc = null;
  if (madoguchi.mixer) {
    const sender = kioskAudioSender();
    if (sender) sender.replaceTrack(madoguchi.mixer.mic);
    madoguchi.mixer.context.close();
    madoguchi.mixer = null;
  }
  $("guest-panel").hidden = true;
  $("guest-video").srcObject = null;
  $("guest-audio").srcObject = null;
}

function onGuestSignal(message) {
  if (message.kind === "joined") {
    startGuest(message.call_id).catch((error) => { $("console-error").textContent = `参加者と接続できません: ${error}`; });
  } else if (message.kind === "answer" && madoguchi.guestPc) {
    madoguchi.guestPc.setRemoteDescription({ type: "answer", sdp: message.sdp });
  } else if (message.kind === "left") {
    closeGuest();
  }
}

function closePeer() {
  closeGuest();
  $("invite-panel").hidden = true;
  if (madoguchi.pc) madoguchi.pc.close();
  madoguchi.pc = null;
  madoguchi.channel = null;
  madoguchi.resetTools();
  for (const id of ["resident-camera", "kiosk-screen", "resident-audio"]) $(id).srcObject = null;
}

function waitingTime(iso) {
  const seconds = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  return `${Math.floor(seconds / 60)}分${String(seconds % 60).padStart(2, "0")}秒`;
}

function renderQueue(state) {
  const body = $("queue").querySelector("tbody");
  body.replaceChildren();
  const canAccept = state.presence === "available" || state.presence === "ringing";
  for (const item of state.queue) {
    const row = body.insertRow();
    row.dataset.callId = item.call_id;
    const label = item.ringing_here ? "着信中（あなた）" : item.state === "ringing" ? "呼出中" : "待機";
    for (const text of [item.position, item.kiosk_id, item.site_id, waitingTime(item.requested_at), label]) {
      row.insertCell().textContent = text;
    }
    const cell = row.insertCell();
    if (canAccept && (item.state === "queued" || item.ringing_here)) {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = "応答";
      button.className = item.ringing_here ? "ringing" : "";
      button.addEventListener("click", () => {
        madoguchi.timeline = { accepted: performance.now() };
        send({ type: "accept", call_id: item.call_id });
      });
      cell.append(button);
    }
  }
  $("queue-empty").hidden = state.queue.length > 0;
}

const END_REASON_LABELS = {
  operator_hung_up: "オペレーターが終了",
  resident_hung_up: "住民が終了",
  abandoned: "住民が取り消し",
  kiosk_offline: "端末との通信が切れました（ネットワーク）",
  operator_disconnected: "コンソールの接続が切れました",
};

function renderTraining(state) {
  // 研修: the whole console says so while in training mode or on a training call.
  const training = Boolean(state.training || (state.call && state.call.training));
  $("training-banner").hidden = !training;
  document.body.classList.toggle("training", training);
  $("training-mode").checked = Boolean(state.training);
}

function render(state) {
  madoguchi.state = state;
  renderTraining(state);
  const presence = $("presence");
  presence.textContent = PRESENCE_LABELS[state.presence] ?? state.presence;
  presence.dataset.status = state.presence;
  renderQueue(state);
  const call = state.call;
  const inCall = call && call.state === "connected";
  $("call-panel").hidden = !inCall;
  if (inCall) {
    $("call-kiosk").textContent = `${call.kiosk_id}（${call.site_id}）`;
    if (call.offer && !madoguchi.answered.has(call.call_id)) {
      answer(call).catch((error) => { $("console-error").textContent = `接続に失敗しました: ${error}`; });
    }
  } else if (madoguchi.pc && (!call || call.call_id !== madoguchi.callId || call.state === "ended")) {
    closePeer();
  }
  $("outcome-panel").hidden = !(call && call.needs_outcome);
  if (call && call.end_reason) $("end-reason").textContent = END_REASON_LABELS[call.end_reason] ?? call.end_reason;
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}/ws/operator`);
  madoguchi.socket = socket;
  socket.onmessage = (event) => {
    const message = JSON.parse(event.data);
    if (message.type === "hello") madoguchi.iceServers = message.ice_servers;
    else if (message.type === "state") render(message);
    else if (message.type === "error") {
      $("console-error").textContent = message.detail;
      if (madoguchi.state) renderTraining(madoguchi.state); // a refused toggle springs back
    }
    else if (message.type === "invite") {
      $("invite-url").textContent = message.url;
      $("invite-panel").hidden = false;
    } else if (message.type === "guest") onGuestSignal(message);
  };
  socket.onclose = () => {
    $("presence").textContent = "再接続中…";
    setTimeout(connect, 2000);
  };
}

$("go-available").addEventListener("click", () => { $("console-error").textContent = ""; send({ type: "presence", status: "available" }); });
$("go-away").addEventListener("click", () => send({ type: "presence", status: "away" }));
$("training-mode").addEventListener("change", (event) => send({ type: "training", enabled: event.target.checked }));
$("hangup").addEventListener("click", () => {
  if (madoguchi.state && madoguchi.state.call) send({ type: "hangup", call_id: madoguchi.state.call.call_id });
});
$("invite").addEventListener("click", () => {
  if (madoguchi.state && madoguchi.state.call) send({ type: "invite", call_id: madoguchi.state.call.call_id });
});
$("mute").addEventListener("click", () => {
  const stream = madoguchi.localStream;
  if (!stream) return;
  const muted = $("mute").getAttribute("aria-pressed") === "true";
  for (const track of stream.getAudioTracks()) track.enabled = muted;
  $("mute").setAttribute("aria-pressed", String(!muted));
  $("mute").textContent = muted ? "ミュート" : "ミュート解除";
});
$("show-referral").addEventListener("click", () => {
  if (madoguchi.channel) madoguchi.channel.send(JSON.stringify({ type: "show_referral", counter: $("referral-counter").value }));
});
$("clear-referral").addEventListener("click", () => {
  if (madoguchi.channel) madoguchi.channel.send(JSON.stringify({ type: "clear_screen" }));
});
$("outcome-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  const message = {
    type: "outcome", call_id: madoguchi.state.call.call_id,
    procedure: form.get("procedure"), outcome: form.get("outcome"),
  };
  if (form.get("reason")) message.reason = form.get("reason");
  send(message);
});

// For tests and the call benchmark: what the browser decoded, from getStats().
madoguchi.stats = async () => {
  if (!madoguchi.pc) return null;
  const report = await madoguchi.pc.getStats();
  const inbound = [];
  report.forEach((stat) => {
    if (stat.type === "inbound-rtp") {
      inbound.push({
        kind: stat.kind, mid: stat.mid ?? null, framesDecoded: stat.framesDecoded ?? 0,
        packetsReceived: stat.packetsReceived ?? 0, totalSamplesReceived: stat.totalSamplesReceived ?? 0,
        audioLevel: stat.audioLevel ?? 0, frameWidth: stat.frameWidth ?? 0,
      });
    }
  });
  return { connectionState: madoguchi.pc.connectionState, inbound };
};

// Glass-to-glass latency of the camera track: the kiosk's test pattern stamps each frame
// with its capture time (ms mod 2^24, 24 blocks of 16 px, top-left, white = 1).
madoguchi.glassToGlass = (samples) => new Promise((resolve) => {
  const video = $("resident-camera");
  const canvas = document.createElement("canvas");
  const context = canvas.getContext("2d", { willReadFrequently: true });
  const latencies = [];
  const onFrame = () => {
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
    context.drawImage(video, 0, 0);
    const pixels = context.getImageData(0, 0, 24 * 16, 16).data;
    let value = 0;
    for (let bit = 0; bit < 24; bit++) {
      const offset = (8 * 24 * 16 + bit * 16 + 8) * 4;
      const luma = 0.299 * pixels[offset] + 0.587 * pixels[offset + 1] + 0.114 * pixels[offset + 2];
      value = value * 2 + (luma > 127 ? 1 : 0);
    }
    const now = Date.now() % 16777216;
    latencies.push((now - value + 16777216) % 16777216);
    if (latencies.length >= samples) resolve(latencies);
    else video.requestVideoFrameCallback(onFrame);
  };
  video.requestVideoFrameCallback(onFrame);
});

connect();
