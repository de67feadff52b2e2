"""The durable store (issue 15, first step: retained messages), against the real binary: retained
messages survive a restart and a kill -9, their expiry counts the time the broker was down, and a
store that cannot be used stops start-up with exit status 2 and one line naming the file — never a
silent wipe. `starling store check` says what a store holds.
"""
import os
import signal
import sqlite3
import subprocess
import threading
import time

import paho.mqtt.client as paho
import pytest
from paho.mqtt.packettypes import PacketTypes

from conftest import props, run_to_exit, starling_binary

# Mosquitto's persistence is configured differently; these are Starling's store and commands.
pytestmark = pytest.mark.starling_only

# The writer commits a change at most storage.flush_interval (10 ms) after it, plus one commit:
# what was acknowledged longer ago than this is on disk.
COMMITTED_AFTER = 0.3


def store_config(tmp_path, **storage) -> dict:
    return {"node": {"data_dir": str(tmp_path / "data")}, "storage": storage}


def retained_on(b, client_factory, uid, name="sub"):
    """Every retained message a new subscriber to `UID/#` gets: a live marker published after its
    SUBACK arrives after all of them (one session delivers in order), so nothing is left to come."""
    sub = client_factory(b, name)
    assert sub.subscribe(f"{uid}/#", 1) == [1]
    client_factory(b, f"{name}-marker").publish(f"{uid}/marker", b"marker", qos=1)
    sub.wait_messages(1, timeout=5, topic=f"{uid}/marker")
    return [m for m in sub.messages if m.topic != f"{uid}/marker"]


def publish_retained(b, client_factory, uid):
    pub = client_factory(b, "pub")
    pub.publish(f"{uid}/kept", b"kept", qos=1, retain=True)
    pub.publish(f"{uid}/replaced", b"old", qos=1, retain=True)
    pub.publish(f"{uid}/replaced", b"new", qos=1, retain=True)
    pub.publish(f"{uid}/cleared", b"soon gone", qos=1, retain=True)
    pub.publish(f"{uid}/cleared", b"", qos=1, retain=True)
    pub.publish(f"{uid}/expiring", b"expires in 60 s", qos=1, retain=True,
                properties=props(PacketTypes.PUBLISH, MessageExpiryInterval=60))


def assert_restored(b, client_factory, uid):
    got = retained_on(b, client_factory, uid)
    assert sorted((m.topic, m.payload) for m in got) == [
        (f"{uid}/expiring", b"expires in 60 s"), (f"{uid}/kept", b"kept"), (f"{uid}/replaced", b"new")]
    assert all(m.retain for m in got)
    expiring = next(m for m in got if m.topic.endswith("expiring"))
    assert 0 < expiring.properties.MessageExpiryInterval <= 60


@pytest.mark.parametrize("stop", ["sigterm", "kill-9"])
def test_retained_messages_survive_a_restart(broker_factory, client_factory, tmp_path, uid, stop):
    config = store_config(tmp_path)
    b = broker_factory(config)
    publish_retained(b, client_factory, uid)
    if stop == "sigterm":
        assert b.stop() == 0
    else:
        time.sleep(COMMITTED_AFTER)
        b.signal(signal.SIGKILL)
        b.wait(10)
    again = broker_factory(config)
    assert "3 retained messages, 0 sessions" in again.log_text(), again.log_text()[-2000:]
    assert_restored(again, client_factory, uid)
    # Changes after the restart are kept too.
    client_factory(again, "pub2").publish(f"{uid}/kept", b"", qos=1, retain=True)
    again.stop()
    third = broker_factory(config)
    assert sorted(m.topic for m in retained_on(third, client_factory, uid)) == [
        f"{uid}/expiring", f"{uid}/replaced"]


def test_message_expiry_counts_the_time_the_broker_was_down(broker_factory, client_factory, tmp_path, uid):
    config = store_config(tmp_path)
    b = broker_factory(config)
    pub = client_factory(b, "pub")
    pub.publish(f"{uid}/short", b"2 s", qos=1, retain=True, properties=props(PacketTypes.PUBLISH, MessageExpiryInterval=2))
    pub.publish(f"{uid}/long", b"60 s", qos=1, retain=True, properties=props(PacketTypes.PUBLISH, MessageExpiryInterval=60))
    b.stop()
    time.sleep(2.5)  # the broker is down longer than the short message lives
    again = broker_factory(config)
    got = retained_on(again, client_factory, uid)
    assert [m.topic for m in got] == [f"{uid}/long"]
    assert got[0].properties.MessageExpiryInterval <= 57
    # The expired message has left the store too.
    again.stop()
    check = subprocess.run([str(starling_binary()), "store", "check", "--config", str(again.config_path)],
                           capture_output=True, text=True, timeout=30)
    assert check.returncode == 0 and "retained messages: 1\n" in check.stdout + "\n", check


def test_memory_backend_keeps_nothing_and_leaves_the_store_alone(broker_factory, client_factory, tmp_path, uid):
    b = broker_factory(store_config(tmp_path))
    client_factory(b, "pub").publish(f"{uid}/t", b"on disk", qos=1, retain=True)
    b.stop()
    db = tmp_path / "data" / "store" / "starling.db"
    before = db.read_bytes()
    memory = broker_factory(store_config(tmp_path, backend="memory"))
    assert 'storage.backend = "memory": nothing survives a restart' in memory.log_text()
    assert retained_on(memory, client_factory, uid) == [], "the memory backend restores nothing"
    client_factory(memory, "pub2").publish(f"{uid}/t", b"in memory", qos=1, retain=True)
    memory.stop()
    assert db.read_bytes() == before
    back = broker_factory(store_config(tmp_path))
    assert [m.payload for m in retained_on(back, client_factory, uid, name="back")] == [b"on disk"]


# -- stores that cannot be used


def make_store(tmp_path) -> "os.PathLike":
    """A real store, made by a broker run that ends with SIGTERM once it listens (WAL checkpointed)."""
    cfg = tmp_path / "make.toml"
    cfg.write_text(f'[node]\ndata_dir = "{tmp_path / "data"}"\n')
    proc = subprocess.Popen([str(starling_binary()), "start", "--bind", "127.0.0.1", "--port", "0", "--api-port", "0",
                             "--config", str(cfg)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        listening = threading.Event()

        def read_log():
            for line in proc.stderr:
                if "listening on" in line:
                    listening.set()
        threading.Thread(target=read_log, daemon=True).start()
        assert listening.wait(30), "the broker making the store did not start listening"
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    db = tmp_path / "data" / "store" / "starling.db"
    assert db.exists()
    return db


def corrupt(kind: str, db):
    if kind == "random-bytes":
        db.write_bytes(os.urandom(8192))
    elif kind == "truncated":
        data = db.read_bytes()
        db.write_bytes(data[:len(data) // 2 - 100])
    elif kind == "not-ours":
        db.unlink()
        with sqlite3.connect(db) as connection:
            connection.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, item TEXT)")
    elif kind == "newer-schema":
        connection = sqlite3.connect(db)
        connection.execute("UPDATE meta SET value = 99 WHERE key = 'schema_version'")
        connection.commit()
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # into the main file, as a newer Starling would leave it
        connection.close()


@pytest.mark.parametrize("kind,problem", [
    ("random-bytes", "file is not a database"),
    ("truncated", ""),
    ("not-ours", "an SQLite database that is not a Starling store (tables: orders)"),
    ("newer-schema", "schema version 99 was written by a newer Starling; this one reads versions up to 2"),
])
def test_a_store_that_cannot_be_used_stops_start_up(tmp_path, kind, problem):
    db = make_store(tmp_path)
    corrupt(kind, db)
    damaged = db.read_bytes()
    status, stderr = run_to_exit(tmp_path, f'[node]\ndata_dir = "{tmp_path / "data"}"\n')
    if kind == "truncated" and status != 2:
        pytest.fail(f"a truncated store was accepted (status {status}): {stderr}")
    assert status == 2, stderr
    lines = [line for line in stderr.splitlines() if line.startswith("starling:")]
    assert len(lines) == 1, stderr
    assert f"store {db}: " in lines[0] and problem in lines[0], lines[0]
    assert f"move it aside (mv {db} {db}.bad)" in lines[0], lines[0]
    assert db.read_bytes() == damaged, "the store is never wiped"
    check = subprocess.run([str(starling_binary()), "store", "check", "--config", str(tmp_path / "bad.toml")],
                           capture_output=True, text=True, timeout=30)
    assert check.returncode == 2 and f"store {db}: " in check.stderr, check


def test_a_store_in_use_is_refused(broker_factory, client_factory, tmp_path, uid):
    b = broker_factory(store_config(tmp_path))
    client_factory(b, "pub").publish(f"{uid}/t", b"x", qos=1, retain=True)
    status, stderr = run_to_exit(tmp_path, f'[node]\ndata_dir = "{tmp_path / "data"}"\n')
    assert status == 2 and "another process (a running broker, or `starling store check`) holds this store" in stderr, stderr
    cfg = tmp_path / "check.toml"
    cfg.write_text(f'[node]\ndata_dir = "{tmp_path / "data"}"\n')
    busy = subprocess.run([str(starling_binary()), "store", "check", "--config", str(cfg)],
                          capture_output=True, text=True, timeout=30)
    assert busy.returncode == 2 and "holds this store" in busy.stderr, busy
    assert b.alive
    b.stop()
    done = subprocess.run([str(starling_binary()), "store", "check", "--config", str(cfg)],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done
    assert "ok" in done.stdout and "schema version: 2" in done.stdout and "retained messages: 1" in done.stdout, done.stdout


def test_an_unusable_data_directory_stops_start_up(tmp_path):
    blocker = tmp_path / "data"
    blocker.write_text("a file where the data directory should be")
    status, stderr = run_to_exit(tmp_path, f'[node]\ndata_dir = "{blocker}"\n')
    assert status == 2 and f"store directory {blocker}/store: cannot create it" in stderr, stderr
