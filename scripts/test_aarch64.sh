#!/usr/bin/env bash
# Cross-compiles the C kernels (all but sw_dnnl.c: oneDNN is x86-only here) for aarch64 with the
# kernel tests in Tests/aarch64, and runs them under qemu: on a CPU with dotprod and i8mm
# (-cpu max; the tests also switch dotprod off there, so both integer paths run) and on one
# without (cortex-a57). The tests compare each NEON kernel with the scalar level of the same
# library (sw_cpu_set_thread_level). Needs qemu-user, libc6-dev-arm64-cross and libgcc-12-dev-arm64-cross (bootstrap.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
CC=${CC:-$(command -v clang)}
# The C kernel targets, lowest floor first. The linked test binary is built with the include dirs
# of all of them (the tests call internal kernels of several).
srcs=(Sources/CSwiftletRuntime Sources/CSwiftletMatmul Sources/CSwiftletAttention Sources/CSwiftletOps)
out=${TMPDIR:-/tmp}/swiftlet-aarch64-$$
mkdir -p "$out"
trap 'rm -rf "$out"' EXIT

kernels=()
neon=()
incs=()
for src in "${srcs[@]}"; do
    for f in "$src"/*.c; do
        [ "$(basename "$f")" = sw_dnnl.c ] || kernels+=("$f")
        case "$(basename "$f")" in *neon*) neon+=("$f") ;; esac
    done
    incs+=(-I "$src/include" -I "$src")
done
flags=(--target=aarch64-linux-gnu -O3 -fno-math-errno -ffp-contract=fast "${incs[@]}")

# Each target compiles against its own headers and those of the runtime floor only (SwiftPM's
# x86 build cannot see a NEON-only include that crosses the floors).
for src in "${srcs[@]}"; do
    files=()
    for f in "$src"/*.c; do [ "$(basename "$f")" = sw_dnnl.c ] || files+=("$f"); done
    "$CC" --target=aarch64-linux-gnu -O3 -I Sources/CSwiftletRuntime/include -I "$src/include" -I "$src" \
        -fsyntax-only "${files[@]}"
done
# The NEON sources and the tests must compile without warnings.
"$CC" "${flags[@]}" -Wall -Wextra -Werror -fsyntax-only "${neon[@]}" Tests/aarch64/*.c
# sw_dnnl.c is not linked here (oneDNN is installed for x86 only) but must compile for aarch64
# too; oneDNN's headers do not depend on the architecture.
if [ -f /usr/include/oneapi/dnnl/dnnl.h ]; then
    "$CC" "${flags[@]}" -fsyntax-only -idirafter /usr/include Sources/CSwiftletMatmul/sw_dnnl.c
fi

if [ "$(uname -m)" = aarch64 ] || [ "$(uname -m)" = arm64 ]; then
    # On an ARM machine the tests run natively, with whatever dotprod / i8mm the CPU has.
    "$CC" "${flags[@]:1}" "${kernels[@]}" Tests/aarch64/*.c -o "$out/kernel_tests" -lpthread -lm
    "$out/kernel_tests"
    exit 0
fi
# Swift toolchains ship lld next to clang; binutils-aarch64-linux-gnu's ld does as well.
if [ -x "$(dirname "$CC")/ld.lld" ] || command -v ld.lld >/dev/null; then
    linker=(-fuse-ld=lld)
elif command -v aarch64-linux-gnu-ld >/dev/null; then
    linker=(--ld-path="$(command -v aarch64-linux-gnu-ld)")
else
    echo "test_aarch64: no linker for aarch64 (ld.lld or aarch64-linux-gnu-ld)" >&2
    exit 1
fi
"$CC" "${flags[@]}" "${linker[@]}" -static "${kernels[@]}" Tests/aarch64/*.c -o "$out/kernel_tests" -lpthread -lm
for cpu in max cortex-a57; do
    echo "test_aarch64: qemu-aarch64 -cpu $cpu"
    qemu-aarch64 -cpu "$cpu" "$out/kernel_tests"
done
