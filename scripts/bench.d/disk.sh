#!/usr/bin/env bash
# `scripts/bench --disk`: bytes per certificate on disk, for a validator and
# for an observer, by key table, with and without the commit certificates
# (`loadgen disk`, tests/src/bin/loadgen/disk.rs). The chain is built with the
# library crates from fixed keys, so the logical byte counts are the same on
# every run; only the sled directory's growth depends on sled's timing.
#
# Environment: DISK_VALIDATORS (default 4,60), DISK_BLOCK_CERTS (default
# 2000,10), DISK_CERTS (certificates per run with large blocks, default
# 20,000), DISK_SMALL_CERTS (with blocks under 100, default 2,000),
# BENCH_OUT, BENCH_NO_BUILD=1, BENCH_NO_DOCS=1. Writes disk.json to the
# results folder and the tables to docs/benchmarks.md between the
# `bench:disk` markers; prints the JSON last.
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
root="$(cd "$here/.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
out="${BENCH_OUT:-$target/bench-results/$(date -u +%Y%m%dT%H%M%SZ)-disk}"
mkdir -p "$out"
log() { echo "bench: $*" >&2; }

if [[ -z "${BENCH_NO_BUILD:-}" ]]; then
    log "release build (kp-e2e's loadgen)"
    (cd "$root" && CARGO_TARGET_DIR="$target" cargo build --release -q -p kp-e2e --bin loadgen) >&2
fi
"$target/release/loadgen" disk \
    --validators "${DISK_VALIDATORS:-4,60}" --block-certs "${DISK_BLOCK_CERTS:-2000,10}" \
    --certs "${DISK_CERTS:-20000}" --small-certs "${DISK_SMALL_CERTS:-2000}" \
    2> "$out/disk.log" | tail -n 1 > "$out/disk.json"
log "disk: $(python3 "$here/bench.d/brief.py" "$out/disk.json")"

if [[ -z "${BENCH_NO_DOCS:-}" ]]; then
    commit="$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
    git -C "$root" diff --quiet HEAD 2>/dev/null || commit="$commit (with uncommitted changes)"
    python3 "$here/bench.d/disk_table.py" "$out/disk.json" "$root/docs/benchmarks.md" "$commit"
fi
cat "$out/disk.json"
