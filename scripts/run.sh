#!/usr/bin/env bash
# Sets up a fresh machine, builds a release binary and serves the default model
# (SmolLM2-135M-Instruct) over the OpenAI-compatible API, with the web page at http://127.0.0.1:8000/.
# Extra arguments are passed to `swiftlet serve` (e.g. --port 9000 --host 0.0.0.0).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
swift build -c release
exec .build/release/swiftlet serve "$@"
