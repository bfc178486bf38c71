#!/bin/sh
# Builds the Highway-vs-intrinsics comparison benchmarks (not part of the Swift package).
# Needs Debian's libhwy-dev (Highway 1.0.3). Outputs: /tmp/swiftlet-hwy-f32, /tmp/swiftlet-hwy-i8.
set -e
here=$(cd "$(dirname "$0")" && pwd)
rt="$here/../../../Sources/CSwiftletRuntime"
mm="$here/../../../Sources/CSwiftletMatmul"
CC=${CC:-clang}
CXX=${CXX:-clang++}
flags="-O3 -fno-math-errno -ffp-contract=fast -I$rt/include -I$mm/include -I$here"
obj=$(mktemp -d)
trap 'rm -rf "$obj"' EXIT
"$CC" $flags -c "$mm/sw_gemm_f32.c" -o "$obj/sw_gemm_f32.o"
for f in sw_cpu sw_pool; do "$CC" $flags -c "$rt/$f.c" -o "$obj/$f.o"; done
"$CC" $flags -c "$here/f32_tile_avx512.c" -o "$obj/f32_tile_avx512.o"
# Highway code must be built for the baseline (no -march): foreach_target compiles every
# target's copy with its own target attributes.
"$CXX" -std=c++17 $flags -c "$here/f32_linear_hwy.cc" -o "$obj/f32_linear_hwy.o"
"$CXX" -std=c++17 $flags "$here/f32_bench.cc" "$obj/f32_linear_hwy.o" "$obj/f32_tile_avx512.o" "$obj/sw_gemm_f32.o" "$obj/sw_cpu.o" "$obj/sw_pool.o" \
    -o "${1:-/tmp/swiftlet-hwy-f32}" -lhwy -lpthread -lm
echo "built ${1:-/tmp/swiftlet-hwy-f32}"
if [ -f "$here/i8_dot.cc" ]; then
    "$CXX" -std=c++17 $flags "$here/i8_dot.cc" -o "${2:-/tmp/swiftlet-hwy-i8}" -lhwy
    echo "built ${2:-/tmp/swiftlet-hwy-i8}"
fi
