"""Query benchmark: wrk against certificate lookups and a trivial handler.

Usage: queries.py INFO_JSON OUT_JSON SECONDS

INFO_JSON is what `loadgen ingest --info-file` writes (the running network).
Runs wrk on node 0 for: GET /v1/health (trivial handler, same axum stack and
middleware), GET /v1/certificates/{number}, GET /v1/txs/{hash}. wrk runs on
the same machine, so it competes with the nodes for the cores; every endpoint
pays that equally.
"""
import json
import re
import subprocess
import sys

info = json.load(open(sys.argv[1]))
secs = sys.argv[3]
rpc = info["rpc"][0]
cert = info["sample_certificate"]
tx = info["sample_tx"]

# Many distinct certificates: a Lua script cycles through every number the
# load submitted (all decided: the load drains before the info file appears).
distinct = max(1, min(5000, int(info["result"]["submitted"])))
lua = "/tmp/kp-bench-certs.lua"
open(lua, "w").write(
    'counter = 0\n'
    'request = function()\n'
    f'  counter = (counter + 1) % {distinct}\n'
    '  return wrk.format("GET", string.format("/v1/certificates/BW01%07d", counter))\n'
    'end\n')

def wrk(path, script=None):
    cmd = ["wrk", "-t2", "-c32", f"-d{secs}s", "--latency"]
    if script:
        cmd += ["-s", script]
    cmd.append(f"http://{rpc}{path}")
    text = subprocess.run(cmd, capture_output=True, text=True, timeout=int(secs) + 60).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    def lat(p):
        m = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", text)
        if not m:
            return None
        v, unit = float(m.group(1)), m.group(2)
        return round(v / 1000 if unit == "us" else v * 1000 if unit == "s" else v, 3)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    return {"path": path, "rps": rps, "p50_ms": lat(50), "p99_ms": lat(99),
            "non_2xx": int(non2xx.group(1)) if non2xx else 0}

with open("/proc/loadavg") as f:
    load = " ".join(f.read().split()[:3])
res = {
    "mode": "queries",
    "tool": "wrk -t2 -c32 -d" + secs + "s",
    "loadavg": load,
    "trivial": wrk("/v1/health"),
    "certificate": wrk("/v1/certificates/" + cert),
    "certificates_5000_distinct": wrk("/", lua),
    "distinct_certificates": distinct,
    "tx": wrk("/v1/txs/" + tx),
}
res["ratio_certificate_to_trivial"] = round(res["certificates_5000_distinct"]["rps"] / res["trivial"]["rps"], 3)
res["ratio_tx_to_trivial"] = round(res["tx"]["rps"] / res["trivial"]["rps"], 3)
json.dump(res, open(sys.argv[2], "w"))
print(json.dumps(res))
