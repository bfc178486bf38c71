#!/usr/bin/env bash
# Automatic prefix caching: NUM_PROMPTS requests that share a PREFIX_LEN-token prefix, each with its
# own INPUT_LEN-token question and OUTPUT_LEN output tokens, run with prefix caching on and then off.
# Reports the prefix-cache hit rate (share of prompt tokens served from the cache) and the speed-up.
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${SWIFTLET_MODEL_PATH:-${SWIFTLET_MODEL_DIR:-$HOME/.cache/swiftlet/models}/SmolLM2-135M-Instruct.Q4_1.gguf}
N=${NUM_PROMPTS:-64} PREFIX=${PREFIX_LEN:-400} IN=${INPUT_LEN:-24} OUT=${OUTPUT_LEN:-32}
LOG=${LOG_DIR:-/tmp/swiftlet-bench}
mkdir -p "$LOG"
swift build -c release --product swiftlet >/dev/null
for mode in enable no-enable; do
    echo "== --$mode-prefix-caching"
    .build/release/swiftlet bench throughput --model "$MODEL" --num-prompts "$N" --prefix-len "$PREFIX" \
        --input-len "$IN" --output-len "$OUT" --kv-cache-memory "${KV_CACHE_MEMORY:-1e9}" "--$mode-prefix-caching" \
        2>"$LOG/prefix-$mode.err" | tee "$LOG/prefix-$mode.txt"
done
on=$(sed -n 's/.* \([0-9.]*\) output tokens\/s$/\1/p' "$LOG/prefix-enable.txt")
off=$(sed -n 's/.* \([0-9.]*\) output tokens\/s$/\1/p' "$LOG/prefix-no-enable.txt")
awk -v a="$on" -v b="$off" 'BEGIN { printf "== prefix caching on / off: %s / %s output tokens/s = %.2fx\n", a, b, a / b }'
