#!/usr/bin/env bash
# `scripts/bench --instructions`: instructions per certificate, counted by
# valgrind's callgrind, for the node's hot paths (the `instructions` binary of
# kp-e2e: admission, apply plus commit, block encode plus decode, an
# observer's catch-up). Counts do not move with the machine's load, so they
# judge a change where wall-clock figures cannot.
#
# Environment: INSTR_BLOCKS (blocks of 1,000 certificates per workload,
# default 2), INSTR_BASELINE (another build's `instructions` binary, counted
# beside this one for a before/after), BENCH_OUT, BENCH_NO_BUILD=1,
# BENCH_NO_DOCS=1. Writes instructions.json to the results folder and the
# table to docs/benchmarks.md between the `bench:instructions` markers.
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
root="$(cd "$here/.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
out="${BENCH_OUT:-$target/bench-results/$(date -u +%Y%m%dT%H%M%SZ)-instructions}"
mkdir -p "$out"
log() { echo "bench: $*" >&2; }

if ! command -v valgrind > /dev/null; then
    if [[ "$(id -u)" == 0 ]] && command -v apt-get > /dev/null; then
        log "installing valgrind"
        (apt-get install -y -q valgrind || (apt-get update -q && apt-get install -y -q valgrind)) >&2
    else
        log "valgrind not found: install it (apt-get install valgrind)"
        exit 2
    fi
fi
if [[ -z "${BENCH_NO_BUILD:-}" ]]; then
    # The profiling profile: the release build with its symbols, which
    # callgrind needs to count only the `measured_` functions.
    log "profiling build (kp-e2e's instructions)"
    (cd "$root" && CARGO_TARGET_DIR="$target" cargo build --profile profiling -q -p kp-e2e --bin instructions) >&2
fi
blocks="${INSTR_BLOCKS:-2}"
bins=("current=$target/profiling/instructions")
[[ -n "${INSTR_BASELINE:-}" ]] && bins=("baseline=$INSTR_BASELINE" "${bins[@]}")

# count BIN WORKLOAD: "instructions certificates" of the measured functions.
count() {
    local bin="$1" workload="$2" cg="$out/callgrind.$workload.$RANDOM"
    local report
    report=$(valgrind --tool=callgrind --callgrind-out-file="$cg" \
        --toggle-collect='*measured_*' "$bin" "$workload" "$blocks" 2>&1)
    rm -f "$cg"
    local collected certs
    collected=$(grep -o 'Collected : [0-9]*' <<<"$report" | grep -o '[0-9]*$')
    certs=$(grep -o "^$workload: [0-9]* certificates" <<<"$report" | grep -o '[0-9]\+' | head -1)
    echo "$collected $certs"
}

json="{\"blocks\": $blocks, \"runs\": ["
first=1
for entry in "${bins[@]}"; do
    name="${entry%%=*}"; bin="${entry#*=}"
    for workload in admission apply codec catchup; do
        read -r collected certs < <(count "$bin" "$workload")
        per=$((collected / certs))
        log "$name $workload: $per instructions per certificate ($collected over $certs)"
        [[ $first == 1 ]] || json+=", "
        first=0
        json+="{\"build\": \"$name\", \"workload\": \"$workload\", \"instructions\": $collected, \"certificates\": $certs, \"per_certificate\": $per}"
    done
done
json+="]}"
echo "$json" > "$out/instructions.json"

if [[ -z "${BENCH_NO_DOCS:-}" ]]; then
    commit="$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
    git -C "$root" diff --quiet HEAD 2>/dev/null || commit="$commit (with uncommitted changes)"
    python3 "$here/bench.d/instructions_table.py" "$out/instructions.json" "$root/docs/benchmarks.md" "$commit"
fi
echo "$json"
