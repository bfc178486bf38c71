#!/usr/bin/env python3
"""Build tiny random-weight Hugging Face checkpoints of each supported model family, with
transformers' greedy tokens and top-5 logprobs as reference fixtures.

Writes Tests/Fixtures/families/<name>/ for

    gpt2          GPT-2: learned positions, LayerNorm, GELU (tanh), fused qkv in Conv1D layout, tied head
    opt-pre       OPT with do_layer_norm_before=True (OPT-125m style)
    opt-post      OPT with do_layer_norm_before=False and word_embed_proj_dim < hidden_size
                  (OPT-350m style: post-LayerNorm, project_in/project_out)
    qwen2         Qwen2: grouped-query attention with q/k/v bias, rope_theta 1e6, tied head
    mistral       Mistral: sliding_window shorter than the prompts plus generation
    qwen2-swa     Qwen2 with use_sliding_window: window 6 on the layers from max_window_layers (2) on,
                  full attention below (transformers' layer_types), so layers of both kinds share a cache
    qwen3         Qwen3: per-head RMSNorm on q and k, head_dim (24) unlike hidden/heads (16), no qkv bias,
                  untied head
    llama3        Llama 3.x: rope_scaling rope_type "llama3" with a small original_max_position_embeddings
                  so that every branch of the frequency ramp is used, untied head
    llama3-tied   the same with a tied head (Llama 3.2 1B/3B style) and other weights
    phi3          Phi-3: fused qkv_proj and gate_up_proj, partial rotary (0.75, Phi-4-mini style), longrope
                  scaling, a sliding window shorter than the prompts plus generation

each holding config.json, generation_config.json, model.safetensors (fp32), tokenizer.json,
tokenizer_config.json and reference.json. Every directory stays well under 2 MB.

The GGUF conversions next to these directories (families/<name>.f32.gguf) are made from them by
scripts/make_family_gguf_fixtures.py; run it after this script.

Usage:

    nice -n 10 python3 scripts/make_family_fixtures.py            # all families
    python3 scripts/make_family_fixtures.py --only mistral        # one

Requirements: pip install torch transformers tokenizers safetensors

How the reference is made
-------------------------
* Weights are drawn with torch.manual_seed(<per-family seed>) from each model's own init with a
  larger initializer_range, so that logits are spread out and greedy choices are not near ties;
  then every bias is redrawn as N(0, 0.1) and every norm weight as 1 + N(0, 0.1), because the
  defaults (zero biases, unit norms) would hide a missing bias or a wrong norm in the engine.
* The model runs in float32 with attn_implementation="eager" (whose masks apply Mistral's
  sliding window: a query at position q sees keys k with q - window < k <= q). The script checks
  that decoding without the window would give different tokens, so the fixture tests it; it checks
  the same of llama3 rope scaling and of Phi-3's longrope short factors.
* Phi-3 longrope: transformers picks the long factors for a forward pass whose last position is
  beyond original_max_position_embeddings, so a cached generation that crosses it would mix keys
  rotated with both factor sets (and disagree with one uncached pass). The greedy cases stay well
  below it and use the short factors. The long factors are covered by `long_case`: a random prompt
  longer than original_max_position_embeddings in one uncached pass (all positions use the long
  factors), with the top-5 logprobs of its last positions.
* Greedy decoding is a manual loop with a KV cache: prompt in one pass, then one token per
  step, 32 steps, EOS not treated as a stop. top5 is log_softmax over the whole vocabulary,
  rounded to 6 decimals.
* prompt_ids come from the `tokenizers` library reading the saved tokenizer.json, with special
  tokens added as its post-processor says (the Llama-3-style tokenizer used for Mistral adds a BOS).
  The tokenizers are the small ones trained for the tokenizer parity fixtures
  (Tests/Fixtures/tokenizers/*.tokenizer.json).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time

N_GEN = 32
TOP_K = 5

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOKENIZERS = os.path.join(ROOT, "Tests", "Fixtures", "tokenizers")
OUT = os.path.join(ROOT, "Tests", "Fixtures", "families")

PROMPTS = [
    "Hello",
    "The capital of France is",
    "Once upon a time, in a small village by the sea, there lived an old fisherman who went out every morning.",
    "def add(a, b):\n    return a + b\n\nprint(add(2, 3))",
    "In the early nineteenth century, Charles Babbage designed the Difference Engine, a mechanical calculator "
    "intended to produce mathematical tables without human error. He later conceived the Analytical Engine.",
]


def families():
    from transformers import GPT2Config, LlamaConfig, MistralConfig, OPTConfig, Phi3Config, Qwen2Config, Qwen3Config

    def llama3(tied):
        return LlamaConfig(
            vocab_size=1501, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=2, max_position_embeddings=512, rms_norm_eps=1e-5, initializer_range=0.15,
            tie_word_embeddings=tied, bos_token_id=0, eos_token_id=[1, 4],
            # Wavelengths 2*pi*10000^(i/8) of a 16-wide head: below 16 kept, 16..64 on the ramp, above scaled.
            rope_scaling={"rope_type": "llama3", "rope_theta": 10000.0, "factor": 8.0, "low_freq_factor": 1.0,
                          "high_freq_factor": 4.0, "original_max_position_embeddings": 64})

    # 0.75 of a 16-wide head rotates: 12 dims, 6 frequencies.
    rotary_half = 6

    def opt(pre, proj):
        return OPTConfig(vocab_size=1201, hidden_size=64, num_hidden_layers=2, ffn_dim=128, num_attention_heads=4,
                         max_position_embeddings=256, do_layer_norm_before=pre, word_embed_proj_dim=proj,
                         activation_function="relu", init_std=0.15, pad_token_id=1, bos_token_id=0, eos_token_id=0,
                         enable_bias=True, tie_word_embeddings=True)

    return {
        "gpt2": ("gpt2-style", 1, GPT2Config(
            vocab_size=1201, n_embd=64, n_layer=2, n_head=4, n_positions=256, n_inner=None,
            activation_function="gelu_new", initializer_range=0.15, bos_token_id=0, eos_token_id=0,
            tie_word_embeddings=True)),
        "opt-pre": ("gpt2-style", 2, opt(True, 64)),
        "opt-post": ("gpt2-style", 3, opt(False, 32)),
        "qwen2": ("qwen2-style", 4, Qwen2Config(
            vocab_size=1000, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=2, max_position_embeddings=256, rope_theta=1000000.0, rms_norm_eps=1e-6,
            initializer_range=0.15, tie_word_embeddings=True, use_sliding_window=False,
            bos_token_id=0, eos_token_id=0)),
        "qwen2-swa": ("qwen2-style", 10, Qwen2Config(
            vocab_size=1000, hidden_size=64, intermediate_size=128, num_hidden_layers=4, num_attention_heads=4,
            num_key_value_heads=2, max_position_embeddings=256, rope_theta=1000000.0, rms_norm_eps=1e-6,
            initializer_range=0.15, tie_word_embeddings=True, use_sliding_window=True, sliding_window=6,
            max_window_layers=2, bos_token_id=0, eos_token_id=0)),
        "mistral": ("llama3-style", 5, MistralConfig(
            vocab_size=1501, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=2, max_position_embeddings=256, rope_theta=10000.0, rms_norm_eps=1e-5,
            sliding_window=12, initializer_range=0.15, tie_word_embeddings=False,
            bos_token_id=0, eos_token_id=1)),
        "qwen3": ("qwen2-style", 6, Qwen3Config(
            vocab_size=1000, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=2, head_dim=24, max_position_embeddings=256, rope_theta=1000000.0, rms_norm_eps=1e-6,
            initializer_range=0.15, tie_word_embeddings=False, use_sliding_window=False, attention_bias=False,
            bos_token_id=0, eos_token_id=2)),
        "llama3": ("llama3-style", 7, llama3(False)),
        "llama3-tied": ("llama3-style", 8, llama3(True)),
        "phi3": ("spm-legacy", 9, Phi3Config(
            vocab_size=512, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=2, max_position_embeddings=16384, original_max_position_embeddings=4096,
            rms_norm_eps=1e-5, initializer_range=0.15, tie_word_embeddings=False, sliding_window=24,
            partial_rotary_factor=0.75, bos_token_id=1, eos_token_id=2, pad_token_id=0,
            rope_scaling={"rope_type": "longrope", "rope_theta": 10000.0, "partial_rotary_factor": 0.75,
                          "short_factor": [1.0, 1.3, 1.9, 2.6, 4.1, 6.5][:rotary_half],
                          "long_factor": [1.1, 2.2, 4.5, 9.0, 17.0, 31.0][:rotary_half],
                          "original_max_position_embeddings": 4096})),
    }


def randomize(model, seed):
    import torch

    torch.manual_seed(seed)
    model.init_weights() if hasattr(model, "init_weights") else None
    torch.manual_seed(seed + 1000)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith(".bias"):
                p.normal_(0, 0.1)
            elif p.dim() == 1:  # LayerNorm / RMSNorm scales
                p.copy_(1 + 0.1 * torch.randn_like(p))


def run_case(model, ids):
    import torch

    greedy, top5 = [], []
    with torch.inference_mode():
        out = model(input_ids=torch.tensor([ids]), use_cache=True)
        past, logits = out.past_key_values, out.logits[0, -1]
        for step in range(N_GEN):
            lp = torch.log_softmax(logits.float(), dim=-1)
            vals, idx = torch.topk(lp, TOP_K)
            nxt = int(torch.argmax(logits).item())
            greedy.append(nxt)
            top5.append([[int(i), round(float(v), 6)] for i, v in zip(idx.tolist(), vals.tolist())])
            if step == N_GEN - 1:
                break
            out = model(input_ids=torch.tensor([[nxt]]), past_key_values=past, use_cache=True)
            past, logits = out.past_key_values, out.logits[0, -1]
    return greedy, top5


def check_no_cache(model, ids, greedy):
    """The cached loop must agree with one full pass over prompt + generated tokens (this is what
    makes sure the sliding window is applied the same way in prefill and in decode)."""
    import torch

    with torch.inference_mode():
        full = model(input_ids=torch.tensor([ids + greedy]), use_cache=False).logits[0]
    again = full[len(ids) - 1:-1].argmax(-1).tolist()
    assert again == greedy, "cached and uncached decoding disagree"


def check_variant_differs(out, cases, what, **overrides):
    """The same weights with `overrides` applied to the config (no sliding window, no rope scaling)
    must decode differently, or the fixture would not test what the overrides remove."""
    import torch
    from transformers import AutoModelForCausalLM

    other = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32, attn_implementation="eager", **overrides)
    other.eval()
    differing = 0
    with torch.inference_mode():
        for c in cases:
            ids = c["prompt_ids"] + c["greedy_ids"]
            logits = other(input_ids=torch.tensor([ids]), use_cache=False).logits[0]
            again = logits[len(c["prompt_ids"]) - 1:-1].argmax(-1).tolist()
            differing += sum(a != b for a, b in zip(again, c["greedy_ids"]))
    print(f"  [{os.path.basename(out)}] {what}: {differing} of {N_GEN * len(cases)} tokens would differ")
    assert differing > 0


def long_case(model, out, config, seed):
    """A random prompt just longer than original_max_position_embeddings in one uncached pass, so
    that every position is rotated with the long factors; the top-5 logprobs of its last positions.
    Also checks that the short factors would give other logprobs there."""
    import torch
    from transformers import AutoModelForCausalLM

    rope = config.rope_parameters
    original = rope["original_max_position_embeddings"]
    g = torch.Generator().manual_seed(seed)
    ids = [config.bos_token_id] + torch.randint(3, config.vocab_size, (original + 23,), generator=g).tolist()
    last = 8
    with torch.inference_mode():
        lp = torch.log_softmax(model(input_ids=torch.tensor([ids]), use_cache=False).logits[0, -last:].float(), -1)
        short = dict(rope, long_factor=rope["short_factor"])
        other = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32, attn_implementation="eager", rope_parameters=short)
        lp_short = torch.log_softmax(other(input_ids=torch.tensor([ids]), use_cache=False).logits[0, -last:].float(), -1)
    diff = float((lp - lp_short).abs().max())
    print(f"  [{os.path.basename(out)}] long case: {len(ids)} tokens, short factors would move logprobs by up to {diff:.3f}")
    assert diff > 1e-2
    top5 = []
    for row in lp:
        vals, idx = torch.topk(row, TOP_K)
        top5.append([[int(i), round(float(v), 6)] for i, v in zip(idx.tolist(), vals.tolist())])
    return {"prompt_ids": ids, "last_positions": last, "top5": top5}


def make(name, tok_name, seed, config):
    import torch
    import transformers
    from tokenizers import Tokenizer
    from transformers import AutoModelForCausalLM, PreTrainedTokenizerFast

    torch.set_num_threads(2)
    t0 = time.time()
    out = os.path.join(OUT, name)
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    config._attn_implementation = "eager"
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config, attn_implementation="eager", dtype=torch.float32)
    randomize(model, seed)
    model.eval()
    model.generation_config.do_sample = False
    model.save_pretrained(out, safe_serialization=True)

    tok_file = os.path.join(TOKENIZERS, f"{tok_name}.tokenizer.json")
    shutil.copyfile(tok_file, os.path.join(out, "tokenizer.json"))
    special = {"bos_token": None, "eos_token": None}
    raw = json.load(open(tok_file))
    by_id = {a["id"]: a["content"] for a in raw["added_tokens"]}
    if config.bos_token_id in by_id:
        special["bos_token"] = by_id[config.bos_token_id]
    eos = config.eos_token_id[0] if isinstance(config.eos_token_id, list) else config.eos_token_id
    if eos in by_id:
        special["eos_token"] = by_id[eos]
    PreTrainedTokenizerFast(tokenizer_file=tok_file, **{k: v for k, v in special.items() if v}).save_pretrained(out)
    # save_pretrained may rewrite tokenizer.json; the committed one is the original.
    shutil.copyfile(tok_file, os.path.join(out, "tokenizer.json"))

    # Reload from disk so the reference runs exactly what is committed.
    model = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32, attn_implementation="eager")
    model.eval()
    tok = Tokenizer.from_file(os.path.join(out, "tokenizer.json"))
    window = getattr(model.config, "sliding_window", None) if name in ("mistral", "phi3", "qwen2-swa") else None
    if name == "qwen2-swa":
        types = model.config.layer_types
        assert types == ["full_attention", "full_attention", "sliding_attention", "sliding_attention"], types

    cases = []
    for prompt in PROMPTS:
        ids = tok.encode(prompt, add_special_tokens=True).ids
        assert len(ids) + N_GEN <= model.config.max_position_embeddings
        greedy, top5 = run_case(model, ids)
        check_no_cache(model, ids, greedy)
        cases.append({"prompt": prompt, "prompt_ids": ids, "greedy_ids": greedy, "top5": top5})
        print(f"  [{name}] n={len(ids):3d} -> {greedy[:10]}")
    if window:
        longest = max(len(c["prompt_ids"]) for c in cases)
        assert window < longest, "the window must be shorter than a prompt"
        # Qwen2 applies the window by layer_types (overrides here land after its config derived them).
        off = {"layer_types": ["full_attention"] * model.config.num_hidden_layers} if name == "qwen2-swa" else {"sliding_window": None}
        check_variant_differs(out, cases, "without the window", **off)
        if name == "qwen2-swa":
            check_variant_differs(out, cases, "with the window on every layer",
                                  layer_types=["sliding_attention"] * model.config.num_hidden_layers)
    rope = model.config.rope_parameters or {}
    extra = {}
    if rope.get("rope_type") == "llama3":
        check_variant_differs(out, cases, "without llama3 scaling", rope_parameters={"rope_type": "default", "rope_theta": rope["rope_theta"]})
    if rope.get("rope_type") == "longrope":
        unit = [1.0] * len(rope["short_factor"])
        check_variant_differs(out, cases, "with unit short factors",
                              rope_parameters=dict(rope, short_factor=unit, long_factor=unit))
        extra["long_case"] = long_case(model, out, model.config, seed)

    doc = {"model": name, "source": f"transformers {transformers.__version__} / torch {torch.__version__}",
           "dtype": "float32", "n_generated": N_GEN, "sliding_window": window, **extra, "cases": cases}
    with open(os.path.join(out, "reference.json"), "w", encoding="utf-8") as f:
        head = json.dumps({k: v for k, v in doc.items() if k != "cases"}, ensure_ascii=False, separators=(",", ":"))[:-1]
        lines = [json.dumps(c, ensure_ascii=False, separators=(",", ":")) for c in cases]
        f.write(head + ',"cases":[\n' + ",\n".join(lines) + "\n]}\n")
    size = sum(os.path.getsize(os.path.join(out, f)) for f in os.listdir(out))
    assert size < 2_000_000, f"{name} is {size} bytes"
    margins = [t[0][1] - t[1][1] for c in cases for t in c["top5"]]
    print(f"[{name}] {size / 1024:.0f} KB, min top-2 margin {min(margins):.4f}, {time.time() - t0:.1f}s: "
          f"{sorted(os.listdir(out))}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", nargs="*", help="family names to make (default: all)")
    a = ap.parse_args()
    fams = families()
    for name in a.only or list(fams):
        tok_name, seed, config = fams[name]
        make(name, tok_name, seed, config)


if __name__ == "__main__":
    sys.exit(main())
