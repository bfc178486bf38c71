#!/usr/bin/env python3
"""Write same-sized random-weight checkpoints of LLaMA, GPT-2 and OPT (~125M parameters each) as
Hugging Face directories, for `swiftlet bench throughput --model DIR` (docs/benchmarks-families.md).

All three have 12 layers of width 768 with 12 heads of 64, a 50,272-token vocabulary, a tied head,
a 2,048-position context and the same feed-forward weight count per layer: GPT-2 and OPT have two
768x3072 matrices, LLaMA three 768x2048 ones (SwiGLU). Weights are stored in bf16 (about 250 MB a
directory); the engine's fast path requantizes them at load either way. The tokenizer is the
small GPT-2-style one of the test fixtures: the benchmark feeds random ids and never detokenizes.

Usage:

    python3 scripts/make_family_bench_checkpoints.py OUT_DIR     # writes OUT_DIR/{llama,gpt2,opt}

Requirements: pip install torch transformers safetensors
"""

from __future__ import annotations

import os
import shutil
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOKENIZER_DIR = os.path.join(ROOT, "Tests", "Fixtures", "families", "gpt2")

VOCAB, HIDDEN, LAYERS, HEADS, CONTEXT = 50272, 768, 12, 12, 2048


def configs():
    from transformers import GPT2Config, LlamaConfig, OPTConfig

    return {
        "llama": LlamaConfig(vocab_size=VOCAB, hidden_size=HIDDEN, intermediate_size=2048, num_hidden_layers=LAYERS,
                             num_attention_heads=HEADS, num_key_value_heads=HEADS, max_position_embeddings=CONTEXT,
                             rms_norm_eps=1e-5, tie_word_embeddings=True, bos_token_id=0, eos_token_id=0),
        "gpt2": GPT2Config(vocab_size=VOCAB, n_embd=HIDDEN, n_layer=LAYERS, n_head=HEADS, n_inner=4 * HIDDEN,
                           n_positions=CONTEXT, activation_function="gelu_new", bos_token_id=0, eos_token_id=0),
        "opt": OPTConfig(vocab_size=VOCAB, hidden_size=HIDDEN, num_hidden_layers=LAYERS, ffn_dim=4 * HIDDEN,
                         num_attention_heads=HEADS, max_position_embeddings=CONTEXT, do_layer_norm_before=True,
                         word_embed_proj_dim=HIDDEN, activation_function="relu", pad_token_id=1, bos_token_id=0,
                         eos_token_id=0, tie_word_embeddings=True),
    }


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    import torch
    from transformers import AutoModelForCausalLM

    out = sys.argv[1]
    for name, config in configs().items():
        torch.manual_seed(0)
        model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
        target = os.path.join(out, name)
        model.save_pretrained(target, safe_serialization=True)
        for f in ("tokenizer.json", "tokenizer_config.json"):
            shutil.copy(os.path.join(TOKENIZER_DIR, f), target)
        params = sum(p.numel() for p in model.parameters())
        print(f"{name}: {params / 1e6:.1f}M parameters -> {target}")


if __name__ == "__main__":
    main()
