"""Opens non-streaming completions against a Swiftlet server and hangs up on all of them once
they are generating, before any answer is written. Checks that the server aborts them (they do
not run to their max_tokens), frees every KV block, and still answers.

    python3 nonstreaming_disconnects.py HOST PORT [CLIENTS] [MAX_TOKENS]
"""
import asyncio
import json
import sys
import time

import raw_http

host, port = sys.argv[1], int(sys.argv[2])
clients = int(sys.argv[3]) if len(sys.argv) > 3 else 8
max_tokens = int(sys.argv[4]) if len(sys.argv) > 4 else 1000


async def stats():
    _, payload = await raw_http.request(host, port, "GET", "/engine/stats")
    return json.loads(payload)


async def main():
    before = await stats()
    writers = []
    for i in range(clients):
        _, writer = await raw_http.open_completion(host, port, {
            "prompt": f"Once upon a time, client {i} met a", "max_tokens": max_tokens, "ignore_eos": True,
            "temperature": 0.8, "seed": i})
        writers.append(writer)
    # Hang up once all of them are generating, however long the machine takes to get there.
    deadline = time.time() + 600
    while time.time() < deadline:
        s = await stats()
        if s["num_requests_running"] == clients and s["generation_tokens"] > before["generation_tokens"]:
            break
        await asyncio.sleep(0.01)
    assert s["num_requests_running"] == clients, f"never saw all {clients} running: {s}"
    for w in writers:
        w.transport.abort()
    while time.time() < deadline:
        s = await stats()
        if s["num_requests_running"] == 0 and s["num_requests_waiting"] == 0:
            break
        await asyncio.sleep(0.01)
    generated = s["generation_tokens"] - before["generation_tokens"]
    print(f"{clients} non-streaming clients hung up: {generated} tokens generated of {clients * max_tokens} asked, "
          f"blocks used {s['kv_blocks_used']}, running {s['num_requests_running']}")
    assert s["num_requests_running"] == 0, s
    assert generated < clients * max_tokens, "the requests ran to their end after their clients left"
    assert s["kv_blocks_used"] == 0, s
    status, _ = await raw_http.request(host, port, "GET", "/health")
    assert status == 200
    print("ok")


asyncio.run(main())
