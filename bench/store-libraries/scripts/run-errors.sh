#!/bin/bash
# Error mapping: SQLITE_FULL, SQLITE_BUSY (other process holds locking_mode=EXCLUSIVE), corrupt file, random bytes, non-SQLite file.
set -u
cd /tmp/storespike
B=.build/release
D=/tmp/storespike/data/err
mkdir -p $D
N="nice -n 19"
out=results/errors.jsonl
: > $out

# SQLITE_FULL via PRAGMA max_page_count=64
$N $B/bench-grdb errors --case=full --db=$D/full-grdb.db | tee -a $out
$N $B/bench-nio  errors --case=full --db=$D/full-nio.db  | tee -a $out

# SQLITE_BUSY: a second process (python3's sqlite3 module) takes an EXCLUSIVE lock and holds it for 25 s.
mkbusy() {
  rm -f $1 $1-wal $1-shm
  $N $B/bench-grdb mkrestore --db=$1 --sessions=10 --messages=10 --per-session=1 --payload=16 >/dev/null
  python3 - "$1" <<'PY' &
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("PRAGMA locking_mode=EXCLUSIVE")
c.execute("BEGIN EXCLUSIVE"); c.execute("INSERT INTO sessions(id, client_id) VALUES (424242, 'holder')"); c.execute("COMMIT")
print("holder: exclusive lock held", flush=True)
time.sleep(25)
PY
  HOLDER=$!
  sleep 1
}
for lib in grdb nio; do
  for bt in "" 1000; do
    mkbusy $D/busy-$lib.db
    extra=""; [ -n "$bt" ] && extra="--busy-timeout-ms=$bt"
    timeout 20 $N $B/bench-$lib errors --case=busy --db=$D/busy-$lib.db --timeout=5 $extra | sed "s/}\$/,\"busy_timeout_ms\":\"${bt:-default}\"}/" | tee -a $out
    kill $HOLDER 2>/dev/null; wait $HOLDER 2>/dev/null
  done
done

# Corrupt: a valid store whose b-tree pages (not page 1) are overwritten with random bytes.
rm -f $D/good.db*
$N $B/bench-grdb mkrestore --db=$D/good.db --sessions=2000 --messages=2000 --per-session=10 --payload=1024 >/dev/null
cp $D/good.db $D/corrupt.db
python3 - $D/corrupt.db <<'PY'
import os, sys, random
random.seed(7)
size = os.path.getsize(sys.argv[1])
with open(sys.argv[1], "r+b") as f:
    for off in range(8192, size, 4096 * 7):    # every 7th page from page 3 on
        f.seek(off); f.write(random.randbytes(4096))
PY
# Random bytes: the whole file is random.
head -c 1048576 /dev/urandom > $D/random.db
# Not a database: a text file.
printf '{"listeners":[{"port":1883}],"store":"starling.db"}\n' > $D/notadb.db

for kase in corrupt random notadb; do
  for lib in grdb nio; do
    cp $D/$kase.db $D/$kase-$lib.db
    timeout 30 $N $B/bench-$lib errors --case=$kase --db=$D/$kase-$lib.db | tee -a $out
  done
done
