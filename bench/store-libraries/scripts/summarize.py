#!/usr/bin/env python3
"""Median-of-runs tables (markdown) from results/bench.jsonl, results/buildcost.jsonl and results/errors.jsonl."""
import json, statistics, collections, os

ROOT = "/tmp/storespike/results"
rows = [json.loads(l) for l in open(f"{ROOT}/bench.jsonl")] if os.path.exists(f"{ROOT}/bench.jsonl") else []
LIBS = ["grdb", "nio-wait", "nio-pipe", "nio-async", "raw-system", "raw-bundled"]


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def fmt(x):
    if x != x:
        return "–"
    return f"{x:,.0f}" if x >= 100 else f"{x:,.1f}"


def group(section, keyf, valf):
    g = collections.defaultdict(list)
    for r in rows:
        if r.get("section") == section and "fatal" not in r:
            g[keyf(r)].append(valf(r))
    return g


out = []
p = out.append

# 1. write matrix
p("## 1. Group-commit writes, WAL + synchronous=NORMAL (median of 3; messages/s | commits/s | CPU µs per message)\n")
ms = group("write", lambda r: (r["lib"], r["subs"], r["payload"], r["commit"]), lambda r: r["msgs_per_s"])
cs = group("write", lambda r: (r["lib"], r["subs"], r["payload"], r["commit"]), lambda r: r["commits_per_s"])
cpu = group("write", lambda r: (r["lib"], r["subs"], r["payload"], r["commit"]), lambda r: r["cpu_us_per_msg"])
n = group("write", lambda r: (r["lib"], r["subs"], r["payload"], r["commit"]), lambda r: 1)
for subs in (1, 10):
    for payload in (16, 1024):
        p(f"\n### {subs} subscriber(s), {payload} B payload ({1 + subs} rows per message)\n")
        p("| library | commit=1 msg/s | c=1 commits/s | commit=16 msg/s | c=16 commits/s | commit=256 msg/s | c=256 commits/s | commit=4096 msg/s | c=4096 commits/s | CPU µs/msg @1 / @256 |")
        p("|---|---|---|---|---|---|---|---|---|---|")
        for lib in LIBS:
            cells = []
            for c in (1, 16, 256, 4096):
                k = (lib, subs, payload, c)
                cells += [fmt(med(ms[k])), fmt(med(cs[k]))]
            cells.append(f"{fmt(med(cpu[(lib, subs, payload, 1)]))} / {fmt(med(cpu[(lib, subs, payload, 256)]))}")
            p(f"| {lib} | " + " | ".join(cells) + " |")

# 2. sync modes
p("\n## 2. Durability settings, 1 subscriber, 1 KiB payload (median messages/s [min-max] over all runs; commits/s = messages/s at commit=1)\n")
sm = group("sync", lambda r: (r["lib"], r["journal"], r["sync"], r["commit"]), lambda r: r["msgs_per_s"])
p("| library | WAL/NORMAL c=1 | WAL/NORMAL c=256 | WAL/FULL c=1 | WAL/FULL c=256 | DELETE/FULL c=1 | DELETE/FULL c=256 |")
p("|---|---|---|---|---|---|---|")
for lib in LIBS:
    cells = [f"{fmt(med(sm[(lib, j, s, c)]))} [{fmt(min(sm[(lib, j, s, c)]))}-{fmt(max(sm[(lib, j, s, c)]))}] n={len(sm[(lib, j, s, c)])}"
             for j, s in (("WAL", "NORMAL"), ("WAL", "FULL"), ("DELETE", "FULL")) for c in (1, 256)]
    p(f"| {lib} | " + " | ".join(cells) + " |")

# 3. delete
p("\n## 3. Deletes by primary key, 256 per transaction, WAL/NORMAL, 1 KiB payloads (median rows/s; CPU µs per row)\n")
dl = group("delete", lambda r: (r["lib"], r["extra"], r["subs"]), lambda r: r["rows_per_s"])
dc = group("delete", lambda r: (r["lib"], r["extra"], r["subs"]), lambda r: r["cpu_us_per_row"])
keys = sorted({(k[0], k[1]) for k in dl}, key=lambda k: (LIBS.index(k[0]) if k[0] in LIBS else 99, k[1]))
p("| library | pragma | 1 sub: rows/s | 1 sub: CPU µs/row | 10 subs: rows/s | 10 subs: CPU µs/row |")
p("|---|---|---|---|---|---|")
for lib, extra in keys:
    p(f"| {lib} | {extra or '(library default)'} | {fmt(med(dl[(lib, extra, 1)]))} | {fmt(med(dc[(lib, extra, 1)]))} | {fmt(med(dl[(lib, extra, 10)]))} | {fmt(med(dc[(lib, extra, 10)]))} |")

# 4. restore
p("\n## 4. Restore: 100k messages (1 KiB) + 1M queue rows + 100k sessions, read in key order into Swift arrays\n")
rr = group("restore", lambda r: (r["lib"], r["label"]), lambda r: r)
p("| library / path | cache | read s (median) | CPU s | peak RSS VmHWM MiB (median) | RSS before MiB |")
p("|---|---|---|---|---|---|")
for (lib, label), rs in sorted(rr.items(), key=lambda kv: (kv[0][1].split("/")[0] != "warm", kv[0][0], kv[0][1])):
    temp, _, variant = label.partition("/")
    p(f"| {lib}{' ' + variant if variant else ''} | {temp} | {med([r['read_s'] for r in rs]):.2f} | {med([r['cpu_s'] for r in rs]):.2f} | "
      f"{med([r['vmhwm_kb'] for r in rs]) / 1024:.0f} | {med([r['rss_before_kb'] for r in rs]) / 1024:.0f} |")

# 5. overhead
p("\n## 5a. Per-statement overhead (`SELECT ?1 WHERE 0` on :memory:, median ns per statement)\n")
ov = group("overhead", lambda r: (r["lib"], r["path"]), lambda r: r["ns_per_stmt"])
p("| library | path | ns/statement |")
p("|---|---|---|")
for (lib, path), v in ov.items():
    p(f"| {lib} | {path} | {fmt(med(v))} |")

if os.path.exists(f"{ROOT}/buildcost.jsonl"):
    p("\n## 5b. Debug build cost of a trivial executable depending only on the library\n")
    bc = [json.loads(l) for l in open(f"{ROOT}/buildcost.jsonl")]
    g = collections.defaultdict(list)
    for r in bc:
        g[(r["pkg"], r["kind"])].append(r)
    p("| package | from empty .build (clone+resolve+build) s | clean build (checkouts kept) s, each run | load avg during |")
    p("|---|---|---|---|")
    for pkg in ("empty", "nio-only", "grdb", "with-sqlite-nio"):
        full = g[(pkg, "full")]
        clean = g[(pkg, "clean")]
        fs = ", ".join("%.0f" % r["seconds"] for r in full)
        cl = ", ".join("%.0f" % r["seconds"] for r in clean)
        ld = "; ".join(r["load"].split()[0] for r in full + clean)
        p(f"| {pkg} | {fs} | {cl} | {ld} |")

if rows:
    loads = [r["load1"] for r in rows]
    p(f"\nMachine load (1-min loadavg on 2 cores) at the start of the runs: min {min(loads):.1f}, median {med(loads):.1f}, max {max(loads):.1f}.")

open(f"{ROOT}/summary.md", "w").write("\n".join(out) + "\n")
print("\n".join(out))
