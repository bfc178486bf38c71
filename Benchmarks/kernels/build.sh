#!/bin/sh
# Builds the kernel benchmarks straight from the C sources (not part of the Swift package):
# the matmul/thread-pool benchmark and the whole decode step (step.c), which share bench_random.h.
set -e
here=$(cd "$(dirname "$0")" && pwd)
src="$here/../../Sources/CSwiftletKernels"
CC=${CC:-clang}
out=${1:-/tmp/swiftlet-kbench}
flags="-O3 -fno-math-errno -ffp-contract=fast -I$src/include"
"$CC" $flags "$here/bench.c" "$src/sw_pool.c" "$src/sw_quant.c" "$src/sw_quant_ref.c" "$src/sw_quant_q8a.c" "$src/sw_convert.c" "$src/sw_bf16.c" "$src/sw_qpack.c" "$src/sw_quant_avx2.c" "$src/sw_quant_avxvnni.c" "$src/sw_bf16_avx2.c" "$src/sw_quant_avx512.c" "$src/sw_cpu.c" \
    -o "$out" -lpthread -lm
echo "built $out"
"$CC" $flags "$here/step.c" "$src/sw_pool.c" "$src/sw_quant.c" "$src/sw_quant_ref.c" "$src/sw_quant_q8a.c" "$src/sw_convert.c" "$src/sw_bf16.c" "$src/sw_qpack.c" "$src/sw_quant_avx2.c" "$src/sw_quant_avxvnni.c" "$src/sw_bf16_avx2.c" "$src/sw_quant_avx512.c" "$src/sw_cpu.c" \
    "$src/sw_attention.c" "$src/sw_attention_avx512.c" "$src/sw_attention_avx512_decode.c" "$src/sw_attention_avx2.c" "$src/sw_kv_cache.c" "$src/sw_ops.c" "$src/sw_ops_avx2.c" -o "${2:-/tmp/swiftlet-kstep}" -lpthread -lm
echo "built ${2:-/tmp/swiftlet-kstep}"
"$CC" $flags "$here/prefill_attention.c" "$src/sw_pool.c" "$src/sw_attention.c" "$src/sw_attention_avx512.c" "$src/sw_attention_avx512_decode.c" \
    "$src/sw_attention_avx2.c" "$src/sw_kv_cache.c" "$src/sw_cpu.c" \
    -o "${3:-/tmp/swiftlet-kprefill}" -lpthread -lm
echo "built ${3:-/tmp/swiftlet-kprefill}"
"$CC" -O2 "$here/machine_limits.c" -o "${4:-/tmp/swiftlet-klimits}" -lpthread
echo "built ${4:-/tmp/swiftlet-klimits}"
"$CC" $flags "$here/sampling.c" "$src/sw_sampling.c" "$src/sw_sampling_avx2.c" "$src/sw_sampling_avx512.c" \
    "$src/sw_sampling_neon.c" "$src/sw_cpu.c" -o "${5:-/tmp/swiftlet-ksampling}" -lm
echo "built ${5:-/tmp/swiftlet-ksampling}"
