#!/usr/bin/env python3
"""Online serving benchmark, in the manner of vLLM's benchmark_serving: requests with ShareGPT-like
prompt and output lengths arrive as a Poisson process at increasing rates; for each rate it
reports request and output-token throughput, time to first token (TTFT) and time per output
token after the first (TPOT), p50 and p99.

It starts each server itself on the same GGUF file, one after the other in the same run: Swiftlet
(`swiftlet serve`) and, when LLAMA_CPP_DIR is set, llama.cpp's `llama-server --parallel 32` (continuous
batching). A server stops climbing once a rate pushes its p99 TPOT over the bound (or requests
fail), as the rate after that only grows its queue.

    LLAMA_CPP_DIR=/work/llama.cpp python3 Benchmarks/serving_benchmark.py \\
        --rates 0.5,1,2,3,4,5,6 --duration 45 --out /tmp/serving.json --plot docs/benchmarks-serving.png

Lengths: prompts are random token ids (so neither server gains from a prefix cache) with
log-normal lengths (median 120 tokens, clipped to 8..1024); outputs are log-normal (median 100,
clipped to 8..512) and generated to exactly that length (`ignore_eos`), mean about 130 tokens, close
to ShareGPT conversations after vLLM's filtering. Every server sees the same requests at the same
times (fixed seed).
"""
import argparse
import asyncio
import json
import math
import os
import random
import signal
import statistics
import subprocess
import sys
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def default_model():
    d = os.environ.get("SWIFTLET_MODEL_DIR", os.path.expanduser("~/.cache/swiftlet/models"))
    return os.path.join(d, "SmolLM2-135M-Instruct.Q4_1.gguf")


def make_requests(n, seed, vocab):
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        p = int(min(1024, max(8, rng.lognormvariate(math.log(120), 0.9))))
        o = int(min(512, max(8, rng.lognormvariate(math.log(100), 0.7))))
        out.append(([rng.randrange(1000, vocab - 1000) for _ in range(p)], o))
    return out


def arrival_times(n, rate, seed):
    rng = random.Random(seed)
    t, times = 0.0, []
    for _ in range(n):
        t += rng.expovariate(rate)
        times.append(t)
    return times


async def one_request(host, port, model, prompt, max_tokens, t0, result):
    """Streams one completion; fills result with ttft, latency and output tokens."""
    body = json.dumps({"model": model, "prompt": prompt, "max_tokens": max_tokens, "temperature": 0, "ignore_eos": True,
                       "stream": True, "stream_options": {"include_usage": True}}).encode()
    start = time.perf_counter()
    try:
        reader, writer = await asyncio.open_connection(host, port, limit=1 << 22)
        writer.write(f"POST /v1/completions HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
                     f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
        await writer.drain()
        status = await reader.readline()
        if b" 200 " not in status:
            result["error"] = status.decode().strip()
            writer.close()
            return
        chunked = False
        while True:
            line = await reader.readline()
            if line in (b"\r\n", b""):
                break
            if line.lower().startswith(b"transfer-encoding:") and b"chunked" in line.lower():
                chunked = True
        ttft, chunks, usage, buf = None, 0, None, b""

        async def data():
            if not chunked:
                while True:
                    b = await reader.read(65536)
                    if not b:
                        return
                    yield b
            while True:
                size = int((await reader.readline()).split(b";")[0], 16)
                if size == 0:
                    return
                yield await reader.readexactly(size)
                await reader.readexactly(2)

        done = False
        async for b in data():
            buf += b
            while b"\n\n" in buf:
                event, buf = buf.split(b"\n\n", 1)
                event = event.strip()
                if not event.startswith(b"data: "):
                    continue
                payload = event[6:]
                if payload == b"[DONE]":
                    done = True
                    continue
                j = json.loads(payload)
                if j.get("usage"):
                    usage = j["usage"]
                for c in j.get("choices") or []:
                    if c.get("text"):
                        chunks += 1
                        if ttft is None:
                            ttft = time.perf_counter() - start
            if done:
                break
        writer.close()
        end = time.perf_counter()
        result.update(ttft=ttft, latency=end - start, end=end - t0,
                      output_tokens=(usage or {}).get("completion_tokens") or chunks, chunks=chunks)
        if ttft is None:
            result["error"] = "no tokens"
    except Exception as e:  # noqa: BLE001 - a failed request is a result, not a crash
        result["error"] = repr(e)


def pct(values, p):
    if not values:
        return float("nan")
    v = sorted(values)
    k = (len(v) - 1) * p / 100
    lo, hi = math.floor(k), math.ceil(k)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


async def run_rate(host, port, model, reqs, rate, seed):
    times = arrival_times(len(reqs), rate, seed)
    results = [dict() for _ in reqs]
    t0 = time.perf_counter()
    tasks = []
    for (prompt, out), at, r in zip(reqs, times, results):
        delay = at - (time.perf_counter() - t0)
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one_request(host, port, model, prompt, out, t0, r)))
    await asyncio.gather(*tasks)
    ok = [r for r in results if "error" not in r]
    dur = max((r["end"] for r in ok), default=time.perf_counter() - t0)
    tpot = [(r["latency"] - r["ttft"]) / (r["output_tokens"] - 1) for r in ok if r["output_tokens"] > 1]
    ttft = [r["ttft"] for r in ok]
    tokens = sum(r["output_tokens"] for r in ok)
    return {
        "rate": rate, "requests": len(reqs), "completed": len(ok), "failed": len(reqs) - len(ok),
        "errors": sorted({r["error"] for r in results if "error" in r})[:3],
        "duration_s": dur, "request_throughput": len(ok) / dur, "output_throughput": tokens / dur,
        "expected_output_tokens": sum(o for _, o in reqs), "output_tokens": tokens,
        "ttft_p50": pct(ttft, 50), "ttft_p99": pct(ttft, 99), "tpot_p50": pct(tpot, 50), "tpot_p99": pct(tpot, 99),
        "mean_prompt_tokens": statistics.mean(len(p) for p, _ in reqs), "mean_output_tokens": statistics.mean(o for _, o in reqs),
    }


def wait_healthy(port, proc, timeout=180):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                if r.status == 200:
                    return
        except Exception:  # noqa: BLE001 - not up yet
            pass
        time.sleep(0.5)
    raise RuntimeError("server did not become healthy")


def served_model(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=5) as r:
        return json.load(r)["data"][0]["id"]


def bench_server(name, cmd, port, args, log):
    print(f"== {name}: {' '.join(cmd)}", flush=True)
    proc = subprocess.Popen(cmd, stdout=log, stderr=log, start_new_session=True)
    rows = []
    try:
        wait_healthy(port, proc)
        model = served_model(port)
        # Warm-up, so first-touch costs are not in the first rate.
        asyncio.run(run_rate("127.0.0.1", port, model, make_requests(4, 1, args.vocab), 4.0, 1))
        for i, rate in enumerate(args.rates):
            n = max(8, int(rate * args.duration))
            reqs = make_requests(n, args.seed + i, args.vocab)
            row = asyncio.run(run_rate("127.0.0.1", port, model, reqs, rate, args.seed + 100 + i))
            row["server"] = name
            rows.append(row)
            print(f"  rate {rate:>4} req/s: {row['completed']}/{row['requests']} ok, {row['request_throughput']:.2f} req/s, "
                  f"{row['output_throughput']:.0f} out tok/s, TTFT p50/p99 {row['ttft_p50']:.2f}/{row['ttft_p99']:.2f} s, "
                  f"TPOT p50/p99 {row['tpot_p50'] * 1000:.0f}/{row['tpot_p99'] * 1000:.0f} ms {row['errors'] or ''}", flush=True)
            if row["failed"] or not row["tpot_p99"] <= args.tpot_bound:
                print(f"  {name}: p99 TPOT over {args.tpot_bound * 1000:.0f} ms (or failures) at {rate} req/s; stopping", flush=True)
                break
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
    return rows


def plot(rows, path, bound):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.3))
    colours = {"swiftlet": "tab:orange", "llama.cpp": "tab:blue"}
    for name in sorted({r["server"] for r in rows}):
        rs = [r for r in rows if r["server"] == name]
        x = [r["rate"] for r in rs]
        c = colours.get(name)
        axes[0].plot(x, [r["output_throughput"] for r in rs], "o-", color=c, label=name)
        axes[1].plot(x, [r["tpot_p99"] * 1000 for r in rs], "o-", color=c, label=name + " p99")
        axes[1].plot(x, [r["tpot_p50"] * 1000 for r in rs], "s--", color=c, alpha=0.5, label=name + " p50")
        axes[2].plot(x, [r["ttft_p99"] for r in rs], "o-", color=c, label=name + " p99")
        axes[2].plot(x, [r["ttft_p50"] for r in rs], "s--", color=c, alpha=0.5, label=name + " p50")
    axes[1].axhline(bound * 1000, color="grey", lw=1, ls=":", label=f"{bound * 1000:.0f} ms bound")
    axes[0].set(title="Output throughput", xlabel="request rate (req/s, Poisson)", ylabel="tokens/s")
    axes[1].set(title="Time per output token", xlabel="request rate (req/s, Poisson)", ylabel="ms", yscale="log")
    axes[2].set(title="Time to first token", xlabel="request rate (req/s, Poisson)", ylabel="s", yscale="log")
    for a in axes:
        a.grid(alpha=0.3)
        a.legend(fontsize=8)
    fig.suptitle("SmolLM2-135M-Instruct Q4_1, 2 CPU cores: Swiftlet vs llama.cpp server (--parallel 32)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=default_model())
    ap.add_argument("--rates", default="0.5,1,2,3,4,5,6")
    ap.add_argument("--duration", type=float, default=45, help="seconds of arrivals per rate")
    ap.add_argument("--tpot-bound", type=float, default=0.2, help="p99 TPOT (s) above which a server stops climbing")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--vocab", type=int, default=49152)
    ap.add_argument("--swiftlet", default=os.path.join(ROOT, ".build/release/swiftlet"))
    ap.add_argument("--swiftlet-args", default="--kv-cache-memory 1000000000 --swap-space 0")
    ap.add_argument("--llama-args", default="--parallel 32 -c 65536 -t 2 --cont-batching")
    ap.add_argument("--servers", default="swiftlet,llama.cpp")
    ap.add_argument("--out", default="/tmp/serving-benchmark.json")
    ap.add_argument("--plot")
    ap.add_argument("--log", default="/tmp/serving-benchmark-servers.log")
    ap.add_argument("--from-json", help="only print the table and plot of an earlier run's --out file")
    args = ap.parse_args()
    args.rates = [float(r) for r in args.rates.split(",")]
    wanted = args.servers.split(",") if not args.from_json else []
    rows = []
    if args.from_json:
        with open(args.from_json) as f:
            rows = json.load(f)
    with open(args.log, "a") as log:
        if "swiftlet" in wanted:
            rows += bench_server("swiftlet", [args.swiftlet, "serve", "--model", args.model, "--port", "8301"]
                                 + args.swiftlet_args.split(), 8301, args, log)
        llama_dir = os.environ.get("LLAMA_CPP_DIR")
        if "llama.cpp" in wanted and llama_dir:
            server = os.path.join(llama_dir, "build/bin/llama-server")
            rows += bench_server("llama.cpp", [server, "-m", args.model, "--host", "127.0.0.1", "--port", "8302"]
                                 + args.llama_args.split(), 8302, args, log)
        elif "llama.cpp" in wanted:
            print("LLAMA_CPP_DIR is not set: skipping llama.cpp")
    if not args.from_json:
        with open(args.out, "w") as f:
            json.dump(rows, f, indent=1)
    print("\n| server | rate (req/s) | completed | req/s | output tok/s | TTFT p50 (s) | TTFT p99 (s) | TPOT p50 (ms) | TPOT p99 (ms) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['server']} | {r['rate']} | {r['completed']}/{r['requests']} | {r['request_throughput']:.2f} | "
              f"{r['output_throughput']:.0f} | {r['ttft_p50']:.2f} | {r['ttft_p99']:.2f} | {r['tpot_p50'] * 1000:.0f} | "
              f"{r['tpot_p99'] * 1000:.0f} |")
    best = {}
    for r in rows:
        if not r["failed"] and r["tpot_p99"] <= args.tpot_bound:
            best[r["server"]] = max(best.get(r["server"], 0), r["rate"])
    for name, rate in best.items():
        print(f"{name}: highest rate with p99 TPOT <= {args.tpot_bound * 1000:.0f} ms: {rate} req/s")
    if args.plot:
        plot(rows, args.plot, args.tpot_bound)
        print(f"plot: {args.plot}")


if __name__ == "__main__":
    sys.exit(main())
