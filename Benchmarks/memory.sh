#!/usr/bin/env bash
# The paper's Fig. 2 on this engine: share of KV memory holding real tokens, paged vs contiguous
# reservations (Orca Max / Pow2 / Oracle), for NUM_PROMPTS requests with ShareGPT-like lengths
# (prompt mean 161, output mean 338) under a KV budget small enough to force preemption.
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${SWIFTLET_MODEL_PATH:-${SWIFTLET_MODEL_DIR:-$HOME/.cache/swiftlet/models}/SmolLM2-135M-Instruct.Q4_1.gguf}
swift build -c release --product swiftlet >/dev/null
# 8,192 tokens of bf16 KV for SmolLM2-135M (23,040 bytes a token): far less than 64 requests need at once.
.build/release/swiftlet bench memory --model "$MODEL" --num-prompts "${NUM_PROMPTS:-64}" \
    --kv-cache-memory "${KV_CACHE_MEMORY:-188743680}" ${SWIFTLET_ARGS:-}
