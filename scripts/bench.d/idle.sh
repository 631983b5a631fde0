#!/usr/bin/env bash
# An idle network's cost: disk growth and CPU per idle hour, blocks per
# minute, and the latency of the first transaction after the idleness, for
# one heartbeat (`[consensus] empty_block_interval_ms`).
#
#   scripts/bench.d/idle.sh HEARTBEAT_MS [VALIDATORS] [SECONDS]
#
# Starts VALIDATORS (default 4) + 1 observer from `kpledger testnet` with the
# release binary ($KPLEDGER_BIN, default target/release/kpledger), waits for
# the first block, lets the network sit idle for SECONDS (default 180), then
# submits one certificate and times its decision. Prints one JSON line.
set -euo pipefail
heartbeat="${1:?usage: idle.sh HEARTBEAT_MS [VALIDATORS] [SECONDS]}"
validators="${2:-4}"
secs="${3:-180}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
bin="${KPLEDGER_BIN:-${CARGO_TARGET_DIR:-$root/target}/release/kpledger}"
work="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; [[ -n "${IDLE_KEEP:-}" ]] && echo "kept $work" >&2 || rm -rf "$work"; }
trap cleanup EXIT
# A free range below the ephemeral ports.
base=$((20000 + (RANDOM % 200) * 50))
if (( validators > 16 )); then
    # The devnet's timing for a large network on one machine, then the heartbeat.
    "$bin" devnet --validators "$validators" --observers 1 --dir "$work/net" \
        --base-port "$base" --init-only > /dev/null
    sed -i "s/^empty_block_interval_ms = .*/empty_block_interval_ms = $heartbeat/" "$work"/net/node*/node.toml
else
    "$bin" testnet --validators "$validators" --observers 1 --out "$work/net" \
        --base-port "$base" --empty-block-interval-ms "$heartbeat" > /dev/null
fi
nodes=$((validators + 1))
for i in $(seq 0 $((nodes - 1))); do
    "$bin" node --config "$work/net/node$i/node.toml" > "$work/node$i.log" 2>&1 &
    pids+=($!)
done
rpc0="http://127.0.0.1:$((base + 1))"
height() { curl -sf "$rpc0/v1/status" | python3 -c 'import json,sys; print(json.load(sys.stdin)["height"])' 2>/dev/null || echo 0; }
for _ in $(seq 1 600); do [[ "$(height)" -ge 1 ]] && break; sleep 1; done
sleep 5
cpu() { # clock ticks of every node process
    local sum=0
    for p in "${pids[@]}"; do
        read -r -a f < <(sed 's/^.*) //' "/proc/$p/stat")
        sum=$((sum + f[11] + f[12]))
    done
    echo "$sum"
}
disk() { du -sb "$work/net/node0" | cut -f1; }
h0=$(height); c0=$(cpu); d0=$(disk); t0=$(date +%s.%N)
sleep "$secs"
h1=$(height); c1=$(cpu); d1=$(disk); t1=$(date +%s.%N)
# When each block of the idle window was made, and by whom (its proposer).
times=$(for h in $(seq "$((h0 + 1))" "$h1"); do
    curl -sf "$rpc0/v1/blocks/$h" | python3 -c 'import json,sys; b=json.load(sys.stdin); h=b.get("block",b)["header"]; print(str(h["time"])+":"+str(h["proposer"])[:8])' 2>/dev/null
done | tr '\n' ' ')
# The first transaction after the idleness: a BW certificate, timed to its decision.
cert="$work/cert.toml"
python3 - "$cert" <<'PY'
import sys, datetime
today = datetime.date.today().isoformat()
open(sys.argv[1], "w").write(f'''number = "BW{datetime.datetime.now():%Y%H%M%S}"
exporting = "BW"
issuing_authority = "BW-KPA"
importing = "EU"
destination = "BE"
origin = {{ countries = ["BW"] }}
issued_on = "{today}"
expires_on = "{(datetime.date.today() + datetime.timedelta(days=30)).isoformat()}"

[exporter]
name = "Debswana Diamond Company"
address = "Gaborone"

[importer]
name = "Antwerp Rough Traders BV"
address = "Antwerp"

[[lines]]
hs_code = "7102.31"
carats = "1250.50"
value_usd = "2500000.00"
parcels = 3
''')
PY
s0=$(date +%s.%N)
"$bin" --node "$rpc0" cert issue --key "$work/net/node0/authority.key" --file "$cert" > "$work/issue.log" 2>&1 || true
s1=$(date +%s.%N)
python3 - "$heartbeat" "$validators" "$secs" "$h0" "$h1" "$c0" "$c1" "$d0" "$d1" "$t0" "$t1" "$s0" "$s1" "$work/issue.log" "$times" <<'PY'
import json, os, sys
hb, v, secs, h0, h1, c0, c1, d0, d1, t0, t1, s0, s1, log, times = sys.argv[1:]
el = float(t1) - float(t0)
tick = os.sysconf("SC_CLK_TCK")
hour = 3600 / el
issued = "accepted" in open(log).read()
print(json.dumps({
    "heartbeat_ms": int(hb), "validators": int(v), "observers": 1, "idle_s": round(el, 1),
    "blocks_per_minute": round((int(h1) - int(h0)) * 60 / el, 2),
    "node0_disk_bytes_per_hour": int((int(d1) - int(d0)) * hour),
    "cpu_s_per_hour_all_nodes": round((int(c1) - int(c0)) / tick * hour, 1),
    "first_tx_decided_s": round(float(s1) - float(s0), 2) if issued else None,
    "blocks": times.split(),
}))
PY
