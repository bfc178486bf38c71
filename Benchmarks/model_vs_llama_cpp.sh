#!/usr/bin/env bash
# Forward-pass speed of Swiftlet beside llama.cpp on the same GGUF, same machine, same run.
#
#   LLAMA_CPP_DIR=/path/to/llama.cpp Benchmarks/model_vs_llama_cpp.sh [model.gguf] [rounds]
#
# LLAMA_CPP_DIR is a llama.cpp source tree built with CMake into build/ (llama-bench and
# llama-batched-bench). Rounds alternate the two engines so that machine noise hits both alike.
# SWIFTLET_BIN names an already built release binary (default: build .build/release/swiftlet).
set -euo pipefail
cd "$(dirname "$0")/.."
model="${1:-${SWIFTLET_MODEL_DIR:-$HOME/.cache/swiftlet/models}/SmolLM2-135M-Instruct.Q4_1.gguf}"
rounds="${2:-2}"
bin="${LLAMA_CPP_DIR:?set LLAMA_CPP_DIR to a llama.cpp tree built with CMake}/build/bin"
threads="${THREADS:-2}"
swiftlet="${SWIFTLET_BIN:-}"
if [ -z "$swiftlet" ]; then
    swift build -c release --product swiftlet >/dev/null
    swiftlet=.build/release/swiftlet
fi
for r in $(seq "$rounds"); do
    echo "== round $r: swiftlet"
    SWIFTLET_THREADS=$threads "$swiftlet" bench model --model "$model" --repetitions 3 2>/dev/null
    echo "== round $r: llama.cpp llama-bench (pp512, tg128)"
    "$bin/llama-bench" -m "$model" -t "$threads" -p 512 -n 128 -r 3 2>/dev/null | grep -E "pp512|tg128"
    echo "== round $r: llama.cpp llama-batched-bench (32 sequences, 256-token prompts, 32 generated each)"
    "$bin/llama-batched-bench" -m "$model" -t "$threads" -c 16384 -npp 256 -ntg 32 -npl 32 2>/dev/null | grep -E "^\|? *256" || true
done
