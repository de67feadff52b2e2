#!/usr/bin/env python3
"""Runs every measurement 3 times, interleaving libraries inside each repetition (so the load from the other job on
the machine is spread evenly), each run in a fresh process under `nice -n 19`. Appends JSON lines to
results/bench.jsonl. Usage: scripts/run-bench.py [sections...]   sections: write sync delete restore overhead
"""
import json, os, subprocess, sys, time

ROOT = "/tmp/storespike"
B = f"{ROOT}/.build/release"
OUT = f"{ROOT}/results/bench.jsonl"
REPS = int(os.environ.get("REPS", "3"))
SECONDS = os.environ.get("SECONDS_PER_RUN", "2.5")

# (label, binary, driver)
LIBS = [
    ("grdb", "bench-grdb", "grdb"),
    ("nio-wait", "bench-nio", "nio-wait"),
    ("nio-pipe", "bench-nio", "nio-pipe"),
    ("nio-async", "bench-nio", "nio-async"),
    ("raw-system", "bench-grdb", "raw"),
    ("raw-bundled", "bench-nio", "raw"),
]


def run(cmd, rep, section):
    full = ["nice", "-n", "19"] + cmd
    load = open("/proc/loadavg").read().split()[0]
    t0 = time.time()
    p = subprocess.run(full, capture_output=True, text=True, timeout=300)
    lines = [l for l in p.stdout.splitlines() if l.startswith("{")]
    with open(OUT, "a") as f:
        for l in lines:
            d = json.loads(l)
            d.update(rep=rep, section=section, load1=float(load), wall=round(time.time() - t0, 2), cmd=" ".join(full))
            f.write(json.dumps(d) + "\n")
            print(section, rep, {k: d[k] for k in d if k in ("lib", "commit", "subs", "payload", "sync", "journal",
                  "msgs_per_s", "rows_per_s", "read_s", "vmhwm_kb", "ns_per_stmt", "path", "label", "extra")}, flush=True)
    if p.returncode != 0 or not lines:
        print("FAILED", full, p.returncode, p.stderr[-2000:], p.stdout[-2000:], file=sys.stderr, flush=True)


def write_section(rep):
    for subs in (1, 10):
        for payload in (16, 1024):
            for commit in (1, 16, 256, 4096):
                for lib, binary, drv in LIBS:
                    run([f"{B}/{binary}", "write", f"--driver={drv}", "--journal=WAL", "--sync=NORMAL",
                         f"--subs={subs}", f"--payload={payload}", f"--commit={commit}", f"--seconds={SECONDS}",
                         f"--db={ROOT}/data/w-{lib}.db"], rep, "write")


def sync_section(rep):
    for journal, sync in (("WAL", "NORMAL"), ("WAL", "FULL"), ("DELETE", "FULL")):
        for commit in (1, 256):
            for lib, binary, drv in LIBS:
                run([f"{B}/{binary}", "write", f"--driver={drv}", f"--journal={journal}", f"--sync={sync}",
                     "--subs=1", "--payload=1024", f"--commit={commit}", f"--seconds={SECONDS}",
                     f"--db={ROOT}/data/s-{lib}.db"], rep, "sync")


def delete_section(rep):
    for subs, messages in ((1, 50_000), (10, 10_000)):
        variants = [(lib, binary, drv, None) for lib, binary, drv in LIBS]
        variants += [("grdb", "bench-grdb", "grdb", "PRAGMA secure_delete=ON"),
                     ("nio-pipe", "bench-nio", "nio-pipe", "PRAGMA secure_delete=OFF")]
        for lib, binary, drv, pragma in variants:
            cmd = [f"{B}/{binary}", "delete", f"--driver={drv}", f"--subs={subs}", "--payload=1024",
                   f"--messages={messages}", "--batch=256", "--seconds=20", f"--db={ROOT}/data/d-{lib}.db"]
            if pragma:
                cmd.append(f"--pragma={pragma}")
            run(cmd, rep, "delete")


def evict(path):
    fd = os.open(path, os.O_RDONLY)
    os.fsync(fd)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    os.close(fd)


def restore_section(rep):
    db = f"{ROOT}/data/restore.db"
    if not os.path.exists(db):
        subprocess.run(["nice", "-n", "19", f"{B}/bench-grdb", "mkrestore", f"--db={db}"], check=True)
    for temp in ("warm", "cold"):
        for binary, variant in (("bench-grdb", None), ("bench-nio", "async-onRow"), ("bench-nio", "rows-array"),
                                ("bench-nio", "future-onRow")):
            if temp == "cold":
                evict(db)
            else:
                open(db, "rb").read()  # make sure it is cached
            cmd = [f"{B}/{binary}", "restore", f"--db={db}", f"--label={temp}"]
            if variant:
                cmd.append(f"--variant={variant}")
            run(cmd, rep, "restore")


def overhead_section(rep):
    run([f"{B}/bench-grdb", "overhead", "--n=200000"], rep, "overhead")
    run([f"{B}/bench-nio", "overhead", "--n=50000"], rep, "overhead")


SECTIONS = {"write": write_section, "sync": sync_section, "delete": delete_section,
            "restore": restore_section, "overhead": overhead_section}

if __name__ == "__main__":
    os.makedirs(f"{ROOT}/data", exist_ok=True)
    wanted = sys.argv[1:] or list(SECTIONS)
    for rep in range(1, REPS + 1):
        for s in wanted:
            SECTIONS[s](rep)
