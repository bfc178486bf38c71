#!/usr/bin/env bash
# The fuzzing benchmark: every fuzz target for SECONDS each (default 600, ten minutes), one after
# the other, with scripts/fuzz.sh; prints a table of executions and crashes with the CPU, for
# docs/reliability.md.
# Usage: scripts/bench_fuzz.sh [SECONDS] [TARGETS...]   (default: all six targets)
set -uo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-600}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(gguf safetensors tokenizer-json jinja json request)
echo "# scripts/bench_fuzz.sh $seconds ${targets[*]}"
echo "# CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores; $(date -u +%Y-%m-%dT%H:%MZ)"
echo "| target | seconds | executions | per second | corpus | crashes |"
echo "|---|---|---|---|---|---|"
status=0
for t in "${targets[@]}"; do
    line=$(scripts/fuzz.sh "$t" "$seconds" 2>/dev/null | grep "^fuzz $t:") || status=1
    # "fuzz T: N executions in S s (R/s), corpus C inputs, K crash files, exit E"
    read -r runs rate corpus crashes <<<"$(echo "$line" | sed -E 's/.*: ([0-9]+) executions.*\(([0-9]+)\/s\), corpus ([0-9]+) inputs, ([0-9]+) crash.*/\1 \2 \3 \4/')"
    echo "| $t | $seconds | ${runs:-?} | ${rate:-?} | ${corpus:-?} | ${crashes:-?} |"
done
exit $status
