#!/usr/bin/env python3
"""What structured outputs cost a serving engine: 32 concurrent streamed chat requests, each with
a JSON schema of its own, against the same 32 requests unconstrained, on one `swiftlet serve`.

The unconstrained run of a round asks each request for exactly as many tokens as its constrained
run produced (`max_tokens`, `ignore_eos`), so both runs generate the same number of tokens per
request from the same prompts and the ratio of their output tok/s is the cost of the constraints
alone. Rounds alternate which run goes first; the medians are reported.

Before the rounds every schema is compiled once (a request of one token each); its compile time
is read from the server's /engine/stats, as are the grammar seconds, masks and constrained tokens
of each constrained run (mask time per token = grammar seconds / constrained tokens: masks, the
greedy check of the best token, and advancing the matcher), and its share of the engine's step
time, which other load on the machine skews far less than the wall-clock ratio.

    python3 Benchmarks/structured_outputs.py --binary .build/release/swiftlet --rounds 3 \\
        [--temperature 0.8] [--model PATH] [--out /tmp/so.json]
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def default_model():
    d = os.environ.get("SWIFTLET_MODEL_DIR", os.path.expanduser("~/.cache/swiftlet/models"))
    return os.path.join(d, "SmolLM2-135M-Instruct.Q4_1.gguf")


def string(n):
    return {"type": "string", "maxLength": n}


def schema(i):
    """The i-th schema: records of a few kinds, with nested objects, arrays, enums and formats,
    bounded so that a small model always reaches the end."""
    person = {"type": "object", "properties": {"name": string(24), "age": {"type": "integer", "minimum": 0, "maximum": 120},
                                               "email": {"type": "string", "format": "email"}},
              "required": ["name", "age", "email"], "additionalProperties": False}
    item = {"type": "object", "properties": {"sku": {"type": "string", "pattern": "^[A-Z]{3}-[0-9]{3}$"},
                                             "title": string(30), "price": {"type": "number", "minimum": 0, "maximum": 1000},
                                             "tags": {"type": "array", "items": string(12), "maxItems": 3}},
            "required": ["sku", "title", "price", "tags"], "additionalProperties": False}
    kinds = [
        ("a team of people", {"team": string(20), "members": {"type": "array", "items": person, "minItems": 2, "maxItems": 4}}),
        ("a product catalogue", {"store": string(20), "items": {"type": "array", "items": item, "minItems": 2, "maxItems": 4}}),
        ("a trip itinerary", {"traveller": person, "days": {"type": "array", "maxItems": 4, "minItems": 2, "items": {
            "type": "object", "properties": {"date": {"type": "string", "format": "date"}, "city": string(20),
                                             "activity": string(40)},
            "required": ["date", "city", "activity"], "additionalProperties": False}}}),
        ("a support ticket", {"id": {"type": "string", "format": "uuid"}, "reporter": person,
                              "priority": {"enum": ["low", "medium", "high"]}, "summary": string(60),
                              "steps": {"type": "array", "items": string(40), "minItems": 2, "maxItems": 4}}),
    ]
    what, props = kinds[i % len(kinds)]
    props = dict(props)
    props[f"note_{i}"] = string(20 + i)  # every schema is a distinct text, so each compiles once
    return what, {"type": "object", "properties": props, "required": list(props), "additionalProperties": False}


class Server:
    def __init__(self, binary, model, extra):
        self.proc = subprocess.Popen([binary, "serve", "--model", model, "--port", "0"] + extra,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.port = None
        self.log = []
        found = threading.Event()

        def read():
            for line in self.proc.stdout:
                self.log.append(line)
                m = re.search(r"on http://127\.0\.0\.1:(\d+)", line)
                if m and not found.is_set():
                    self.port = int(m.group(1))
                    found.set()
            found.set()

        threading.Thread(target=read, daemon=True).start()
        found.wait()
        if self.port is None:
            raise SystemExit("the server did not start:\n" + "".join(self.log))

    def stop(self):
        self.proc.terminate()
        self.proc.wait()

    def post(self, path, body):
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        return urllib.request.urlopen(req, timeout=3600)

    def stats(self):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/engine/stats", timeout=60) as r:
            return json.load(r)


def stream_chat(server, body):
    """One streamed chat completion; returns its completion tokens and finish reason."""
    body = dict(body, stream=True, stream_options={"include_usage": True})
    tokens, reason = 0, None
    with server.post("/v1/chat/completions", body) as r:
        for raw in r:
            line = raw.decode().strip()
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            chunk = json.loads(line[6:])
            for c in chunk.get("choices", []):
                reason = c.get("finish_reason") or reason
            if chunk.get("usage"):
                tokens = chunk["usage"]["completion_tokens"]
    return tokens, reason


def run(server, bodies):
    """Sends every body at once; returns per-request (tokens, finish reason) and the wall time."""
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
        results = list(pool.map(lambda b: stream_chat(server, b), bodies))
    return results, time.perf_counter() - start


def cpu_name():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip() + f", {os.cpu_count()} logical CPUs"
    except OSError:
        pass
    return "unknown CPU"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", default=os.path.join(ROOT, ".build/release/swiftlet"))
    ap.add_argument("--model", default=os.environ.get("SWIFTLET_MODEL_PATH") or default_model())
    ap.add_argument("--streams", type=int, default=32)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--temperature", type=float, default=0.0)
    ap.add_argument("--max-tokens", type=int, default=400)
    ap.add_argument("--server-args", default="", help="extra `swiftlet serve` flags")
    ap.add_argument("--out", help="write the figures as JSON here")
    a = ap.parse_args()

    server = Server(a.binary, a.model, a.server_args.split())
    try:
        cases = [schema(i) for i in range(a.streams)]
        messages = [[{"role": "system", "content": "You answer with JSON only."},
                     {"role": "user", "content": f"Write {what} as JSON (record {i})."}] for i, (what, _) in enumerate(cases)]

        # Compile each schema once, alone, to time it.
        compile_ms = []
        for i, (_, s) in enumerate(cases):
            before = server.stats()
            server.post("/v1/chat/completions", {"messages": messages[i], "max_tokens": 1, "temperature": 0,
                                                 "response_format": {"type": "json_schema",
                                                                     "json_schema": {"name": "r", "schema": s}}}).read()
            after = server.stats()
            if after["structured_output_compiles"] == before["structured_output_compiles"] + 1:
                compile_ms.append(1000 * (after["structured_output_compile_seconds"] - before["structured_output_compile_seconds"]))
        run(server, [{"messages": m, "max_tokens": 8, "temperature": 0} for m in messages[:4]])  # warm-up

        rounds = []
        for r in range(a.rounds):
            constrained = [{"messages": messages[i], "max_tokens": a.max_tokens, "temperature": a.temperature, "seed": i,
                            "response_format": {"type": "json_schema", "json_schema": {"name": "r", "schema": cases[i][1]}}}
                           for i in range(a.streams)]

            def constrained_run():
                before = server.stats()
                results, seconds = run(server, constrained)
                after = server.stats()
                delta = {k: after[k] - before[k] for k in ("structured_output_tokens", "structured_output_masks",
                                                           "structured_output_seconds", "step_seconds")}
                return results, seconds, delta

            def plain_run(lengths):
                bodies = [{"messages": messages[i], "max_tokens": max(1, lengths[i]), "temperature": a.temperature,
                           "seed": i, "ignore_eos": True} for i in range(a.streams)]
                return run(server, bodies)

            if r % 2 == 0:
                c_results, c_seconds, delta = constrained_run()
                lengths = [t for t, _ in c_results]
                u_results, u_seconds = plain_run(lengths)
            else:
                # The lengths come from the previous round's constrained run (the same requests).
                lengths = rounds[-1]["lengths"]
                u_results, u_seconds = plain_run(lengths)
                c_results, c_seconds, delta = constrained_run()
                lengths = [t for t, _ in c_results]
            tokens_c = sum(t for t, _ in c_results)
            tokens_u = sum(t for t, _ in u_results)
            row = {"lengths": lengths, "constrained_tokens": tokens_c, "plain_tokens": tokens_u,
                   "constrained_tok_s": tokens_c / c_seconds, "plain_tok_s": tokens_u / u_seconds,
                   "finish_reasons": sorted(set(f for _, f in c_results)),
                   "mask_us_per_token": 1e6 * delta["structured_output_seconds"] / max(1, delta["structured_output_tokens"]),
                   "masks_per_token": delta["structured_output_masks"] / max(1, delta["structured_output_tokens"]),
                   # The grammar's share of the engine's step time in the constrained run: a
                   # measure of its cost that other load on the machine does not skew.
                   "grammar_share": delta["structured_output_seconds"] / max(1e-9, delta["step_seconds"])}
            row["ratio"] = row["constrained_tok_s"] / row["plain_tok_s"]
            rounds.append(row)
            print(f"round {r + 1}: constrained {tokens_c} tokens {row['constrained_tok_s']:.1f} tok/s, "
                  f"plain {tokens_u} tokens {row['plain_tok_s']:.1f} tok/s, ratio {row['ratio']:.3f}; "
                  f"grammar {row['mask_us_per_token']:.1f} us/token ({100 * row['grammar_share']:.2f}% of step time), "
                  f"{row['masks_per_token']:.2f} masks/token, "
                  f"finish {row['finish_reasons']}", flush=True)

        summary = {
            "cpu": cpu_name(), "model": os.path.basename(a.model), "streams": a.streams, "temperature": a.temperature,
            "load_average": os.getloadavg(),
            "ratio_median": statistics.median(r["ratio"] for r in rounds),
            "constrained_tok_s_median": statistics.median(r["constrained_tok_s"] for r in rounds),
            "plain_tok_s_median": statistics.median(r["plain_tok_s"] for r in rounds),
            "mask_us_per_token_median": statistics.median(r["mask_us_per_token"] for r in rounds),
            "masks_per_token_median": statistics.median(r["masks_per_token"] for r in rounds),
            "grammar_share_median": statistics.median(r["grammar_share"] for r in rounds),
            "compile_ms_mean": statistics.mean(compile_ms) if compile_ms else None,
            "compile_ms_max": max(compile_ms) if compile_ms else None,
            "compile_ms_median": statistics.median(compile_ms) if compile_ms else None,
            "rounds": rounds,
        }
        print(json.dumps({k: v for k, v in summary.items() if k != "rounds"}, indent=1))
        if a.out:
            with open(a.out, "w") as f:
                json.dump(summary, f, indent=1)
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
