#!/bin/sh
# Builds the kernel benchmarks straight from the C sources (not part of the Swift package):
# the matmul/thread-pool benchmark and the whole decode step (step.c), which share bench_random.h.
set -e
here=$(cd "$(dirname "$0")" && pwd)
# The C kernels are four SwiftPM targets: runtime (cpu, pool), matmul, attention, ops.
srcs="$here/../../Sources"
rt="$srcs/CSwiftletRuntime"
mm="$srcs/CSwiftletMatmul"
at="$srcs/CSwiftletAttention"
op="$srcs/CSwiftletOps"
CC=${CC:-clang}
out=${1:-/tmp/swiftlet-kbench}
flags="-O3 -fno-math-errno -ffp-contract=fast -I$rt/include -I$mm/include -I$at/include -I$op/include"
"$CC" $flags "$here/bench.c" "$rt/sw_pool.c" "$mm/sw_quant.c" "$mm/sw_quant_ref.c" "$mm/sw_quant_q8a.c" "$mm/sw_convert.c" "$mm/sw_bf16.c" "$mm/sw_qpack.c" "$mm/sw_quant_avx2.c" "$mm/sw_quant_avxvnni.c" "$mm/sw_bf16_avx2.c" "$mm/sw_quant_avx512.c" "$mm/sw_bf16_avx512.c" "$mm/sw_convert_avx512.c" "$rt/sw_cpu.c" \
    -o "$out" -lpthread -lm
echo "built $out"
"$CC" $flags "$here/step.c" "$rt/sw_pool.c" "$mm/sw_quant.c" "$mm/sw_quant_ref.c" "$mm/sw_quant_q8a.c" "$mm/sw_convert.c" "$mm/sw_bf16.c" "$mm/sw_qpack.c" "$mm/sw_quant_avx2.c" "$mm/sw_quant_avxvnni.c" "$mm/sw_bf16_avx2.c" "$mm/sw_quant_avx512.c" "$mm/sw_bf16_avx512.c" "$mm/sw_convert_avx512.c" "$rt/sw_cpu.c" \
    "$at/sw_attention.c" "$at/sw_attention_avx512.c" "$at/sw_attention_avx512_decode.c" "$at/sw_attention_avx2.c" "$at/sw_kv_cache.c" "$op/sw_ops.c" "$op/sw_ops_avx2.c" -o "${2:-/tmp/swiftlet-kstep}" -lpthread -lm
echo "built ${2:-/tmp/swiftlet-kstep}"
"$CC" $flags "$here/prefill_attention.c" "$rt/sw_pool.c" "$at/sw_attention.c" "$at/sw_attention_avx512.c" "$at/sw_attention_avx512_decode.c" \
    "$at/sw_attention_avx2.c" "$at/sw_kv_cache.c" "$rt/sw_cpu.c" \
    -o "${3:-/tmp/swiftlet-kprefill}" -lpthread -lm
echo "built ${3:-/tmp/swiftlet-kprefill}"
"$CC" $flags "$here/kquant.c" "$rt/sw_pool.c" "$rt/sw_cpu.c" "$mm/sw_kquant.c" "$mm/sw_kqpack.c" "$mm/sw_kquant_scalar.c" \
    "$mm/sw_kquant_avx2.c" "$mm/sw_kquant_avx512.c" "$mm/sw_quant.c" "$mm/sw_quant_ref.c" "$mm/sw_quant_q8a.c" "$mm/sw_convert.c" \
    "$mm/sw_qpack.c" "$mm/sw_quant_avx2.c" "$mm/sw_quant_avxvnni.c" "$mm/sw_quant_avx512.c" "$mm/sw_convert_avx512.c" \
    "$mm/sw_bf16_avx2.c" -o "${6:-/tmp/swiftlet-kquant}" -lpthread -lm
echo "built ${6:-/tmp/swiftlet-kquant}"
"$CC" -O2 "$here/machine_limits.c" -o "${4:-/tmp/swiftlet-klimits}" -lpthread
echo "built ${4:-/tmp/swiftlet-klimits}"
"$CC" $flags "$here/sampling.c" "$op/sw_sampling.c" "$op/sw_sampling_avx2.c" "$op/sw_sampling_avx512.c" \
    "$op/sw_sampling_neon.c" "$rt/sw_cpu.c" -o "${5:-/tmp/swiftlet-ksampling}" -lm
echo "built ${5:-/tmp/swiftlet-ksampling}"
