"""Graceful shutdown seen from outside: a long completion runs, the server gets SIGTERM, new
requests get 503 while the running one goes on to its end, then the server exits.

Run as its own process (not from inside the test runner's tasks, which other tests can hold up
for seconds: long enough for the running request to end before the first probe, after which the
server has rightly closed). Usage: drain_on_sigterm.py HOST PORT SERVER_PID MAX_TOKENS.
Prints "ok" and exits 0 when every check held."""
import asyncio
import json
import os
import signal
import sys

from raw_http import request

host, port, pid, max_tokens = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])


async def main():
    running = asyncio.create_task(request(host, port, "POST", "/v1/completions",
                                          {"prompt": "Once upon a time", "ignore_eos": True, "max_tokens": max_tokens}))
    # Generating has begun once the engine counts a generated token (no fixed wait).
    while True:
        _, body = await request(host, port, "GET", "/engine/stats")
        if json.loads(body).get("generation_tokens", 0) > 0:
            break
        if running.done():
            sys.exit(f"the long request ended before generating: {running.result()}")
        await asyncio.sleep(0.02)
    os.kill(pid, signal.SIGTERM)
    probes, refused = 0, None
    while refused is None and not running.done():
        status, body = await request(host, port, "POST", "/v1/completions", {"prompt": "Hi", "max_tokens": 1})
        probes += 1
        if status == 503:
            refused = json.loads(body)
    still_running = refused is not None
    status, body = await running
    out = json.loads(body)
    choice = out["choices"][0]
    problems = []
    if not still_running:
        problems.append(f"the long request ended before a new one was refused ({probes} probes)")
    elif refused.get("error", {}).get("type") != "server_overloaded":
        problems.append(f"refusal not in OpenAI's shape: {refused}")
    if status != 200 or choice["finish_reason"] != "length" or out["usage"]["completion_tokens"] != max_tokens:
        problems.append(f"the running request did not finish whole: {status} {choice['finish_reason']} {out['usage']}")
    print(f"refused after {probes} probes; running request: {choice['finish_reason']}, {out['usage']['completion_tokens']} tokens")
    print("\n".join(problems) if problems else "ok")
    sys.exit(1 if problems else 0)


asyncio.run(main())
