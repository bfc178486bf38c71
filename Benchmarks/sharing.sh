#!/usr/bin/env bash
# The paper's Fig. 15 on this engine: KV blocks saved by block sharing for parallel sampling
# (n = 2, 4, 6) and beam search (width 2, 4, 6), on NUM_PROMPTS requests with ShareGPT-like lengths
# (prompt mean 161, output mean 338, as Benchmarks/memory.sh), and the throughput of the same runs
# with sharing turned off (every fork copies its blocks). The KV budget is the one memory.sh uses,
# small enough that memory decides how many sequences run at once.
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${SWIFTLET_MODEL_PATH:-${SWIFTLET_MODEL_DIR:-$HOME/.cache/swiftlet/models}/SmolLM2-135M-Instruct.Q4_1.gguf}
swift build -c release --product swiftlet >/dev/null
.build/release/swiftlet bench sharing --model "$MODEL" --num-prompts "${NUM_PROMPTS:-8}" \
    --modes "${MODES:-parallel,beam}" --widths "${WIDTHS:-2,4,6}" \
    --kv-cache-memory "${KV_CACHE_MEMORY:-188743680}" ${SWIFTLET_ARGS:-}
