#!/usr/bin/env python3
"""Convert the tiny family checkpoints to GGUF with llama.cpp's own converter, so the GGUF loaders
are tested against files laid out exactly as llama.cpp lays them out.

Writes Tests/Fixtures/families/<name>.f32.gguf for

    gpt2          from Tests/Fixtures/families/gpt2/ (made by scripts/make_family_fixtures.py)

The GGUF must reproduce that directory's reference.json. It sits next to the directory rather than
in it, because make_family_fixtures.py recreates the directory; run this script after it. OPT has no
GGUF architecture in llama.cpp, and the Llama-family fixtures already load from GGUF through the
same code as their directories, so only GPT-2 is converted.

Usage:

    LLAMA_CPP_DIR=/path/to/llama.cpp python3 scripts/make_family_gguf_fixtures.py

Requirements: a llama.cpp checkout (for convert_hf_to_gguf.py and its gguf-py), and
pip install torch transformers gguf

Two things in the fixture checkpoints do not match what the converter expects of a published
model, and both are bridged here rather than by changing the checkpoints:

* transformers no longer writes GPT-2's `n_ctx` (it equals `n_positions`), but the converter reads
  it for `gpt2.context_length`; the conversion runs on a temporary copy with `n_ctx` added.
* The converter recognises a BPE pre-tokenizer by hashing how a known tokenizer splits a test
  string, and our small trained tokenizer is not one it knows. Its pre-tokenizer is plain
  ByteLevel with GPT-2's regex (checked below), which llama.cpp calls "gpt-2", so that name is
  supplied when the hash is not recognised.
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
CONVERTED = {"gpt2": "gpt2"}


def llama_cpp_dir() -> str:
    d = os.environ.get("LLAMA_CPP_DIR")
    if not d:
        sys.exit("set LLAMA_CPP_DIR to a llama.cpp checkout")
    if not os.path.isfile(os.path.join(d, "convert_hf_to_gguf.py")):
        sys.exit(f"no convert_hf_to_gguf.py in {d}")
    return d


def check_gpt2_pre_tokenizer(directory: str) -> None:
    """The fallback name "gpt-2" is only right for a byte-level pre-tokenizer using GPT-2's regex."""
    tok = json.load(open(os.path.join(directory, "tokenizer.json"), encoding="utf-8"))
    pre = tok.get("pre_tokenizer") or {}
    if tok.get("normalizer") is not None or pre.get("type") != "ByteLevel" or not pre.get("use_regex", True) \
            or pre.get("add_prefix_space", False):
        sys.exit(f"{directory}: pre-tokenizer {pre} is not GPT-2's; cannot name it for the converter")


def convert(llama: str, name: str) -> str:
    src = os.path.join(FAMILIES, name)
    out = os.path.join(FAMILIES, f"{name}.f32.gguf")
    check_gpt2_pre_tokenizer(src)
    with tempfile.TemporaryDirectory() as tmp:
        work = os.path.join(tmp, name)
        shutil.copytree(src, work, ignore=shutil.ignore_patterns("reference.json"))
        cfg_path = os.path.join(work, "config.json")
        cfg = json.load(open(cfg_path, encoding="utf-8"))
        cfg.setdefault("n_ctx", cfg["n_positions"])
        json.dump(cfg, open(cfg_path, "w", encoding="utf-8"), indent=2)

        # The converter is a script; run it in this process so its vocabulary hook can be wrapped.
        sys.path.insert(0, llama)
        sys.path.insert(1, os.path.join(llama, "gguf-py"))
        from conversion.base import TextModel

        original = TextModel.get_vocab_base_pre

        def pre_or_gpt2(self, tokenizer):
            try:
                return original(self, tokenizer)
            except NotImplementedError:
                return "gpt-2"

        TextModel.get_vocab_base_pre = pre_or_gpt2
        argv = sys.argv
        sys.argv = [os.path.join(llama, "convert_hf_to_gguf.py"), work, "--outtype", "f32", "--outfile", out]
        try:
            runpy.run_path(sys.argv[0], run_name="__main__")
        finally:
            sys.argv = argv
            TextModel.get_vocab_base_pre = original
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
    for name, arch in CONVERTED.items():
        verify(convert(llama, name), arch)


if __name__ == "__main__":
    sys.exit(main())
