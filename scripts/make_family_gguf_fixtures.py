#!/usr/bin/env python3
"""Convert the tiny family checkpoints to GGUF with llama.cpp's own converter, so the GGUF loaders
are tested against files laid out exactly as llama.cpp lays them out.

Writes Tests/Fixtures/families/<name>.f32.gguf for

    gpt2          from Tests/Fixtures/families/gpt2/ (made by scripts/make_family_fixtures.py)
    qwen3         from families/qwen3/: per-head q/k norms as attn_q_norm / attn_k_norm
    llama3        from families/llama3/: the converter permutes Q and K into adjacent rotary pairs and
                  writes Llama 3 scaling as a rope_freqs.weight tensor of frequency divisors
    llama3-tied   from families/llama3-tied/: the same without output.weight
    phi3          from families/phi3/: fused attn_qkv and ffn_up (gate then up), LongRoPE as the
                  rope_factors_short/long.weight tensors and rope.scaling.* metadata

Each GGUF must reproduce its directory's reference.json. It sits next to the directory rather than
in it, because make_family_fixtures.py recreates the directory; run this script after it. OPT has no
GGUF architecture in llama.cpp.

Usage:

    LLAMA_CPP_DIR=/path/to/llama.cpp python3 scripts/make_family_gguf_fixtures.py          # all
    LLAMA_CPP_DIR=/path/to/llama.cpp python3 scripts/make_family_gguf_fixtures.py phi3     # some

Requirements: a llama.cpp checkout (for convert_hf_to_gguf.py and its gguf-py), and
pip install torch transformers gguf sentencepiece (the Qwen converter imports sentencepiece before
falling back to tokenizer.json)

Three things in the fixture checkpoints do not match what the converter expects of a published
model, and all are bridged here rather than by changing the checkpoints:

* transformers no longer writes GPT-2's `n_ctx` (it equals `n_positions`), but the converter reads
  it for `gpt2.context_length`; the conversion runs on a temporary copy with `n_ctx` added.
* The converter recognises a BPE pre-tokenizer by hashing how a known tokenizer splits a test
  string, and our small trained tokenizers are not ones it knows. Their pre-tokenizers split with
  GPT-2's, Llama 3's or Qwen2's regex (checked below), which llama.cpp calls "gpt-2", "llama-bpe"
  and "qwen2", so that name is supplied when the hash is not recognised.
* The converter reads a Phi-3 vocabulary only from a SentencePiece tokenizer.model, which the
  fixture lacks; its tokenizer.json is read with the converter's Llama HF vocabulary reader
  instead. The scores it assigns do not reproduce the trained merges exactly, so the phi3 GGUF
  tokenizes one fixture prompt differently; the tests feed the reference prompt ids.
"""

from __future__ import annotations

import json
import os
import runpy
import shutil
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FAMILIES = os.path.join(ROOT, "Tests", "Fixtures", "families")

# family directory -> GGUF architecture the converter must produce
CONVERTED = {"gpt2": "gpt2", "qwen3": "qwen3", "llama3": "llama", "llama3-tied": "llama", "phi3": "phi3"}

# llama.cpp's pre-tokenizer names, by the split regex of a ByteLevel pre-tokenizer sequence.
LLAMA3_REGEX = ("(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*"
                "|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+")
QWEN2_REGEX = LLAMA3_REGEX.replace("\\p{N}{1,3}", "\\p{N}")
SPLIT_NAMES = {LLAMA3_REGEX: "llama-bpe", QWEN2_REGEX: "qwen2"}


def llama_cpp_dir() -> str:
    d = os.environ.get("LLAMA_CPP_DIR")
    if not d:
        sys.exit("set LLAMA_CPP_DIR to a llama.cpp checkout")
    if not os.path.isfile(os.path.join(d, "convert_hf_to_gguf.py")):
        sys.exit(f"no convert_hf_to_gguf.py in {d}")
    return d


def pre_tokenizer_name(directory: str) -> str:
    """llama.cpp's name for the fixture's pre-tokenizer: "gpt-2" for plain ByteLevel with GPT-2's
    regex, else the name of a known split regex followed by a regex-free ByteLevel."""
    tok = json.load(open(os.path.join(directory, "tokenizer.json"), encoding="utf-8"))
    pre = tok.get("pre_tokenizer") or {}
    if tok.get("normalizer") is None and pre.get("type") == "ByteLevel" and pre.get("use_regex", True) \
            and not pre.get("add_prefix_space", False):
        return "gpt-2"
    steps = pre.get("pretokenizers", []) if pre.get("type") == "Sequence" else []
    if len(steps) == 2 and steps[0].get("type") == "Split" and steps[1].get("type") == "ByteLevel" \
            and not steps[1].get("use_regex", True) and not steps[1].get("add_prefix_space", False):
        name = SPLIT_NAMES.get(steps[0].get("pattern", {}).get("Regex"))
        if name:
            return name
    sys.exit(f"{directory}: pre-tokenizer {pre} is not one this script can name for the converter")


def convert(llama: str, name: str) -> str:
    src = os.path.join(FAMILIES, name)
    out = os.path.join(FAMILIES, f"{name}.f32.gguf")
    # Phi-3's vocabulary is SentencePiece-style BPE, read by the converter itself (below).
    pre_name = None if name == "phi3" else pre_tokenizer_name(src)
    with tempfile.TemporaryDirectory() as tmp:
        work = os.path.join(tmp, name)
        shutil.copytree(src, work, ignore=shutil.ignore_patterns("reference.json"))
        cfg_path = os.path.join(work, "config.json")
        cfg = json.load(open(cfg_path, encoding="utf-8"))
        if "n_positions" in cfg:
            cfg.setdefault("n_ctx", cfg["n_positions"])
        json.dump(cfg, open(cfg_path, "w", encoding="utf-8"), indent=2)

        # The converter is a script; run it in this process so its vocabulary hook can be wrapped.
        sys.path.insert(0, llama)
        sys.path.insert(1, os.path.join(llama, "gguf-py"))
        from conversion.base import TextModel

        original = TextModel.get_vocab_base_pre

        def pre_or_named(self, tokenizer):
            try:
                return original(self, tokenizer)
            except NotImplementedError:
                return pre_name

        TextModel.get_vocab_base_pre = pre_or_named
        from conversion.phi import Phi3MiniModel

        phi3_vocab = Phi3MiniModel.set_vocab
        # The converter reads a Phi-3 vocabulary only from tokenizer.model; the fixture has the
        # same SentencePiece-style BPE as tokenizer.json, which its Llama HF reader takes.
        Phi3MiniModel.set_vocab = lambda self: self._set_vocab_llama_hf()
        argv = sys.argv
        sys.argv = [os.path.join(llama, "convert_hf_to_gguf.py"), work, "--outtype", "f32", "--outfile", out]
        try:
            runpy.run_path(sys.argv[0], run_name="__main__")
        finally:
            sys.argv = argv
            TextModel.get_vocab_base_pre = original
            Phi3MiniModel.set_vocab = phi3_vocab
    return out


def verify(path: str, arch: str) -> None:
    from gguf import GGUFReader

    r = GGUFReader(path)
    field = r.fields["general.architecture"]
    got = bytes(field.parts[field.data[0]]).decode()
    assert got == arch, f"{path}: architecture {got}, expected {arch}"
    size = os.path.getsize(path)
    assert size < 2_000_000, f"{path} is {size} bytes"
    print(f"[{os.path.basename(path)}] {size / 1024:.0f} KB, {len(r.tensors)} tensors:")
    for t in r.tensors:
        print(f"  {t.name:28s} {t.tensor_type.name:4s} GGML shape {list(map(int, t.shape))}")


def main():
    llama = llama_cpp_dir()
    only = sys.argv[1:]
    for name, arch in CONVERTED.items():
        if not only or name in only:
            verify(convert(llama, name), arch)


if __name__ == "__main__":
    sys.exit(main())
