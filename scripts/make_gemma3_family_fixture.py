#!/usr/bin/env python3
"""A tiny random-weight Gemma 3 checkpoint (Gemma3ForCausalLM) with transformers' greedy tokens
and top-5 logprobs: Tests/Fixtures/families/gemma3/, in the layout and reference format of
scripts/make_family_fixtures.py (whose helpers it uses).

What the real 270M GGUF does not exercise, this does: the Hugging Face directory path (norm
weights stored without Gemma's +1, transformers 5's per-layer-type rope_parameters), a global
layer between two sliding ones with a 6-token window far shorter than the prompts, linear rope
scaling on the global layer only, a query_pre_attn_scalar that is not the head dimension, and
final logit soft-capping. The script checks that removing the window, the scaling or the cap
would change the greedy tokens, so the fixture tests each.

    nice python3 scripts/make_gemma3_family_fixture.py

Requirements: pip install torch transformers tokenizers safetensors
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_family_fixtures import N_GEN, OUT, PROMPTS, TOKENIZERS, check_no_cache, randomize, run_case  # noqa: E402

NAME = "gemma3"
SEED = 11
LAYER_TYPES = ["sliding_attention", "full_attention", "sliding_attention"]
ROPE = {"full_attention": {"rope_type": "linear", "factor": 2.0, "rope_theta": 1000000.0},
        "sliding_attention": {"rope_type": "default", "rope_theta": 10000.0}}


def config():
    from transformers import Gemma3TextConfig

    return Gemma3TextConfig(
        vocab_size=512, hidden_size=64, intermediate_size=128, num_hidden_layers=3, num_attention_heads=4,
        num_key_value_heads=2, head_dim=16, query_pre_attn_scalar=24, sliding_window=6, layer_types=LAYER_TYPES,
        rope_parameters=ROPE, max_position_embeddings=256, rms_norm_eps=1e-6, initializer_range=0.15,
        final_logit_softcapping=8.0, attn_logit_softcapping=None, hidden_activation="gelu_pytorch_tanh",
        tie_word_embeddings=True, bos_token_id=1, eos_token_id=2, pad_token_id=0)


def differing(out, cases, **overrides):
    """How many greedy tokens, and how far the reference's top-5 logprobs, would move with
    `overrides` applied to the config."""
    import torch
    from transformers import AutoModelForCausalLM

    other = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32, attn_implementation="eager", **overrides)
    other.eval()
    n, moved = 0, 0.0
    with torch.inference_mode():
        for c in cases:
            ids = c["prompt_ids"] + c["greedy_ids"]
            logits = other(input_ids=torch.tensor([ids]), use_cache=False).logits[0][len(c["prompt_ids"]) - 1:-1]
            n += sum(a != b for a, b in zip(logits.argmax(-1).tolist(), c["greedy_ids"]))
            lp = torch.log_softmax(logits.float(), -1)
            for row, top in zip(lp, c["top5"]):
                moved = max(moved, max(abs(float(row[i]) - v) for i, v in top))
    return n, moved


def main():
    import torch
    import transformers
    from tokenizers import Tokenizer
    from transformers import AutoModelForCausalLM, PreTrainedTokenizerFast

    torch.set_num_threads(2)
    t0 = time.time()
    out = os.path.join(OUT, NAME)
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    torch.manual_seed(SEED)
    model = AutoModelForCausalLM.from_config(config(), attn_implementation="eager", dtype=torch.float32)
    randomize(model, SEED)
    model.eval()
    model.generation_config.do_sample = False
    model.save_pretrained(out, safe_serialization=True)

    tok_file = os.path.join(TOKENIZERS, "spm-first.tokenizer.json")
    PreTrainedTokenizerFast(tokenizer_file=tok_file, bos_token="<s>", eos_token="</s>").save_pretrained(out)
    shutil.copyfile(tok_file, os.path.join(out, "tokenizer.json"))

    model = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32, attn_implementation="eager")
    model.eval()
    assert type(model).__name__ == "Gemma3ForCausalLM" and model.config.layer_types == LAYER_TYPES
    tok = Tokenizer.from_file(os.path.join(out, "tokenizer.json"))
    cases = []
    for prompt in PROMPTS:
        ids = tok.encode(prompt, add_special_tokens=True).ids
        greedy, top5 = run_case(model, ids)
        check_no_cache(model, ids, greedy)
        cases.append({"prompt": prompt, "prompt_ids": ids, "greedy_ids": greedy, "top5": top5})
        print(f"  n={len(ids):3d} -> {greedy[:10]}")
    window = model.config.sliding_window
    assert window < max(len(c["prompt_ids"]) for c in cases)
    for what, overrides in [("without the window", {"layer_types": ["full_attention"] * 3}),
                            ("without rope scaling", {"rope_parameters": dict(ROPE, full_attention={"rope_type": "default", "rope_theta": 1e6})}),
                            ("without soft-capping", {"final_logit_softcapping": None})]:
        n, moved = differing(out, cases, **overrides)
        print(f"  {what}: {n} of {N_GEN * len(cases)} tokens would differ, top-5 logprobs move by up to {moved:.3f}")
        # The cap is monotonic: it cannot change a greedy token, only the logprobs.
        assert (n > 0 or "capping" in what) and moved > 1e-2, what

    doc = {"model": NAME, "source": f"transformers {transformers.__version__} / torch {torch.__version__}",
           "dtype": "float32", "n_generated": N_GEN, "sliding_window": window, "cases": cases}
    with open(os.path.join(out, "reference.json"), "w", encoding="utf-8") as f:
        head = json.dumps({k: v for k, v in doc.items() if k != "cases"}, ensure_ascii=False, separators=(",", ":"))[:-1]
        f.write(head + ',"cases":[\n' + ",\n".join(json.dumps(c, ensure_ascii=False, separators=(",", ":")) for c in cases)
                + "\n]}\n")
    size = sum(os.path.getsize(os.path.join(out, f)) for f in os.listdir(out))
    margins = [t[0][1] - t[1][1] for c in cases for t in c["top5"]]
    print(f"[{NAME}] {size / 1024:.0f} KB, min top-2 margin {min(margins):.4f}, {time.time() - t0:.1f}s: {sorted(os.listdir(out))}")


if __name__ == "__main__":
    sys.exit(main())
