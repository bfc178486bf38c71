#!/usr/bin/env bash
# Offline throughput of Swiftlet's engine beside two anchors on the same GGUF file, in one run:
#   - swiftlet bench throughput: NUM_PROMPTS requests of INPUT_LEN prompt tokens, OUTPUT_LEN output
#     tokens each (EOS ignored), all queued at once; output tokens per second of wall time.
#   - llama.cpp's llama-batched-bench ($LLAMA_CPP_DIR/build/bin) at 16, 32 and 64 parallel
#     sequences, with separate and with unified KV buffers; its best B x OUTPUT_LEN / total time
#     (prefill included) is the anchor.
#   - Hugging Face transformers, bf16, batch 32 (Benchmarks/hf_throughput.py).
# Environment: SWIFTLET_MODEL_PATH, LLAMA_CPP_DIR, NUM_PROMPTS (256), INPUT_LEN (128), OUTPUT_LEN (128),
# KV_CACHE_MEMORY (2e9 bytes), HF_PROMPTS (64: two batches; the rate is per batch), SKIP_HF, SKIP_LLAMA,
# SWIFTLET_ARGS (extra engine flags), SWIFTLET_BIN (an already built release binary; default: build one).
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${SWIFTLET_MODEL_PATH:-${SWIFTLET_MODEL_DIR:-$HOME/.cache/swiftlet/models}/SmolLM2-135M-Instruct.Q4_1.gguf}
N=${NUM_PROMPTS:-256} IN=${INPUT_LEN:-128} OUT=${OUTPUT_LEN:-128}
LOG=${LOG_DIR:-/tmp/swiftlet-bench}
mkdir -p "$LOG"

swiftlet=${SWIFTLET_BIN:-}
if [ -z "$swiftlet" ]; then
    swift build -c release --product swiftlet >/dev/null
    swiftlet=.build/release/swiftlet
fi
echo "== Swiftlet"
# shellcheck disable=SC2086
"$swiftlet" bench throughput --model "$MODEL" --num-prompts "$N" --input-len "$IN" --output-len "$OUT" \
    --kv-cache-memory "${KV_CACHE_MEMORY:-2e9}" ${SWIFTLET_ARGS:-} 2>"$LOG/swiftlet.err" | tee "$LOG/swiftlet.txt"
ours=$(sed -n 's/.* \([0-9.]*\) output tokens\/s$/\1/p' "$LOG/swiftlet.txt" | head -1)

llama=""
if [ -z "${SKIP_LLAMA:-}" ] && [ -n "${LLAMA_CPP_DIR:-}" ] && [ -x "$LLAMA_CPP_DIR/build/bin/llama-batched-bench" ]; then
    echo "== llama.cpp llama-batched-bench"
    : >"$LOG/llama.txt"
    # A unified KV buffer makes every sequence attend over the whole buffer; separate buffers are
    # usually faster. Both are tried, and the best row of either counts.
    for kv in -no-kvu -kvu; do
        "$LLAMA_CPP_DIR/build/bin/llama-batched-bench" -m "$MODEL" -t "$(nproc)" -c $((64 * (IN + OUT))) $kv \
            -npp "$IN" -ntg "$OUT" -npl 16,32,64 2>>"$LOG/llama.err" | tee -a "$LOG/llama.txt"
    done
    # Rows: | PP | TG | B | N_KV | T_PP | S_PP | T_TG | S_TG | T | S |; output rate = B * TG / T.
    llama=$(awk -F'|' '$2 ~ /[0-9]/ { r = $4 * $3 / $10; if (r > best) { best = r; b = $4 } } END { if (best) printf "%.1f", best }' "$LOG/llama.txt")
    echo "llama.cpp best: $llama output tokens/s (prefill included)"
else
    echo "== llama.cpp skipped (set LLAMA_CPP_DIR to a built llama.cpp)"
fi

hf=""
if [ -z "${SKIP_HF:-}" ] && python3 -c "import torch, transformers, gguf" 2>/dev/null; then
    echo "== Hugging Face transformers"
    python3 Benchmarks/hf_throughput.py --model "$MODEL" --batch 32 --num-prompts "${HF_PROMPTS:-64}" \
        --input-len "$IN" --output-len "$OUT" 2>"$LOG/hf.err" | tee "$LOG/hf.txt"
    hf=$(sed -n 's/.*: \([0-9.]*\) output tokens\/s$/\1/p' "$LOG/hf.txt" | tail -1)
else
    echo "== transformers skipped (pip install torch transformers gguf accelerate)"
fi

echo "== Summary (output tokens/s, prefill included)"
echo "swiftlet: $ours"
[ -n "$llama" ] && awk -v a="$ours" -v b="$llama" 'BEGIN { printf "llama.cpp: %s (swiftlet / llama.cpp = %.2fx)\n", b, a / b }'
[ -n "$hf" ] && awk -v a="$ours" -v b="$hf" 'BEGIN { printf "transformers bf16 batch 32: %s (swiftlet / transformers = %.2fx)\n", b, a / b }'
exit 0
