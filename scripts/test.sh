#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine: installs what the tests need, then `swift test`.
# Tests run on an optimised build: they push real models through the kernels, which would take
# minutes unoptimised.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
flags=(-c release -Xswiftc -enable-testing)
swift build "${flags[@]}" --build-tests
swift test "${flags[@]}" --skip-build "$@"
