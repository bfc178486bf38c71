#!/usr/bin/env python3
"""Writes the small safetensors checkpoints the Swift tests read, into Tests/Fixtures/safetensors/.

Usage: python3 scripts/make_safetensors_fixtures.py   (needs `pip install safetensors numpy torch`;
torch only because numpy has no bfloat16)

Outputs:
  single/model.safetensors       one file with F32, F16 and BF16 weights, a scalar, an empty
                                 tensor, I64/F64 tensors (readable but not usable as weights) and
                                 `__metadata__` with a non-ASCII value.
  sharded/model-0000N-of-00002.safetensors + model.safetensors.index.json
                                 the same kind of checkpoint split in two shards, as Hugging Face
                                 writes large models.
  expected.json                  per directory and tensor: dtype, shape (outermost first) and the
                                 values (F16/BF16/F32 as float32, exactly representable in JSON;
                                 F64 and I64 as stored).

The output is deterministic: the values are fixed ramps, not random numbers.
"""
import json
import os

import torch
from safetensors.torch import save_file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests", "Fixtures", "safetensors")


def ramp(n, scale=0.125, offset=-1.0):
    return torch.arange(n, dtype=torch.float64) * scale + offset


def values(t):
    """The tensor's values as JSON numbers: F64 as stored, other floats as float32, ints as ints."""
    flat = t.reshape(-1)
    if t.dtype == torch.float64:
        return [float(v) for v in flat.tolist()]
    if t.is_floating_point():
        return [float(v) for v in flat.to(torch.float32).tolist()]
    return [int(v) for v in flat.tolist()]


def describe(tensors):
    out = {}
    for name, t in tensors.items():
        dtype = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.int64: "I64", torch.float64: "F64"}[t.dtype]
        out[name] = {
            "dtype": dtype,
            "shape": list(t.shape),
            "values": values(t),
        }
    return out


def main():
    os.makedirs(os.path.join(OUT, "single"), exist_ok=True)
    os.makedirs(os.path.join(OUT, "sharded"), exist_ok=True)
    expected = {}

    single = {
        "model.embed_tokens.weight": ramp(12).to(torch.float32).reshape(4, 3),
        # 1/3 is not representable: checks rounding comes from the stored half, not recomputation.
        "model.norm.weight": (ramp(6, 1 / 3, 0.5)).to(torch.float16).reshape(2, 3),
        "lm_head.weight": torch.tensor([1.0, -2.5, 3.0e38, 1e-40, -0.0], dtype=torch.bfloat16).reshape(5),
        "scalar": torch.tensor(42.5, dtype=torch.float32),
        "empty": torch.zeros((0, 4), dtype=torch.float32),
        "position_ids": torch.tensor([0, 1, -2, 2**40], dtype=torch.int64),
        "double": torch.tensor([0.1, -1e300], dtype=torch.float64),
    }
    save_file(single, os.path.join(OUT, "single", "model.safetensors"), metadata={"format": "pt", "note": "ünïcode ✓"})
    expected["single"] = describe(single)

    shard1 = {
        "model.layers.0.self_attn.q_proj.weight": ramp(8).to(torch.float32).reshape(2, 4),
        "model.layers.0.self_attn.q_proj.bias": ramp(2, 0.5).to(torch.bfloat16),
    }
    shard2 = {
        "model.layers.1.self_attn.q_proj.weight": ramp(8, -0.25, 2.0).to(torch.float16).reshape(2, 4),
        "model.norm.weight": torch.ones(4, dtype=torch.float32),
    }
    names = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
    total = 0
    weight_map = {}
    for shard, file in zip([shard1, shard2], names):
        save_file(shard, os.path.join(OUT, "sharded", file), metadata={"format": "pt"})
        for name, t in shard.items():
            weight_map[name] = file
            total += t.numel() * t.element_size()
    with open(os.path.join(OUT, "sharded", "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}, f, indent=2)
        f.write("\n")
    expected["sharded"] = describe({**shard1, **shard2})

    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1, ensure_ascii=False, allow_nan=False)
        f.write("\n")
    total_bytes = sum(os.path.getsize(os.path.join(d, n)) for d, _, ns in os.walk(OUT) for n in ns)
    print(f"wrote {OUT} ({total_bytes} bytes)")


if __name__ == "__main__":
    main()
