"""Clients whose requests are still queued when they hang up, streaming or not, by reset or by a
clean close: while one long request keeps the engine's only sequence slot, the queued ones must
be aborted within 1 s of their clients leaving (no write ever fails for a queued stream, so only
the connection watch can tell), and once the long one's client leaves too no block is held.

    python3 queued_hangups.py HOST PORT [CLIENTS]
"""
import asyncio
import json
import sys
import time

import raw_http

host, port = sys.argv[1], int(sys.argv[2])
clients = int(sys.argv[3]) if len(sys.argv) > 3 else 8


async def stats():
    _, payload = await raw_http.request(host, port, "GET", "/engine/stats")
    return json.loads(payload)


async def wait_for(condition, deadline, what):
    while True:
        s = await stats()
        if condition(s):
            return s
        assert time.monotonic() < deadline, f"{what}: {s}"
        await asyncio.sleep(0.005)


async def main():
    _, holder = await raw_http.open_completion(host, port, {
        "prompt": "Once upon a time", "max_tokens": 2000, "ignore_eos": True, "stream": True})
    await wait_for(lambda s: s["num_requests_running"] == 1, time.monotonic() + 600, "the long request never ran")
    writers = []
    for i in range(clients):
        _, w = await raw_http.open_completion(host, port, {
            "prompt": f"Client {i} once met a", "max_tokens": 50, "stream": i % 2 == 0})
        writers.append(w)
    await wait_for(lambda s: s["num_requests_waiting"] == clients, time.monotonic() + 600, "the clients never queued")
    for i, w in enumerate(writers):
        if i % 4 < 2:
            w.transport.abort()
        else:
            w.close()
    last = time.monotonic()
    s = await wait_for(lambda s: s["num_requests_waiting"] == 0, last + 1.0, "queued requests outlived their clients by 1 s")
    print(f"{clients} queued clients hung up: queue empty after {time.monotonic() - last:.3f} s, "
          f"the long request still running: {s['num_requests_running'] == 1}")
    assert s["num_requests_running"] == 1, "the long request ended too early for the check to mean anything"
    holder.transport.abort()
    last = time.monotonic()
    s = await wait_for(lambda s: s["kv_blocks_used"] == 0 and s["num_requests_running"] == 0, last + 1.0,
                       "blocks still held 1 s after the last client left")
    print(f"all blocks free {time.monotonic() - last:.3f} s after the long request's client left")
    status, _ = await raw_http.request(host, port, "GET", "/health")
    assert status == 200
    print("ok")


asyncio.run(main())
