#!/usr/bin/env bash
# Opens the server's page in headless Chromium (Debian's `chromium`), sends a chat message through
# it (/?ask=...) while other clients stream completions, and saves a screenshot showing the
# streamed reply and the live KV block map.
#   Tests/ServerClients/page_screenshot.sh OUTPUT.png [PORT]
set -euo pipefail
cd "$(dirname "$0")/../.."
out="$1"
port="${2:-8123}"
.build/release/swiftlet serve --port "$port" --kv-cache-memory 50000000 --swap-space 0 >/tmp/page-server.log 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true' EXIT
for _ in $(seq 60); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.5; done
# Background load, so the map shows several requests holding blocks (and sharing a prompt prefix).
python3 - "$port" <<'PY' &
import json, sys, threading, urllib.request
port = sys.argv[1]
def go(i):
    body = json.dumps({"prompt": "Paged attention stores the KV cache in fixed-size blocks. Story %d:" % (i % 3),
                       "max_tokens": 600, "temperature": 0.9, "seed": i, "ignore_eos": True, "n": 1 + i % 2}).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/completions", body, {"Content-Type": "application/json"})
    urllib.request.urlopen(req, timeout=120).read()
threads = [threading.Thread(target=go, args=(i,)) for i in range(10)]
for t in threads: t.start()
for t in threads: t.join()
PY
load=$!
sleep 1
ask="What%20is%20the%20capital%20of%20France%3F%20Answer%20in%20two%20sentences."
timeout 60 chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1400,820 \
    --virtual-time-budget=6000 --run-all-compositor-stages-before-draw \
    --screenshot="$out" "http://127.0.0.1:$port/?ask=$ask" 2>/dev/null
kill $load 2>/dev/null || true
echo "screenshot: $out"
