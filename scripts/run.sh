#!/usr/bin/env bash
# Sets up a fresh machine, builds a release binary and runs Swiftlet on the default model.
# Extra arguments are passed to `swiftlet generate`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
swift build -c release
model="${SWIFTLET_MODEL_DIR:-$HOME/.cache/swiftlet/models}/SmolLM2-135M-Instruct.Q4_1.gguf"
if [ $# -eq 0 ]; then set -- --prompt "The three most useful things to know about paged attention are" --max-tokens 64; fi
exec .build/release/swiftlet generate --model "$model" "$@"
