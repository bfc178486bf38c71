#!/usr/bin/env python3
"""Tokenizer speed: Swiftlet against Hugging Face `tokenizers`, one thread, same text, one run.

    python3 Benchmarks/tokenizer_bench.py --swift-cmd "swiftlet bench tokenizer --model {model} --text {text}"

Writes a deterministic mixed-language text (English, code, JSON, URLs, CJK, Korean, Arabic, Hindi,
emoji, whitespace runs, CRLF; 10 MB by default, from the fixture script's strings), then for each
tokenizer times HF encoding the whole text in one `encode` call and, if `--swift-cmd` is given,
runs it on the same text and model and prints its output beside. `{model}` and `{text}` in the
command are replaced by the tokenizer's path and the text's path. Also checks HF's speed on a 1 MB
run of one character.

Tokenizers: SmolLM2's GGUF (SWIFTLET_MODEL_PATH or ~/.cache/swiftlet/models/...), stories260K's GGUF
(<repo>/../shared/models/), and MiniLM's tokenizer.json (Tests/Fixtures/tokenizers/minilm/).
HF is pinned to one thread with RAYON_NUM_THREADS=1; a single `encode` call is single-threaded anyway.
"""

import argparse
import os
import random
import shlex
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("RAYON_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from make_tokenizer_fixtures import BASE, gguf_tokenizer  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402


def make_text(path: Path, megabytes: float, seed: int = 1) -> str:
    """Lines of 8 random fixture fragments; written with `newline=""` so CRLF survives."""
    rng = random.Random(seed)
    frags = [b for b in BASE if b]
    out, size, target = [], 0, int(megabytes * 1_000_000)
    while size < target:
        line = " ".join(rng.choice(frags) for _ in range(8)) + "\n"
        out.append(line)
        size += len(line.encode("utf-8"))
    text = "".join(out)
    path.write_text(text, encoding="utf-8", newline="")
    return text


def best_time(fn, runs):
    best, result = float("inf"), None
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--text", default="/tmp/swiftlet-tokenizer-bench.txt", help="where to write the text")
    ap.add_argument("--megabytes", type=float, default=10)
    ap.add_argument("--runs", type=int, default=1, help="HF runs per measurement (best is kept)")
    ap.add_argument("--swift-cmd", help="command template with {model} and {text}")
    ap.add_argument("--only", help="comma-separated subset: smollm2,stories260k,minilm")
    args = ap.parse_args()

    text_path = Path(args.text)
    text = make_text(text_path, args.megabytes)
    nbytes = len(text.encode("utf-8"))
    print(f"text: {text_path} ({nbytes / 1e6:.2f} MB)")

    smol = os.environ.get("SWIFTLET_MODEL_PATH") or os.path.expanduser(
        "~/.cache/swiftlet/models/SmolLM2-135M-Instruct.Q4_1.gguf")
    candidates = {
        "smollm2": Path(smol),
        "stories260k": ROOT.parent / "shared" / "models" / "stories260K.gguf",
        "minilm": ROOT / "Tests" / "Fixtures" / "tokenizers" / "minilm" / "tokenizer.json",
    }
    wanted = set(args.only.split(",")) if args.only else set(candidates)
    for name, path in candidates.items():
        if name not in wanted:
            continue
        if not path.exists():
            print(f"\n== {name}: {path} not found, skipped")
            continue
        print(f"\n== {name} ({path.name})")
        if path.suffix == ".gguf":
            tok = gguf_tokenizer(path).backend_tokenizer
        else:
            tok = Tokenizer.from_file(str(path))
            tok.no_padding()
            tok.no_truncation()
        seconds, enc = best_time(lambda: tok.encode(text, add_special_tokens=False), args.runs)
        print(f"HF tokenizers encode: {nbytes / 1e6:.2f} MB, {len(enc.ids)} tokens, {seconds:.3f} s, "
              f"{nbytes / 1e6 / seconds:.2f} MB/s")
        seconds, _ = best_time(lambda: tok.decode(enc.ids, skip_special_tokens=False), args.runs)
        print(f"HF tokenizers decode: {seconds:.3f} s, {nbytes / 1e6 / seconds:.2f} MB/s")
        seconds, rep = best_time(lambda: tok.encode("a" * 1_000_000, add_special_tokens=False), args.runs)
        print(f"HF tokenizers encode 1 MB of \"a\": {len(rep.ids)} tokens, {seconds:.3f} s")
        if args.swift_cmd:
            cmd = args.swift_cmd.format(model=shlex.quote(str(path)), text=shlex.quote(str(text_path)))
            run = subprocess.run(cmd, shell=True, capture_output=True, text=True)
            print("Swiftlet:")
            print(run.stdout.rstrip() or run.stderr.rstrip())


if __name__ == "__main__":
    main()
