"""Writes the tables of a bench run into docs/benchmarks.md.

Usage: report.py RESULTS_DIR MODE DOC

The tables go between `<!-- bench:MODE:begin -->` and `<!-- bench:MODE:end -->`
(appended at the end of DOC the first time), so a quick run never overwrites
the tables of a full run and the hand-written analysis around them stays.
"""
import datetime
import json
import os
import platform
import sys

out, mode, doc = sys.argv[1], sys.argv[2], sys.argv[3]
# Optional: how the results were produced, when not by one plain run.
note = sys.argv[4] if len(sys.argv) > 4 else None

def load(name):
    try:
        return json.load(open(os.path.join(out, name + ".json")))
    except (OSError, ValueError):
        return None

lines = []
now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
lines.append(f"Run `{'scripts/bench --quick' if mode == 'quick' else 'scripts/bench'}` of {now}, "
             f"{os.cpu_count()} cores, {platform.machine()}; raw JSON in `{out}`.")
if note:
    lines.append("")
    lines.append(note)
lines.append("")
lines.append("| run | nodes | decided certs/s | ceiling certs/s | fraction | p50 ms | p99 ms | "
             "CPU µs/cert/node | peak RSS MB (max node) | disk B/cert/node | load avg at start |")
lines.append("|---|---|---|---|---|---|---|---|---|---|---|")
names = ["v4-saturate", "v4-paced", "v16-saturate", "v60-saturate", "v60-paced"]
for name in names:
    r = load(name)
    if not r:
        continue
    label = name + (f" ({r['rate_target']:.0f}/s offered)" if r["rate_target"] else "")
    lines.append(
        f"| {label} | {r['validators']}+{r['observers']} | {r['certs_per_s']:.0f} | "
        f"{r['ceiling_certs_per_s']:.0f} | {r['ceiling_fraction']:.1%} | {r['p50_ms']:.0f} | "
        f"{r['p99_ms']:.0f} | {r['cpu_us_per_cert_per_node']:.0f} | {r['peak_rss_mb_max']:.0f} | "
        f"{r['disk_bytes_per_cert_mean']:.0f} | {r['loadavg_start']} |")
lines.append("")
lines.append("Ceiling = cores × ed25519 batch rate (64-signature batches, all cores, measured "
             "at the start of each run) / nodes. Certificates are submitted in batches "
             "(`POST /v1/txs/batch`: 64 per request saturating, 16 paced). Latency: start of "
             "the POST that carried a certificate to node 0's block event for the block "
             "holding it.")
cu = load("catchup")
if cu and cu.get("catchup"):
    c = cu["catchup"]
    lines.append("")
    lines.append("| catch-up | chain certs | height | time s | certs/s | observer CPU s | observer peak RSS MB | complete |")
    lines.append("|---|---|---|---|---|---|---|---|")
    lines.append(f"| late observer, {cu['validators']} validators | {c['chain_certs']} | {c['height']} | {c['catchup_s']} | "
                 f"{c['catchup_certs_per_s']} | {c['observer_cpu_s']} | {c['observer_peak_rss_mb']} | {c['complete']} |")
q = load("queries")
if q:
    lines.append("")
    lines.append(f"| query ({q['tool']}, node 0 of 4+1, load avg {q['loadavg']}) | req/s | p50 ms | p99 ms | non-2xx |")
    lines.append("|---|---|---|---|---|")
    for key, label in (("trivial", "`GET /v1/health` (trivial handler)"),
                       ("certificates_5000_distinct", f"`GET /v1/certificates/{{n}}`, {q.get('distinct_certificates', 5000)} distinct"),
                       ("certificate", "`GET /v1/certificates/{n}`, one number"),
                       ("tx", "`GET /v1/txs/{hash}`")):
        r = q[key]
        lines.append(f"| {label} | {r['rps']:.0f} | {r['p50_ms']} | {r['p99_ms']} | {r['non_2xx']} |")
    lines.append("")
    lines.append(f"Certificate lookups reach {q['ratio_certificate_to_trivial']:.0%} of the trivial handler's rate "
                 f"(transaction lookups {q['ratio_tx_to_trivial']:.0%}).")

begin, end = f"<!-- bench:{mode}:begin -->", f"<!-- bench:{mode}:end -->"
body = begin + "\n" + "\n".join(lines) + "\n" + end
text = open(doc).read() if os.path.exists(doc) else "# Benchmarks\n"
if begin in text and end in text:
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    text = head + body + tail
else:
    title = "quick run" if mode == "quick" else "full run"
    text = text.rstrip("\n") + f"\n\n### Latest {title} (`scripts/bench{' --quick' if mode == 'quick' else ''}`)\n\n" + body + "\n"
open(doc, "w").write(text)
print(f"report: wrote {mode} tables to {doc}")
