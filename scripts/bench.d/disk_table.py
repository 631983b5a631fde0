"""Writes the bytes per certificate of `loadgen disk` (`scripts/bench --disk`)
into docs/benchmarks.md between the `bench:disk` markers.

Usage: disk_table.py DISK_JSON DOC COMMIT
"""
import json
import sys
import time

results, doc, commit = sys.argv[1], sys.argv[2], sys.argv[3]
data = json.load(open(results))
runs = data["runs"]


def name(r):
    return f"{r['validators']} validators, blocks of {r['block_certs']:,}"


def f(x, digits=0):
    return f"{x:,.{digits}f}"


lines = [
    f"Measured {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC at {commit} "
    "(`scripts/bench --disk`). Logical bytes are exact and the same on every run; "
    "the sled directory's growth moves by about ±20 % from run to run (sled's "
    "background flushes and segment reuse).",
    "",
    "| run | node | quorum signatures | commit certificate B/block | retained B/cert | "
    "without commit certificates | commit certificates' share | written B/cert "
    "(overwrites, safety state) | written without commit certificates | "
    "sled directory growth B/cert |",
    "|---|---|---|---|---|---|---|---|---|---|",
]
for r in runs:
    for role in ("validator", "observer"):
        x = r[role]
        lines.append(
            f"| {name(r)} ({r['certs']:,} certs, {r['blocks']:,} blocks) | {role} | "
            f"{r['quorum_signatures']} | {f(x['commit_bytes_per_block'])} | "
            f"{f(x['retained_bytes'])} | {f(x['retained_bytes_without_commit'])} | "
            f"{x['commit_share_pct']:.1f} % | {f(x['written_bytes'])} | "
            f"{f(x['written_bytes_without_commit'])} | {f(x['disk_bytes'])} |"
        )
lines += [
    "",
    "By key table, per certificate (the validator's store; the observer's is the "
    "same but for the safety state). Retained bytes are key plus value bytes; "
    "the safety state is one record and one set of blocks, overwritten at every "
    "save: what it holds (its row) does not grow with the chain and is left out "
    "of the totals, its written bytes are counted.",
    "",
]
head = "| table | category | entries/cert (4v/10) | key B/entry | value B/entry |"
sep = "|---|---|---|---|---|"
for r in runs:
    head += f" {r['validators']}v/{r['block_certs']}: retained | written |"
    sep += "---|---|"
lines += [head, sep]
tables = {}
for i, r in enumerate(runs):
    for t in r["validator"]["tables"]:
        tables.setdefault(t["table"], {"category": t["category"], "runs": {}})["runs"][i] = t
order = ["state", "index", "block", "commit", "receipts", "safety", "other"]
for table, v in sorted(tables.items(), key=lambda kv: (order.index(kv[1]["category"])
                                                       if kv[1]["category"] in order else 99, kv[0])):
    # Entry sizes from the run with the most entries of this table (the
    # per-block tables have one entry per block, most with small blocks).
    most = max(v["runs"].values(), key=lambda t: t["entries"])
    small = next((v["runs"][i] for i, r in enumerate(runs)
                  if i in v["runs"] and r["block_certs"] < 100), most)
    per_entry = (lambda b: f"{b / most['entries']:,.0f}") if most["entries"] > 0 else (lambda b: "—")
    row = (f"| {table} | {v['category']} | {small['entries']:.2f} | {per_entry(most['key_bytes'])} | "
           f"{per_entry(most['value_bytes'])} |")
    for i in range(len(runs)):
        t = v["runs"].get(i)
        row += f" {t['retained_bytes']:.1f} | {t['written_bytes']:.1f} |" if t else " — | — |"
    lines.append(row)
row = "| **total** | | | | |"
for r in runs:
    row += f" **{f(r['validator']['retained_bytes'])}** | **{f(r['validator']['written_bytes'])}** |"
lines.append(row)
lines.append("")
lines.append("`Nv/B`: N validators, blocks of B certificates. Entries per certificate "
             "are those of the 4-validator run with small blocks, where replay memory "
             "(0x0C, 0x0D) is pruned as transactions expire (ten minutes after their "
             "block, one block a minute); entry sizes are averages over the entries "
             "retained.")

begin, end = "<!-- bench:disk:begin -->", "<!-- bench:disk:end -->"
text = open(doc).read()
if begin in text and end in text:
    pre, rest = text.split(begin, 1)
    _, post = rest.split(end, 1)
    text = pre + begin + "\n" + "\n".join(lines) + "\n" + end + post
    open(doc, "w").write(text)
else:
    print(f"markers {begin} not found in {doc}; table not written", file=sys.stderr)
