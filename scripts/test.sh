#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine: installs what the tests need, then `swift test`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
swift build --build-tests
swift test --skip-build --parallel --num-workers 2
