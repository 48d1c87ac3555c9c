// A third party in a call (interpreter, family member): audio and video with the operator,
// who forwards the resident's camera and voice. The invite link is the only credential.
"use strict";

const guest = (window.madoguchiGuest = { pc: null, socket: null });
const status = (text) => { document.getElementById("guest-status").textContent = text; };

function gathered(pc) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    pc.addEventListener("icegatheringstatechange", () => { if (pc.iceGatheringState === "complete") resolve(); });
    setTimeout(resolve, 3000);
  });
}

async function answer(sdp) {
  const pc = new RTCPeerConnection();
  guest.pc = pc;
  let audioSlot = 0;
  pc.ontrack = (event) => {
    const kind = event.track.kind;
    const videos = pc.getTransceivers().filter((t) => t.receiver.track.kind === "video")
      .map((t) => Number(t.mid)).sort((a, b) => a - b);
    if (kind === "video") {
      // The operator adds their own camera first, then the resident's.
      const id = Number(event.transceiver.mid) === videos[0] ? "operator-video" : "resident-video";
      document.getElementById(id).srcObject = new MediaStream([event.track]);
    } else {
      const id = audioSlot++ === 0 ? "call-audio" : "call-audio-2";
      document.getElementById(id).srcObject = new MediaStream([event.track]);
    }
  };
  pc.onconnectionstatechange = () => { if (pc.connectionState === "connected") status("通話中"); };
  await pc.setRemoteDescription({ type: "offer", sdp });
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
  } catch (error) {
    stream = new MediaStream();
    status("カメラ・マイクが使えません（視聴のみ）");
  }
  for (const track of stream.getTracks()) pc.addTrack(track, stream);
  await pc.setLocalDescription(await pc.createAnswer());
  await gathered(pc);
  guest.socket.send(JSON.stringify({ type: "answer", sdp: pc.localDescription.sdp }));
}

function connect() {
  const token = location.pathname.split("/").pop();
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}/ws/guest/${token}`);
  guest.socket = socket;
  socket.onmessage = (event) => {
    const message = JSON.parse(event.data);
    if (message.type === "offer") answer(message.sdp).catch((e) => status(`接続に失敗しました: ${e}`));
    else if (message.type === "ended") { status("通話は終了しました"); if (guest.pc) guest.pc.close(); }
  };
  let opened = false;
  socket.onopen = () => { opened = true; status("オペレーターの応答を待っています…"); };
  socket.onclose = () => {
    // Refused at the handshake: the server tells no more than that the link is not valid.
    if (!opened) status("この招待リンクは使用済みか、有効期限が切れています");
  };
}

guest.stats = async () => {
  if (!guest.pc) return null;
  const inbound = [];
  (await guest.pc.getStats()).forEach((s) => {
    if (s.type === "inbound-rtp") inbound.push({ kind: s.kind, framesDecoded: s.framesDecoded ?? 0, totalSamplesReceived: s.totalSamplesReceived ?? 0 });
  });
  return { connectionState: guest.pc.connectionState, inbound };
};

connect();
