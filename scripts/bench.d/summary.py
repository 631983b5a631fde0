"""The JSON summary line of a bench run (4 validators)."""
import json
import os
import sys

out = sys.argv[1]

def load(name):
    try:
        return json.load(open(os.path.join(out, name + ".json")))
    except (OSError, ValueError):
        return None

sat, paced = load("v4-saturate"), load("v4-paced")
q, cu = load("queries"), load("catchup")
s = {"validators": 4, "observers": 1}
if sat:
    s.update(certs_per_s=sat["certs_per_s"], ceiling_certs_per_s=sat["ceiling_certs_per_s"],
             ceiling_fraction=sat["ceiling_fraction"], batch_verify_per_s=sat["batch_verify_per_s"],
             saturated_p50_ms=sat["p50_ms"], saturated_p99_ms=sat["p99_ms"])
if paced:
    # Latency at a sustainable load (about 70 % of the saturated rate).
    s.update(p50_ms=paced["p50_ms"], p99_ms=paced["p99_ms"], paced_rate=paced["rate_target"],
             paced_certs_per_s=paced["certs_per_s"])
elif sat:
    s.update(p50_ms=sat["p50_ms"], p99_ms=sat["p99_ms"])
if q:
    s.update(query_rps=q["certificates_5000_distinct"]["rps"], trivial_rps=q["trivial"]["rps"],
             query_ratio=q["ratio_certificate_to_trivial"])
if cu and cu.get("catchup"):
    s.update(catchup_certs_per_s=cu["catchup"]["catchup_certs_per_s"],
             catchup_chain_certs=cu["catchup"]["chain_certs"])
d = load("disk")
if d:
    # Bytes per certificate a validator keeps, by block size.
    s["disk_bytes_per_cert"] = {str(r["block_certs"]): r["validator"]["retained_bytes"]
                                for r in d["runs"] if r["validators"] == 4}
for name in ("v16-saturate", "v60-saturate", "v60-paced"):
    r = load(name)
    if r:
        s[name] = {k: r[k] for k in ("certs_per_s", "ceiling_fraction", "p50_ms", "p99_ms")}
s["results"] = out
print(json.dumps(s))
