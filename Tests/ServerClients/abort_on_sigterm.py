"""SIGTERM without a shutdown timeout, seen from outside: a stream is generating when the server
gets the signal; the stream ends with finish_reason "abort" and [DONE], and the server exits.

Run as its own process, so that the signal follows the stream's first token within the client's
own scheduling: from inside the test runner's tasks, other tests can hold the signal back long
enough for the stream to end on its own. Usage: abort_on_sigterm.py HOST PORT SERVER_PID.
Prints "ok" and exits 0 when every check held."""
import asyncio
import os
import signal
import sys

from raw_http import open_completion, read_until

host, port, pid = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])


async def main():
    reader, writer = await open_completion(host, port, {"prompt": "Once upon a time", "ignore_eos": True,
                                                        "stream": True})
    # Generating has begun once an event with text has come (no fixed wait).
    seen = await read_until(reader, b'"text":')
    if b'"text":' not in seen:
        sys.exit(f"the stream ended before generating: {seen[-300:]!r}")
    os.kill(pid, signal.SIGTERM)
    seen = await read_until(reader, b"data: [DONE]", seen)
    writer.close()
    text = seen.decode(errors="replace")
    problems = []
    if '"finish_reason":"abort"' not in text:
        problems.append("no finish_reason abort in the stream")
    if '"finish_reason":"length"' in text:
        problems.append("the stream ran to its length before the signal")
    if "data: [DONE]" not in text:
        problems.append("the stream has no [DONE]")
    print(f"{text.count('data: ')} events; tail: {text[-200:]!r}")
    print("\n".join(problems) if problems else "ok")
    sys.exit(1 if problems else 0)


asyncio.run(main())
