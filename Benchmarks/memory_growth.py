#!/usr/bin/env python3
"""Resident memory of `swiftlet serve` over many distinct prompts: a leak check for everything a
request leaves behind (prefix cache, tokenizer caches, metrics, per-request and per-connection
state).

It starts the server (stories260K by default, a small KV cache so that the whole cache is in use
within the first prompts), sends FIRST distinct prompts, reads the server's resident set size
(VmRSS from /proc/PID/status), sends more up to TOTAL, reads it again, and reports the growth;
the RSS is also read after every STEP prompts. Prompts are made of seeded random words (new
words for the tokenizer, new blocks for the prefix cache); requests go over keep-alive
connections that are replaced every 50 requests; a quarter of them are streamed, a quarter ask
logprobs, a quarter two completions.

    python3 Benchmarks/memory_growth.py [--binary .build/release/swiftlet] [--model PATH]
        [--first 1000] [--total 10000] [--concurrency 8] [--max-tokens 8] [--out FILE.json]

Exit status 1 if the growth from FIRST to TOTAL is 5 % or more.
"""
import argparse
import asyncio
import json
import os
import random
import re
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def settled_rss_kib(pid, interval=0.1, quiet=3, limit=5.0):
    """RSS once it stops changing: after the last response the engine hands its free heap pages
    back when it goes idle, a moment later, so a reading taken at once depends on that race
    (runs differed by up to 7 MiB at the same mark). Waits for `quiet` equal readings in a row,
    at most `limit` seconds."""
    last, same, waited = rss_kib(pid), 0, 0.0
    while same < quiet and waited < limit:
        time.sleep(interval)
        waited += interval
        now = rss_kib(pid)
        same = same + 1 if now == last else 0
        last = now
    return last


def malloc_arenas(pid):
    """An estimate of glibc's extra malloc arenas: 64 MiB-aligned anonymous reservations, seen
    as adjacent mappings (a used part and a reserved rest) adding up to 64 MiB."""
    sizes = []
    with open(f"/proc/{pid}/maps") as f:
        for line in f:
            fields = line.split()
            if len(fields) == 5:  # anonymous
                lo, hi = (int(x, 16) for x in fields[0].split("-"))
                sizes.append((lo, hi))
    arenas, i = 0, 0
    while i < len(sizes):
        lo = sizes[i][0]
        j, hi = i, sizes[i][1]
        while j + 1 < len(sizes) and sizes[j + 1][0] == hi and hi - lo < (64 << 20):
            j += 1
            hi = sizes[j][1]
        if hi - lo == (64 << 20) and lo % (64 << 20) == 0:
            arenas += 1
        i = j + 1
    return arenas


def prompt(i, rng):
    letters = "abcdefghijklmnopqrstuvwxyz"
    words = ["".join(rng.choice(letters) for _ in range(rng.randint(2, 9))) for _ in range(rng.randint(4, 40))]
    return f"{i}: " + " ".join(words)


class Connection:
    def __init__(self, host, port):
        self.host, self.port, self.reader, self.writer, self.used = host, port, None, None, 0

    async def post(self, path, body):
        if self.writer is None or self.used >= 50:
            if self.writer is not None:
                self.writer.close()
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
            self.used = 0
        self.used += 1
        data = json.dumps(body).encode()
        self.writer.write(f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: application/json\r\n"
                          f"Content-Length: {len(data)}\r\n\r\n".encode() + data)
        await self.writer.drain()
        status = int((await self.reader.readline()).split()[1])
        length, chunked = None, False
        while (h := await self.reader.readline()) not in (b"\r\n", b""):
            k, _, v = h.decode().partition(":")
            if k.lower() == "content-length":
                length = int(v)
            elif k.lower() == "transfer-encoding" and "chunked" in v:
                chunked = True
        if length is not None:
            await self.reader.readexactly(length)
        elif chunked:
            while True:
                size = int((await self.reader.readline()).strip(), 16)
                await self.reader.readexactly(size + 2)
                if size == 0:
                    break
        if status != 200:
            raise RuntimeError(f"{path}: status {status}")


async def send(host, port, start, count, concurrency, max_tokens, seed):
    queue = asyncio.Queue()
    for i in range(start, start + count):
        queue.put_nowait(i)

    async def worker():
        conn = Connection(host, port)
        while not queue.empty():
            i = queue.get_nowait()
            rng = random.Random(seed * 1_000_003 + i)
            text = prompt(i, rng)
            kind = i % 4
            body = {"prompt": text, "max_tokens": max_tokens, "temperature": 0.8, "seed": i, "stream": kind == 2}
            if kind == 1:
                body["logprobs"] = 1
            if kind == 3:
                body["n"] = 2
            await conn.post("/v1/completions", body)
        if conn.writer is not None:
            conn.writer.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default=os.path.join(ROOT, ".build/release/swiftlet"))
    ap.add_argument("--model", default=os.path.join(os.path.dirname(ROOT), "shared/models/stories260K.gguf"))
    ap.add_argument("--first", type=int, default=1000)
    ap.add_argument("--total", type=int, default=10000)
    ap.add_argument("--step", type=int, default=1000)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--max-tokens", type=int, default=8)
    ap.add_argument("--kv-cache-memory", default=str(4 << 20))
    ap.add_argument("--seed", type=int, default=15)
    ap.add_argument("--malloc-arena-max", type=int,
                    help="MALLOC_ARENA_MAX for the server: glibc adds an arena (and its touched pages) whenever "
                         "threads contend for malloc, which shows as steps in RSS that are not leaks")
    ap.add_argument("--out")
    a = ap.parse_args()

    env = dict(os.environ)
    if a.malloc_arena_max:
        env["MALLOC_ARENA_MAX"] = str(a.malloc_arena_max)
    server = subprocess.Popen([a.binary, "serve", "--model", a.model, "--port", "0", "--kv-cache-memory", a.kv_cache_memory,
                               "--swap-space", "0"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        port = None
        for line in server.stdout:
            m = re.search(r"on http://127\.0\.0\.1:(\d+)", line)
            if m:
                port = int(m.group(1))
                break
        if port is None:
            sys.exit("the server did not start")
        samples = [(0, rss_kib(server.pid))]
        sent, started = 0, time.time()
        marks = sorted({a.first, a.total} | set(range(a.step, a.total + 1, a.step)))
        for mark in marks:
            asyncio.run(send("127.0.0.1", port, sent, mark - sent, a.concurrency, a.max_tokens, a.seed))
            sent = mark
            samples.append((sent, settled_rss_kib(server.pid)))
            print(f"{sent:6d} prompts: RSS {samples[-1][1] / 1024:.1f} MiB, malloc arenas {malloc_arenas(server.pid)} "
                  f"({time.time() - started:.0f} s)", flush=True)
        at_first = dict(samples)[a.first]
        at_total = dict(samples)[a.total]
        growth = (at_total - at_first) / at_first
        print(f"RSS after {a.first} prompts {at_first / 1024:.1f} MiB, after {a.total} {at_total / 1024:.1f} MiB: "
              f"growth {100 * growth:+.2f} % ({time.time() - started:.0f} s)")
        if a.out:
            with open(a.out, "w") as f:
                json.dump({"samples_kib": samples, "malloc_arena_max": a.malloc_arena_max, "growth": growth, "first": a.first, "total": a.total,
                           "concurrency": a.concurrency, "max_tokens": a.max_tokens, "model": a.model}, f, indent=1)
        sys.exit(0 if growth < 0.05 else 1)
    finally:
        server.terminate()
        server.wait(30)


if __name__ == "__main__":
    main()
