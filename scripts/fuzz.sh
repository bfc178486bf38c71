#!/usr/bin/env bash
# Fuzzes Swiftlet's parsers with libFuzzer: builds the targets of Fuzz/ (a package of its own) with
# `-sanitize=fuzzer,address`, then runs each for SECONDS from its committed seeds in
# Fuzz/Corpus/<target>. New inputs libFuzzer finds go to Fuzz/.build/corpus/<target>, crashing
# ones to Fuzz/.build/crashes/<target>/.
#
# Usage: scripts/fuzz.sh TARGET|quick|all SECONDS
#   targets: gguf safetensors tokenizer-json jinja json request
#   quick:   the same six from an unoptimised build (the test command's smoke run): it builds in
#            about half the time of the optimised one (72 against 148 s from nothing on 2 cores of
#            an Intel Xeon, family 6 model 207) and runs about half as many inputs a second
#   all:     the six from the optimised build
# SWIFTLET_FUZZ_CONFIG=debug|release overrides the build either way.
# Prints one line per target: executions, executions per second, corpus size, crashes.
# Exits 1 if any target crashed, leaked or timed out on an input.
set -euo pipefail
cd "$(dirname "$0")/../Fuzz"

product() {
    case "$1" in
        gguf) echo FuzzGGUF ;; safetensors) echo FuzzSafetensors ;; tokenizer-json) echo FuzzTokenizerJSON ;;
        jinja) echo FuzzJinja ;; json) echo FuzzJSON ;; request) echo FuzzRequest ;;
        *) echo "unknown fuzz target '$1'" >&2; exit 2 ;;
    esac
}

case "${1:-}" in
    quick) targets=(gguf safetensors tokenizer-json jinja json request) ;;
    all) targets=(gguf safetensors tokenizer-json jinja json request) ;;
    "") echo "usage: scripts/fuzz.sh TARGET|quick|all SECONDS" >&2; exit 2 ;;
    *) targets=("$1") ;;
esac
seconds="${2:?usage: scripts/fuzz.sh TARGET|quick|all SECONDS}"

case "$1" in quick) config=${SWIFTLET_FUZZ_CONFIG:-debug} ;; *) config=${SWIFTLET_FUZZ_CONFIG:-release} ;; esac
# libFuzzer's instrumentation without its main: SwiftPM gives every executable a Swift main (in
# debug builds under another name, which would let libFuzzer's own main be linked in and fail),
# and each target hands control to LLVMFuzzerRunDriver from the no-main library instead.
swiftc=$(readlink -f "$(command -v swiftc)")
fuzzer_lib=$(ls "$(dirname "$swiftc")"/../lib/clang/*/lib/linux/libclang_rt.fuzzer_no_main-"$(uname -m)".a 2>/dev/null | head -1)
[ -n "$fuzzer_lib" ] || { echo "libclang_rt.fuzzer_no_main not found beside $swiftc" >&2; exit 1; }
# -O after the package's own -Ounchecked (the last one wins): bounds and overflow checks stay on,
# so an index out of range or an overflowing size traps instead of running on (unoptimised code
# keeps them anyway).
# -enable-testing: the request target reads the server's internal request decoding.
# lld: gold fails on the instrumented objects (an internal error in its DWARF reader).
flags=(--scratch-path ".build/checked-$config" -c "$config" -Xswiftc -sanitize=address
       -Xswiftc -sanitize-coverage=edge,trace-cmp,inline-8bit-counters,pc-table -Xswiftc -enable-testing
       -Xswiftc -use-ld=lld -Xlinker "$fuzzer_lib" -Xlinker -lstdc++)
[ "$config" = release ] && flags+=(-Xswiftc -O)
# SWIFTLET_FUZZ_SKIP_BUILD=1 runs what is built (e.g. while another build holds Fuzz/.build).
# One build for several targets: product by product, each build's few modules ran on one core
# (170 s of the test command's 230 s fuzzing phase on 2 cores, user time = wall time).
if [ -z "${SWIFTLET_FUZZ_SKIP_BUILD:-}" ]; then
    if [ ${#targets[@]} -eq 1 ]; then only=(--product "$(product "${targets[0]}")"); else only=(); fi
    swift build "${flags[@]}" "${only[@]}" 2>&1 | grep -Ev "Cannot export local symbol|^\[" || true
fi
bin=.build/checked-$config/$(uname -m)-unknown-linux-gnu/$config

# Each target runs in its own process on one core; SWIFTLET_FUZZ_JOBS (default: the core count)
# run at once, and the summary lines come out in the targets' order.
fuzz_one() {
    local t=$1 p corpus crashes log status=0 runs rate found
    p=$(product "$t")
    corpus=.build/corpus/$t
    crashes=.build/crashes/$t
    mkdir -p "$corpus" "$crashes"
    log=.build/fuzz-$t.log
    # -timeout: an input that takes 60 s is a hang (inputs take well under a second; on a loaded
    # machine one took 13 s once, a stall, not a hang); -rss_limit_mb bounds what one input may allocate.
    ASAN_OPTIONS=detect_leaks=0 "$bin/$p" "$corpus" "Corpus/$t" -max_total_time="$seconds" -timeout=60 \
        -rss_limit_mb=4096 -artifact_prefix="$crashes/" -print_final_stats=1 >"$log" 2>&1 || status=$?
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
    rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
    found=$(find "$crashes" -type f | wc -l)
    {
        echo "fuzz $t: ${runs:-0} executions in ${seconds} s (${rate:-0}/s), corpus $(ls "$corpus" | wc -l) inputs, $found crash files, exit $status"
        if [ "$status" -ne 0 ]; then grep -E "ERROR|Fatal error|SUMMARY|Test unit written" "$log" | head -5 | sed 's/^/  /' || true; fi
    } >".build/fuzz-$t.summary"
    echo "$status" >".build/fuzz-$t.status"
}

for t in "${targets[@]}"; do
    [ -x "$bin/$(product "$t")" ] || { echo "fuzz $t: $(product "$t") was not built" >&2; exit 1; }
    rm -f ".build/fuzz-$t.summary" ".build/fuzz-$t.status"
done
jobs=${SWIFTLET_FUZZ_JOBS:-$(nproc)}
running=0
for t in "${targets[@]}"; do
    fuzz_one "$t" &
    running=$((running + 1))
    if [ "$running" -ge "$jobs" ]; then wait -n || true; running=$((running - 1)); fi
done
wait

failed=0
for t in "${targets[@]}"; do
    cat ".build/fuzz-$t.summary" 2>/dev/null || echo "fuzz $t: no result"
    [ "$(cat ".build/fuzz-$t.status" 2>/dev/null)" = 0 ] || failed=1
done
exit $failed
