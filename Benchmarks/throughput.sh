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
# SWIFTLET_ARGS (extra engine flags), SWIFTLET_BIN (an already built release binary; default: build one),
# ROUNDS (1): Swiftlet and llama.cpp run in turn this many times, each round giving its own ratio,
# since these machines change speed from minute to minute; the summary adds the median ratio.
# LLAMA_NPL (16,32,64) and LLAMA_KV ("-no-kvu -kvu") narrow llama.cpp's configurations to save time.
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
ROUNDS=${ROUNDS:-1}
run_llama=""
if [ -z "${SKIP_LLAMA:-}" ] && [ -n "${LLAMA_CPP_DIR:-}" ] && [ -x "$LLAMA_CPP_DIR/build/bin/llama-batched-bench" ]; then
    run_llama=1
fi
ours_all="" llama_all="" ratios=""
for r in $(seq 1 "$ROUNDS"); do
    echo "== round $r: Swiftlet"
    # shellcheck disable=SC2086
    "$swiftlet" bench throughput --model "$MODEL" --num-prompts "$N" --input-len "$IN" --output-len "$OUT" \
        --kv-cache-memory "${KV_CACHE_MEMORY:-2e9}" ${SWIFTLET_ARGS:-} 2>"$LOG/swiftlet.$r.err" | tee "$LOG/swiftlet.$r.txt"
    ours=$(sed -n 's/.* \([0-9.]*\) output tokens\/s$/\1/p' "$LOG/swiftlet.$r.txt" | head -1)
    ours_all="$ours_all $ours"
    [ -n "$run_llama" ] || continue
    echo "== round $r: llama.cpp llama-batched-bench"
    : >"$LOG/llama.$r.txt"
    # A unified KV buffer makes every sequence attend over the whole buffer; separate buffers are
    # usually faster. Both are tried, and the best row of either counts.
    for kv in ${LLAMA_KV:--no-kvu -kvu}; do
        "$LLAMA_CPP_DIR/build/bin/llama-batched-bench" -m "$MODEL" -t "$(nproc)" -c $((64 * (IN + OUT))) $kv \
            -npp "$IN" -ntg "$OUT" -npl "${LLAMA_NPL:-16,32,64}" 2>>"$LOG/llama.err" | tee -a "$LOG/llama.$r.txt"
    done
    # Rows: | PP | TG | B | N_KV | T_PP | S_PP | T_TG | S_TG | T | S |; output rate = B * TG / T.
    llama=$(awk -F'|' '$2 ~ /[0-9]/ { r = $4 * $3 / $10; if (r > best) { best = r; b = $4 } } END { if (best) printf "%.1f", best }' "$LOG/llama.$r.txt")
    if [ -z "$llama" ] || [ -z "$ours" ]; then
        echo "round $r: no rate from one side (see $LOG/swiftlet.$r.err and $LOG/llama.err)"
        continue
    fi
    echo "llama.cpp best: $llama output tokens/s (prefill included)"
    llama_all="$llama_all $llama"
    ratios="$ratios $(awk -v a="$ours" -v b="$llama" 'BEGIN { printf "%.2f", a / b }')"
done
[ -n "$run_llama" ] || echo "== llama.cpp skipped (set LLAMA_CPP_DIR to a built llama.cpp)"

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
echo "swiftlet, by round:$ours_all"
if [ -n "$ratios" ]; then
    echo "llama.cpp, by round:$llama_all"
    echo "swiftlet / llama.cpp, by round:$ratios"
    echo "$ratios" | tr ' ' '\n' | grep . | sort -n | awk '{ v[NR] = $1 } END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "median ratio: %.2fx over %d rounds\n", m, NR }'
fi
[ -n "$hf" ] && awk -v a="$ours" -v b="$hf" 'BEGIN { printf "transformers bf16 batch 32: %s (last swiftlet round / transformers = %.2fx)\n", b, a / b }'
exit 0
