"""Writes the instruction counts of `scripts/bench --instructions` into
docs/benchmarks.md between the `bench:instructions` markers."""
import json
import sys
import time

results, doc, commit = sys.argv[1], sys.argv[2], sys.argv[3]
data = json.load(open(results))
names = {
    "admission": "admission (batch signature check + rules + pool)",
    "apply": "apply + commit (execute, block store, one sled commit)",
    "codec": "encode + decode of a block of 1,000",
    "catchup": "observer catch-up (decode, signatures, commit, execute, stages)",
}
by = {}
for r in data["runs"]:
    by.setdefault(r["workload"], {})[r["build"]] = r["per_certificate"]
builds = [b for b in ("baseline", "current") if any(b in v for v in by.values())]
head = "| workload | " + " | ".join(f"{b} (instructions per certificate)" for b in builds)
if len(builds) == 2:
    head += " | change"
lines = [
    f"Counted {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC at {commit}, "
    f"{data['blocks']} blocks of 1,000 certificates per workload "
    "(`scripts/bench --instructions`).",
    "",
    head + " |",
    "|" + "---|" * (len(builds) + 1 + (len(builds) == 2)),
]
for w in ("admission", "apply", "codec", "catchup"):
    row = by.get(w, {})
    cells = [f"{row[b]:,}" if b in row else "—" for b in builds]
    if len(builds) == 2 and all(b in row for b in builds):
        cells.append(f"{(row['current'] - row['baseline']) / row['baseline'] * 100:+.1f} %")
    lines.append(f"| {names[w]} | " + " | ".join(cells) + " |")
begin, end = "<!-- bench:instructions:begin -->", "<!-- bench:instructions:end -->"
text = open(doc).read()
if begin in text and end in text:
    pre, rest = text.split(begin, 1)
    _, post = rest.split(end, 1)
    text = pre + begin + "\n" + "\n".join(lines) + "\n" + end + post
    open(doc, "w").write(text)
else:
    print(f"markers {begin} not found in {doc}; table not written", file=sys.stderr)
