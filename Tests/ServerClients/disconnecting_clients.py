"""Opens many concurrent streaming completions against a Swiftlet server; half of the clients
hang up midway. Checks that the others complete and that afterwards the server is healthy and
its KV block pool is whole again (no block held by anyone), as /metrics reports it.

    python3 disconnecting_clients.py HOST PORT MODEL [CLIENTS] [MAX_TOKENS]
"""
import asyncio
import re
import sys
import time

import raw_http

host, port, model = sys.argv[1], int(sys.argv[2]), sys.argv[3]
clients = int(sys.argv[4]) if len(sys.argv) > 4 else 200
max_tokens = int(sys.argv[5]) if len(sys.argv) > 5 else 48


async def request(method, path, body=None):
    return await raw_http.request(host, port, method, path, body)


async def streaming_client(i, hang_up):
    """Returns (completed, chunks seen)."""
    reader, writer = await raw_http.open_completion(host, port, {
        "model": model, "prompt": f"Once upon a time, client {i} met a", "max_tokens": max_tokens,
        "temperature": 0.8, "seed": i, "ignore_eos": True, "stream": True})
    status = await reader.readline()
    assert b" 200 " in status, status
    while (await reader.readline()) not in (b"\r\n", b""):
        pass
    events, done, buf = 0, False, b""
    while not done:
        chunk = await reader.read(4096)
        if not chunk:
            break
        buf += chunk
        while b"\n\n" in buf:
            event, buf = buf.split(b"\n\n", 1)
            if b"data: [DONE]" in event:
                done = True
            elif b"data: {" in event:
                events += 1
        if hang_up and events >= 3:
            # Vanish without reading the rest, like a closed browser tab.
            writer.transport.abort()
            return False, events
    writer.close()
    return done, events


def metric(text, name):
    m = re.search(r"^" + re.escape(name) + r"(\{[^}]*\})? ([0-9.eE+-]+)$", text, re.M)
    assert m, f"{name} missing from /metrics"
    return float(m.group(2))


async def main():
    _, before = await request("GET", "/metrics")
    generated_before = metric(before.decode(), "swiftlet:generation_tokens_total")
    start = time.time()
    results = await asyncio.gather(*(streaming_client(i, hang_up=(i % 2 == 1)) for i in range(clients)),
                                   return_exceptions=True)
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, f"{len(errors)} clients failed, first: {errors[0]!r}"
    kept = [r for i, r in enumerate(results) if i % 2 == 0]
    left = [r for i, r in enumerate(results) if i % 2 == 1]
    assert all(done for done, _ in kept), f"{sum(not d for d, _ in kept)} staying clients did not complete"
    assert all(events >= 3 for _, events in left)
    status, _ = await request("GET", "/health")
    assert status == 200
    # The aborts land at the engine's next step; give it a moment when idle.
    for _ in range(50):
        status, payload = await request("GET", "/metrics")
        text = payload.decode()
        if metric(text, "swiftlet:kv_cache_blocks_used") == 0 and metric(text, "swiftlet:num_requests_running") == 0:
            break
        await asyncio.sleep(0.1)
    used = metric(text, "swiftlet:kv_cache_blocks_used")
    total = metric(text, "swiftlet:kv_cache_blocks_total")
    free = metric(text, "swiftlet:kv_cache_blocks_free")
    cached = metric(text, "swiftlet:kv_cache_blocks_cached")
    assert used == 0 and free + cached == total, (used, free, cached, total)
    assert metric(text, "swiftlet:num_requests_running") == 0 and metric(text, "swiftlet:num_requests_waiting") == 0
    # Every request ignores EOS, so only aborts can keep the total below clients * max_tokens.
    generated = metric(text, "swiftlet:generation_tokens_total") - generated_before
    assert generated < clients * max_tokens - (clients // 2) * (max_tokens // 2), generated
    aborted = metric(text, 'swiftlet:request_success_total{finished_reason="abort"}') if 'finished_reason="abort"' in text else 0
    print(f"{clients} clients in {time.time() - start:.1f} s: {len(kept)} completed, {len(left)} hung up "
          f"({int(aborted)} requests aborted, {int(generated)} tokens generated); blocks used {int(used)}, free {int(free)}, cached {int(cached)} of {int(total)}")


asyncio.run(main())
