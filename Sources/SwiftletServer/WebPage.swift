/// The page served at `/`: a chat that streams replies from /v1/chat/completions, and a live map of
/// the KV block pool with the engine's counters, polled from /engine/blocks.
///
/// Everything is inline (no scripts, styles or fonts from elsewhere), so it works offline.
enum WebPage {
    static let html = #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Swiftlet</title>
<style>
  :root { --bg:#f6f7f9; --panel:#fff; --ink:#1d2330; --muted:#6b7280; --line:#e3e6eb; --accent:#2f6fdf; }
  * { box-sizing: border-box; }
  body { margin:0; font:14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; background:var(--bg); color:var(--ink); }
  header { padding:10px 18px; background:#1d2330; color:#fff; display:flex; gap:16px; align-items:baseline; }
  header h1 { margin:0; font-size:18px; }
  header span { color:#aab3c5; font-size:13px; }
  main { display:grid; grid-template-columns: minmax(320px, 1fr) minmax(360px, 1.1fr); gap:14px; padding:14px; }
  section { background:var(--panel); border:1px solid var(--line); border-radius:8px; padding:12px; min-width:0; }
  h2 { margin:0 0 8px; font-size:15px; }
  #log { height:420px; overflow-y:auto; border:1px solid var(--line); border-radius:6px; padding:8px; background:#fbfcfd; }
  .msg { margin:6px 0; padding:7px 10px; border-radius:8px; white-space:pre-wrap; word-wrap:break-word; }
  .user { background:#e7efff; margin-left:40px; }
  .assistant { background:#f0f2f5; margin-right:40px; }
  .meta { color:var(--muted); font-size:12px; margin-top:2px; }
  form { display:flex; gap:8px; margin-top:8px; }
  #prompt { flex:1; padding:8px; border:1px solid var(--line); border-radius:6px; font:inherit; }
  button { padding:8px 14px; border:0; border-radius:6px; background:var(--accent); color:#fff; font:inherit; cursor:pointer; }
  button:disabled { background:#9db5e6; }
  .opts { display:flex; gap:12px; margin-top:6px; color:var(--muted); font-size:12px; align-items:center; flex-wrap:wrap; }
  .opts input { width:70px; }
  #map { width:100%; border:1px solid var(--line); border-radius:6px; background:#fff; image-rendering:pixelated; }
  .legend { display:flex; gap:14px; flex-wrap:wrap; font-size:12px; color:var(--muted); margin:6px 0; }
  .sw { display:inline-block; width:11px; height:11px; border-radius:2px; vertical-align:-1px; margin-right:4px; }
  table { border-collapse:collapse; width:100%; font-size:12.5px; margin-top:6px; }
  td { padding:2px 6px; border-bottom:1px solid var(--line); }
  td.v { text-align:right; font-variant-numeric:tabular-nums; }
  #owners { font-size:12px; color:var(--muted); margin-top:4px; min-height:1.4em; }
</style>
</head>
<body>
<header><h1>Swiftlet</h1><span id="model">loading…</span></header>
<main>
<section>
  <h2>Chat</h2>
  <div id="log"></div>
  <form id="form">
    <input id="prompt" autocomplete="off" placeholder="Say something…" autofocus>
    <button id="send" type="submit">Send</button>
  </form>
  <div class="opts">
    <label>max tokens <input id="maxTokens" type="number" min="1" value="128"></label>
    <label>temperature <input id="temperature" type="number" min="0" step="0.1" value="0.7"></label>
    <label>API key <input id="apiKey" type="password" style="width:120px"></label>
  </div>
</section>
<section>
  <h2>KV cache blocks</h2>
  <div class="legend">
    <span><i class="sw" style="background:hsl(210,70%,55%)"></i>held by a request (one colour each)</span>
    <span><i class="sw" style="background:hsl(210,70%,55%);outline:3px solid #111;outline-offset:-3px"></i>shared (dark frame)</span>
    <span><i class="sw" style="background:#b7e4c7"></i>prefix-cached</span>
    <span><i class="sw" style="background:#e9ecef"></i>free</span>
  </div>
  <canvas id="map" width="640" height="320"></canvas>
  <div id="owners"></div>
  <table id="stats"></table>
</section>
</main>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
const messages = [];
let modelName = null;

$("apiKey").value = localStorage.getItem("swiftletKey") || "";
$("apiKey").addEventListener("change", () => localStorage.setItem("swiftletKey", $("apiKey").value));

function headers() {
  const h = { "Content-Type": "application/json" };
  if ($("apiKey").value) h["Authorization"] = "Bearer " + $("apiKey").value;
  return h;
}

async function loadModel() {
  try {
    const r = await fetch("/v1/models", { headers: headers() });
    const j = await r.json();
    if (j.data && j.data.length) {
      modelName = j.data[0].id;
      $("model").textContent = modelName + " · max " + j.data[0].max_model_len + " tokens";
    } else {
      $("model").textContent = (j.error && j.error.message) || "no model";
    }
  } catch (e) { $("model").textContent = "server unreachable"; }
}

function addMessage(role, text) {
  const div = document.createElement("div");
  div.className = "msg " + role;
  div.textContent = text;
  $("log").appendChild(div);
  $("log").scrollTop = $("log").scrollHeight;
  return div;
}

$("form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const text = $("prompt").value.trim();
  if (!text) return;
  $("prompt").value = "";
  $("send").disabled = true;
  messages.push({ role: "user", content: text });
  addMessage("user", text);
  const out = addMessage("assistant", "");
  const meta = document.createElement("div");
  meta.className = "meta";
  let reply = "", tokens = 0, first = null;
  const start = performance.now();
  try {
    const body = {
      model: modelName, messages, stream: true, stream_options: { include_usage: true },
      max_tokens: parseInt($("maxTokens").value, 10) || 128,
      temperature: parseFloat($("temperature").value) || 0,
    };
    const r = await fetch("/v1/chat/completions", { method: "POST", headers: headers(), body: JSON.stringify(body) });
    if (!r.ok) {
      const j = await r.json().catch(() => ({}));
      throw new Error((j.error && j.error.message) || ("HTTP " + r.status));
    }
    const reader = r.body.getReader();
    const decoder = new TextDecoder();
    let buf = "", finish = null;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buf.indexOf("\n\n")) >= 0) {
        const event = buf.slice(0, cut);
        buf = buf.slice(cut + 2);
        if (!event.startsWith("data: ")) continue;
        const data = event.slice(6);
        if (data === "[DONE]") continue;
        const chunk = JSON.parse(data);
        if (chunk.usage) tokens = chunk.usage.completion_tokens;
        for (const c of chunk.choices || []) {
          if (c.delta && c.delta.content) {
            if (first === null) first = performance.now();
            reply += c.delta.content;
            out.textContent = reply;
            $("log").scrollTop = $("log").scrollHeight;
          }
          if (c.finish_reason) finish = c.finish_reason;
        }
      }
    }
    messages.push({ role: "assistant", content: reply });
    const secs = (performance.now() - start) / 1000;
    meta.textContent = tokens + " tokens · first token " + (first ? ((first - start) / 1000).toFixed(2) + " s" : "–") +
      " · " + secs.toFixed(2) + " s · finish: " + finish;
  } catch (e) {
    meta.textContent = "error: " + e.message;
    messages.pop();
  }
  out.appendChild(meta);
  $("send").disabled = false;
  $("prompt").focus();
});

// Hues spread by the golden angle, so requests that run together get clearly different colours.
const hues = new Map();
let nextHue = 0;
function ownerColour(id) {
  if (!hues.has(id)) { hues.set(id, (nextHue * 137.5) % 360); nextHue++; if (hues.size > 512) hues.clear(); }
  return "hsl(" + hues.get(id).toFixed(0) + ",70%,52%)";
}

const labels = [
  ["num_requests_running", "requests running"], ["num_requests_waiting", "requests waiting"],
  ["num_requests_swapped", "requests swapped"], ["num_requests_finished", "requests finished"],
  ["kv_blocks_used", "blocks used"], ["kv_blocks_cached", "blocks prefix-cached"], ["kv_blocks_free", "blocks free"],
  ["kv_blocks_total", "blocks total"], ["prefix_cache_hits", "prefix-cache hits (tokens)"],
  ["prefix_cache_queries", "prefix-cache queries (tokens)"], ["preemptions", "preemptions"],
  ["prompt_tokens", "prompt tokens computed"], ["generation_tokens", "tokens generated"], ["steps", "engine steps"],
];

function drawMap(m) {
  const canvas = $("map");
  const n = m.states.length;
  const width = canvas.clientWidth || 640;
  const cols = Math.max(8, Math.ceil(Math.sqrt(n * 2)));
  const size = Math.max(3, Math.floor(width / cols));
  const rows = Math.ceil(n / cols);
  canvas.width = cols * size;
  canvas.height = Math.max(rows * size, size);
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  for (let b = 0; b < n; b++) {
    const s = m.states[b];
    let colour = "#e9ecef";
    if (s === 3) colour = "#b7e4c7";
    else if (s === 1 || s === 2) colour = m.owners[b] >= 0 ? ownerColour(m.requests[m.owners[b]]) : "#adb5bd";
    const x = (b % cols) * size, y = Math.floor(b / cols) * size, w = size - (size > 4 ? 1 : 0);
    if (s === 2) {
      // Shared: a dark frame around the colour of the first request holding it.
      const f = Math.max(1, Math.floor(size / 6));
      ctx.fillStyle = "#111";
      ctx.fillRect(x, y, w, w);
      ctx.fillStyle = colour;
      ctx.fillRect(x + f, y + f, w - 2 * f, w - 2 * f);
    } else {
      ctx.fillStyle = colour;
      ctx.fillRect(x, y, w, w);
    }
  }
  $("owners").textContent = m.requests.length
    ? m.requests.length + " running request(s), " + m.block_size + " tokens per block"
    : "idle · " + m.block_size + " tokens per block";
  const t = $("stats");
  t.innerHTML = "";
  for (const [key, label] of labels) {
    const tr = document.createElement("tr");
    const a = document.createElement("td"), v = document.createElement("td");
    a.textContent = label; v.textContent = m.stats[key]; v.className = "v";
    tr.append(a, v); t.appendChild(tr);
  }
}

async function poll() {
  try {
    const r = await fetch("/engine/blocks");
    if (r.ok) drawMap(await r.json());
  } catch (e) {}
  setTimeout(poll, 300);
}

// A link can carry a first message: /?ask=Hello sends it once the page is up.
const ask = new URLSearchParams(location.search).get("ask");
loadModel().then(() => {
  if (ask) { $("prompt").value = ask; $("form").requestSubmit(); }
});
poll();
</script>
</body>
</html>
"""#
}
