#!/usr/bin/env python3
"""Record Gemma 3 270M's reference outputs from Hugging Face transformers.

The fixture has the shape scripts/make_reference_fixtures.py writes (and is made with its
loader and greedy loop): for each prompt its token ids, 32 greedy tokens and, at each step,
the top-5 log-probabilities, from the GGUF dequantized to float32.

    nice python3 scripts/make_gemma3_reference.py \
        --model ~/.cache/swiftlet/models/gemma-3-270m-q4_k_m.gguf \
        --out Tests/Fixtures/reference/gemma3-270m-q4_k_m.json

(`scripts/bootstrap.sh --with-gemma3` installs the file.) Requirements: pip install torch
transformers gguf accelerate.

Prompts
-------
Plain text, non-ASCII, code, numbers, whitespace, chat turns in Gemma's format (the GGUF has no
chat template; Swiftlet gives it Gemma's built-in one, whose text is written out here), and two
long prompts: one under the 512-token sliding window and one well past it, so that the sliding
layers' masking is exercised (keys older than 511 positions must be invisible to them).

Chat prompts are stored without their leading `<bos>`: the tokenizer adds it (add_bos_token is
true), so the ids are what the template's text gives when Swiftlet renders it and tokenizes it
without adding special tokens.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_reference_fixtures import (  # noqa: E402
    LONG_ENGLISH, LONG_STORY, N_GEN, dump_compact, grow_prompt, load, run_case, summarize,
)

DEFAULT_MODEL = os.path.expanduser("~/.cache/swiftlet/models/gemma-3-270m-q4_k_m.gguf")
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(REPO_ROOT, "Tests", "Fixtures", "reference", "gemma3-270m-q4_k_m.json")


def gemma_chat(messages):
    """Gemma's chat format: a system message is folded into the first user turn, the assistant
    is `model`, and the prompt ends with an open model turn."""
    out = []
    first_prefix = ""
    if messages and messages[0]["role"] == "system":
        first_prefix = messages[0]["content"] + "\n\n"
        messages = messages[1:]
    for i, m in enumerate(messages):
        role = "model" if m["role"] == "assistant" else m["role"]
        text = (first_prefix if i == 0 else "") + m["content"].strip()
        out.append(f"<start_of_turn>{role}\n{text}<end_of_turn>\n")
    return "".join(out) + "<start_of_turn>model\n"


def cases(tok):
    long_text = LONG_ENGLISH + LONG_STORY
    return [
        ("plain", "The capital of France is"),
        ("plain", "Once upon a time, in a small village by the sea, there lived an old fisherman who"),
        ("plain", "Photosynthesis is the process by which"),
        ("chat", gemma_chat([{"role": "user", "content": "What is the capital of France?"}])),
        ("chat", gemma_chat([
            {"role": "system", "content": "You are a concise assistant. Answer in one sentence."},
            {"role": "user", "content": "Why is the sky blue?"},
        ])),
        ("chat", gemma_chat([
            {"role": "user", "content": "Hi! Can you help me with math?"},
            {"role": "assistant", "content": "Of course! What would you like to know?"},
            {"role": "user", "content": "What is 17 times 23?"},
        ])),
        ("non-ascii", "Le café de la rue Saint-Honoré est très réputé pour ses crêpes, et les touristes"),
        ("non-ascii", "日本の首都は東京です。中国的首都是北京。한국의 수도는"),
        ("non-ascii", "I love pizza 🍕 and ice cream 🍦! When I'm happy I use the emoji"),
        ("code", "def fibonacci(n):\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n"),
        ("code", "#include <stdio.h>\n\nint main(void) {\n    for (int i = 0; i < 10; i++) {\n        printf(\""),
        ("numbers", "In 2024, the population grew by 1,234,567 people, which is about 3.14% of"),
        ("whitespace", "Name:\tAlice\nAge:\t30\n\nName:\tBob\nAge:\t"),
        ("long", grow_prompt(tok, LONG_ENGLISH, 480)),
        # Past the 512-token window: the sliding layers must no longer see the first tokens.
        ("long-window", grow_prompt(tok, long_text, 900)),
    ]


def make(model_path, out_path):
    import torch
    import transformers

    torch.manual_seed(0)
    torch.set_num_threads(2)
    t0 = time.time()
    with tempfile.TemporaryDirectory() as workdir:
        print(f"loading {model_path}")
        tok, model, _ = load(model_path, workdir)
        cfg = model.config
        assert cfg.model_type == "gemma3_text", cfg.model_type
        print(f"  layer types {cfg.layer_types}, window {cfg.sliding_window}, rope {cfg.rope_parameters}, "
              f"query_pre_attn_scalar {cfg.query_pre_attn_scalar}, softcapping {cfg.final_logit_softcapping}/"
              f"{cfg.attn_logit_softcapping}")
        out = []
        for kind, prompt in cases(tok):
            ids = tok(prompt)["input_ids"]
            assert ids[0] == tok.bos_token_id and ids.count(tok.bos_token_id) == 1, (prompt, ids[:4])
            t = time.time()
            greedy, top5 = run_case(model, ids)
            print(f"  {kind:11s} n={len(ids):3d} {time.time() - t:5.1f}s  -> {tok.decode(greedy)[:60]!r}")
            out.append({"kind": kind, "prompt": prompt, "prompt_ids": ids, "greedy_ids": greedy, "top5": top5})
        assert any(len(c["prompt_ids"]) > cfg.sliding_window for c in out), "no prompt passes the sliding window"

    doc = {
        "model": "gemma3-270m-q4_k_m",
        "source": f"transformers {transformers.__version__} / torch {torch.__version__}",
        "file": os.path.basename(model_path),
        "dtype": "float32 (dequantized)",
        "n_generated": N_GEN,
        "add_bos": True,
        "cases": out,
    }
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    with open(out_path, "w", encoding="utf-8") as f:
        f.write(dump_compact(doc))
    print(f"wrote {out_path} ({os.path.getsize(out_path) / 1024:.0f} KB) in {time.time() - t0:.0f}s")
    summarize(out_path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=DEFAULT_MODEL, help="gemma-3-270m-q4_k_m.gguf")
    ap.add_argument("--out", default=DEFAULT_OUT)
    a = ap.parse_args()
    make(a.model, a.out)


if __name__ == "__main__":
    main()
