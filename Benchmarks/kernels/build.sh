#!/bin/sh
# Builds the kernel benchmark straight from the C sources (not part of the Swift package).
set -e
here=$(cd "$(dirname "$0")" && pwd)
src="$here/../../Sources/CSwiftletKernels"
CC=${CC:-clang}
out=${1:-/tmp/swiftlet-kbench}
"$CC" -O3 -fno-math-errno -ffp-contract=fast -I"$src/include" \
    "$here/bench.c" "$src/sw_pool.c" "$src/sw_quant.c" "$src/sw_quant_avx512.c" "$src/sw_cpu.c" \
    -o "$out" -lpthread -lm
echo "built $out"
