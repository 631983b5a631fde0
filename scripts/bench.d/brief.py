"""One line about a loadgen ingest result (for the progress log)."""
import json
import sys

try:
    r = json.load(open(sys.argv[1]))
except (OSError, ValueError) as e:
    print(f"no result ({e})")
    sys.exit(0)
if r.get("mode") == "disk":
    print("; ".join(
        f"{x['validators']}v blocks of {x['block_certs']}: validator {x['validator']['retained_bytes']:.0f} B/cert "
        f"({x['validator']['retained_bytes_without_commit']:.0f} without commit certificates), "
        f"directory +{x['validator']['disk_bytes']:.0f} B/cert; observer {x['observer']['retained_bytes']:.0f}"
        for x in r["runs"]))
    sys.exit(0)
if r.get("mode") == "catchup":
    c = r["catchup"]
    runs = "; ".join(f"{x['catchup_certs_per_s']}/s ({x['binary']})" for x in r.get("runs", []))
    print(f"chain of {c['chain_certs']} certs (height {c['height']}) built in {r['chain_build_s']} s; "
          f"catch-up in {c['catchup_s']} s = {c['catchup_certs_per_s']}/s; runs: {runs}")
    sys.exit(0)
line = (f"{r['certs_per_s']} certs/s = {r['ceiling_fraction']:.1%} of ceiling "
        f"{r['ceiling_certs_per_s']}/s; p50 {r['p50_ms']} ms p99 {r['p99_ms']} ms; "
        f"decided {r['decided']}/{r['submitted']} rejected {r['rejected']}")
if r.get("catchup"):
    c = r["catchup"]
    line += f"; catch-up {c['chain_certs']} certs in {c['catchup_s']} s = {c['catchup_certs_per_s']}/s"
print(line)
