// auricle web page: plain JS, no dependencies (works offline).
"use strict";
const $ = (id) => document.getElementById(id);
const state = { models: [], auth: false, live: null };

function token() { return $("token").value.trim(); }
function headers() { const t = token(); return t ? { Authorization: "Bearer " + t } : {}; }
function model() { return state.models.find((m) => m.name === $("model").value); }
function color(label) {
  let h = 0;
  for (const c of label) h = (h * 31 + c.charCodeAt(0)) % 360;
  return `hsl(${h}, 55%, 42%)`;
}
function setStatus(el, text, isError) { el.textContent = text; el.classList.toggle("error", !!isError); }
function errorText(body, status) {
  const e = body && body.error;
  return e ? `${e.message}${e.fix ? " (" + e.fix + ")" : ""} [${e.status} ${e.code}]` : `HTTP ${status}`;
}

async function loadModels() {
  const h = await (await fetch("/health")).json();
  state.auth = h.auth;
  $("token-box").hidden = !h.auth;
  const saved = localStorage.getItem("auricle-token");
  if (saved && !token()) $("token").value = saved;
  const r = await fetch("/v1/models", { headers: headers() });
  const body = await r.json();
  if (!r.ok) { setStatus($("status"), errorText(body, r.status), true); return; }
  state.models = body.models;
  $("model").innerHTML = "";
  for (const m of state.models) {
    const o = document.createElement("option");
    o.value = m.name; o.textContent = m.name;
    $("model").appendChild(o);
  }
  showInfo();
  document.body.dataset.ready = "1";
}
function showInfo() {
  const m = model();
  $("model-info").textContent = m ? `${m.labels.length} labels (${m.labels.slice(0, 6).join(", ")}${m.labels.length > 6 ? ", ..." : ""}), ${m.sample_rate} Hz, ${m.clip_seconds} s clips` : "";
}

// ---------------------------------------------------------------- predict
async function predict(blob, filename) {
  const m = model();
  if (!m) return;
  setStatus($("status"), `sending ${filename} (${(blob.size / 1024).toFixed(1)} kB)...`);
  const fd = new FormData();
  fd.append("file", blob, filename);
  const url = `/v1/models/${encodeURIComponent(m.name)}:predict?top_k=5&per_window=true&include=waveform,spectrogram`;
  let r, body;
  try {
    r = await fetch(url, { method: "POST", body: fd, headers: headers() });
    body = await r.json();
  } catch (err) { setStatus($("status"), "request failed: " + err, true); return; }
  if (!r.ok) { $("result").hidden = true; setStatus($("status"), errorText(body, r.status), true); return; }
  setStatus($("status"), `${filename}: ${body.seconds} s, ${body.n_windows} window(s), ${body.timing_ms.total} ms`);
  render(body);
}

function bars(el, rows) {
  el.innerHTML = "";
  for (const [label, p] of rows) {
    const name = document.createElement("span"); name.textContent = label;
    const bar = document.createElement("div"); bar.className = "bar";
    bar.setAttribute("role", "meter"); bar.setAttribute("aria-valuemin", "0"); bar.setAttribute("aria-valuemax", "1");
    bar.setAttribute("aria-valuenow", p.toFixed(3)); bar.setAttribute("aria-label", label);
    const fill = document.createElement("span"); fill.style.width = (100 * p).toFixed(1) + "%"; fill.style.background = color(label);
    bar.appendChild(fill);
    const pct = document.createElement("span"); pct.textContent = (100 * p).toFixed(1) + "%";
    el.append(name, bar, pct);
  }
}

function render(d) {
  $("result").hidden = false;
  $("top-label").textContent = d.label;
  $("top-prob").textContent = `(${(100 * d.probability).toFixed(1)}%)`;
  bars($("bars"), d.top.map((t) => [t.label, t.probability]));
  drawWave($("wave"), d.waveform);
  drawSpec($("spec"), d.spectrogram);
  const win = d.windows || [];
  $("timeline-box").hidden = win.length < 2;
  $("timeline").innerHTML = ""; $("windows").innerHTML = "";
  for (const w of win) {
    const s = document.createElement("span");
    s.style.background = color(w.label); s.textContent = w.label;
    s.title = `${w.start}-${w.end} s: ${w.label} ${(100 * w.probability).toFixed(0)}%`;
    $("timeline").appendChild(s);
    const li = document.createElement("li");
    li.textContent = `${w.start.toFixed(2)}-${w.end.toFixed(2)} s: ${w.label} ${(100 * w.probability).toFixed(0)}%`;
    $("windows").appendChild(li);
  }
}

function drawWave(cv, env) {
  const g = cv.getContext("2d"); g.clearRect(0, 0, cv.width, cv.height);
  if (!env) return;
  const n = env.columns, mid = cv.height / 2;
  let peak = 1e-6;
  for (let i = 0; i < n; i++) peak = Math.max(peak, Math.abs(env.min[i]), Math.abs(env.max[i]));
  g.fillStyle = "#1f6feb";
  for (let i = 0; i < n; i++) {
    const x = (i / n) * cv.width, w = Math.max(1, cv.width / n);
    const y0 = mid - (env.max[i] / peak) * mid * 0.95, y1 = mid - (env.min[i] / peak) * mid * 0.95;
    g.fillRect(x, y0, w, Math.max(1, y1 - y0));
  }
}

function drawSpec(cv, s) {
  const g = cv.getContext("2d"); g.clearRect(0, 0, cv.width, cv.height);
  if (!s) return;
  const raw = atob(s.data), T = s.frames, B = s.bins;
  const img = g.createImageData(T, B);
  for (let t = 0; t < T; t++) for (let b = 0; b < B; b++) {
    const v = raw.charCodeAt(t * B + b), i = ((B - 1 - b) * T + t) * 4;  // low bands at the bottom
    img.data[i] = Math.min(255, v * 1.2); img.data[i + 1] = Math.max(0, v - 90) * 1.5; img.data[i + 2] = 80 + v / 3; img.data[i + 3] = 255;
  }
  const tmp = document.createElement("canvas"); tmp.width = T; tmp.height = B;
  tmp.getContext("2d").putImageData(img, 0, 0);
  g.imageSmoothingEnabled = false;
  g.drawImage(tmp, 0, 0, cv.width, cv.height);
}

// ---------------------------------------------------------------- record (WAV encoded here)
function wav(samples, rate) {
  const buf = new ArrayBuffer(44 + samples.length * 2), v = new DataView(buf);
  const str = (o, s) => { for (let i = 0; i < s.length; i++) v.setUint8(o + i, s.charCodeAt(i)); };
  str(0, "RIFF"); v.setUint32(4, 36 + samples.length * 2, true); str(8, "WAVE"); str(12, "fmt ");
  v.setUint32(16, 16, true); v.setUint16(20, 1, true); v.setUint16(22, 1, true); v.setUint32(24, rate, true);
  v.setUint32(28, rate * 2, true); v.setUint16(32, 2, true); v.setUint16(34, 16, true); str(36, "data");
  v.setUint32(40, samples.length * 2, true);
  for (let i = 0; i < samples.length; i++) v.setInt16(44 + 2 * i, Math.max(-1, Math.min(1, samples[i])) * 32767, true);
  return new Blob([buf], { type: "audio/wav" });
}

async function openMic(rate) {
  const stream = await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false } });
  let ctx;
  try { ctx = new AudioContext(rate ? { sampleRate: rate } : {}); } catch (e) { ctx = new AudioContext(); }
  const src = ctx.createMediaStreamSource(stream);
  const proc = ctx.createScriptProcessor(2048, 1, 1);
  const mute = ctx.createGain(); mute.gain.value = 0;
  src.connect(proc); proc.connect(mute); mute.connect(ctx.destination);
  const close = () => { proc.disconnect(); src.disconnect(); stream.getTracks().forEach((t) => t.stop()); ctx.close(); };
  return { ctx, proc, close };
}

let rec = null;
async function toggleRecord() {
  const btn = $("record");
  if (rec) {
    const r = rec; rec = null;
    r.close(); btn.textContent = "Record"; btn.classList.remove("recording");
    const n = r.chunks.reduce((a, c) => a + c.length, 0), all = new Float32Array(n);
    let o = 0; for (const c of r.chunks) { all.set(c, o); o += c.length; }
    await predict(wav(all, r.rate), "recording.wav");
    return;
  }
  try {
    const mic = await openMic(null);
    rec = { ...mic, chunks: [], rate: mic.ctx.sampleRate };
    mic.proc.onaudioprocess = (e) => { if (rec) rec.chunks.push(new Float32Array(e.inputBuffer.getChannelData(0))); };
    btn.textContent = "Stop and predict"; btn.classList.add("recording");
    setStatus($("status"), "recording... press again to stop");
  } catch (err) { setStatus($("status"), "microphone unavailable: " + err, true); }
}

// ---------------------------------------------------------------- live (WebSocket)
async function toggleLive() {
  const btn = $("live");
  if (state.live) { stopLive("stopped"); return; }
  const m = model(); if (!m) return;
  let mic;
  try { mic = await openMic(m.sample_rate); } catch (err) { setStatus($("live-status"), "microphone unavailable: " + err, true); return; }
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  const q = new URLSearchParams({ rate: String(mic.ctx.sampleRate), encoding: "f32le", threshold: $("threshold").value });
  if (token()) q.set("token", token());
  const ws = new WebSocket(`${proto}//${location.host}/v1/models/${encodeURIComponent(m.name)}:stream?${q}`);
  ws.binaryType = "arraybuffer";
  state.live = { ws, mic };
  btn.textContent = "Stop live"; btn.setAttribute("aria-pressed", "true");
  $("events").innerHTML = "";
  ws.onopen = () => setStatus($("live-status"), `listening at ${mic.ctx.sampleRate} Hz...`);
  ws.onmessage = (e) => {
    const msg = JSON.parse(e.data);
    if (msg.type === "ready") document.body.dataset.live = "1";
    else if (msg.type === "scores") { bars($("live-bars"), msg.top); setStatus($("live-status"), `listening: ${msg.t.toFixed(1)} s`); }
    else if (msg.type === "event") {
      const li = document.createElement("li"); li.className = "event"; li.dataset.label = msg.label;
      li.innerHTML = `<span class="label" style="color:${color(msg.label)}"></span> at ${msg.start.toFixed(2)} s (score ${msg.score.toFixed(2)})`;
      li.querySelector(".label").textContent = msg.label;
      $("events").prepend(li);
    } else if (msg.type === "error") setStatus($("live-status"), errorText({ error: msg }, msg.status), true);
  };
  ws.onclose = (e) => { if (state.live && state.live.ws === ws) stopLive(e.code === 1000 ? "stream ended" : `connection closed (${e.code})`); };
  mic.proc.onaudioprocess = (e) => {
    if (ws.readyState === WebSocket.OPEN) ws.send(new Float32Array(e.inputBuffer.getChannelData(0)).buffer);
  };
}
function stopLive(why) {
  const l = state.live; state.live = null;
  if (!l) return;
  l.mic.close();
  if (l.ws.readyState === WebSocket.OPEN) l.ws.close(1000);
  $("live").textContent = "Start live"; $("live").setAttribute("aria-pressed", "false");
  setStatus($("live-status"), why || "");
}

// ---------------------------------------------------------------- wiring
$("file").addEventListener("change", () => { const f = $("file").files[0]; if (f) predict(f, f.name); });
const drop = $("drop");
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => { e.preventDefault(); drop.classList.remove("over"); const f = e.dataTransfer.files[0]; if (f) predict(f, f.name); });
drop.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); $("file").click(); } });
$("record").addEventListener("click", toggleRecord);
$("live").addEventListener("click", toggleLive);
$("model").addEventListener("change", showInfo);
$("token").addEventListener("change", () => { localStorage.setItem("auricle-token", token()); loadModels(); });
loadModels().catch((err) => setStatus($("status"), "could not reach the server: " + err, true));
