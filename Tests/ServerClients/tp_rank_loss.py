"""A tensor-parallel rank killed mid-stream, seen from outside: the stream ends with finish_reason
"error" and an error event before [DONE], and /health then answers 503 in OpenAI's error shape.

Usage: tp_rank_loss.py HOST PORT RUN_DIR RANK (RUN_DIR holds rankN.pid files the ranks write).
Prints "ok" and exits 0 when every check held."""
import asyncio
import json
import os
import signal
import sys
import time

from raw_http import open_completion, read_until, request

host, port, run_dir, rank = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])


async def main():
    reader, writer = await open_completion(host, port, {"prompt": "Once upon a time", "max_tokens": 1500,
                                                        "ignore_eos": True, "stream": True})
    seen = await read_until(reader, b'"text":')
    if b'"text":' not in seen:
        sys.exit(f"the stream ended before generating: {seen[-300:]!r}")
    pid = int(open(os.path.join(run_dir, f"rank{rank}.pid")).read().split()[0])
    os.kill(pid, signal.SIGKILL)
    killed_at = time.time()
    # The connection stays open after [DONE] (keep-alive): the stream ends there.
    seen = await read_until(reader, b"data: [DONE]", seen)
    writer.close()
    text = seen.decode(errors="replace")
    status, body = await request(host, port, "GET", "/health")
    problems = []
    if '"finish_reason":"length"' in text:
        problems.append("the stream ran to its length")
    if '"finish_reason":"error"' not in text:
        problems.append("no finish_reason error in the stream")
    if '"type":"internal_server_error"' not in text or "data: [DONE]" not in text:
        problems.append(f"no error event before [DONE]: {text[-400:]!r}")
    if status != 503 or "error" not in json.loads(body):
        problems.append(f"/health answered {status} {body[:200]!r}")
    print(f"killed rank {rank} (pid {pid}) killed_at={killed_at:.3f}; /health {status}: {body[:200]!r}")
    print("\n".join(problems) if problems else "ok")
    sys.exit(1 if problems else 0)


asyncio.run(main())
