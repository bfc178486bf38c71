#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine: installs what the tests need, runs the C kernels'
# aarch64 tests (cross-compiled, under qemu; about 20 s), then `swift test`, then a short fuzzing
# run of the parsers (scripts/fuzz.sh).
# Tests run on an optimised build: they push real models through the kernels, which would take
# minutes unoptimised.
set -euo pipefail
cd "$(dirname "$0")/.."
# Gemma 3 270M too (253 MB): its parity tests (Gemma3FidelityTests, the gemma3-gguf tokenizer
# fixture) run only when the file is installed.
scripts/bootstrap.sh --with-gemma3
scripts/test_aarch64.sh
flags=(-c release -Xswiftc -enable-testing)
swift build "${flags[@]}" --build-tests
swift test "${flags[@]}" --skip-build "$@"
# The parsers under libFuzzer for a short budget each (the instrumented build is a package of its
# own in Fuzz/); scripts/bench_fuzz.sh runs them longer.
scripts/fuzz.sh quick "${SWIFTLET_FUZZ_SECONDS:-10}"
