"""Durable sessions (issue 15), against the real binary: a session that outlives its connection
(5.0 session expiry > 0, 3.1.1 clean session 0) comes back after a restart or a kill -9 with its
subscriptions, its queued and in-flight messages (same packet ids, DUP), the QoS 2 packet ids it
awaits PUBREL for, its expiry and its delayed will, all counting the time the broker was down.
"""
import os
import signal
import subprocess
import time

import pytest
from paho.mqtt.packettypes import PacketTypes

import mqttraw as raw
from conftest import props, starling_binary, wait_for
from test_store import COMMITTED_AFTER, store_config

pytestmark = pytest.mark.starling_only


def restart(b, broker_factory, config, how: str):
    """Stops `b` (SIGTERM, or kill -9 once what was acknowledged is committed) and starts it again."""
    if how == "sigterm":
        assert b.stop() == 0
    else:
        time.sleep(COMMITTED_AFTER)
        b.signal(signal.SIGKILL)
        assert b.wait(10) is not None
    return broker_factory(config)


def persistent(client_factory, b, name, protocol=5, expiry=300, **kw):
    """A client whose session outlives its connection: 3.1.1 clean session 0, 5.0 `expiry` s."""
    if protocol == 5:
        kw.setdefault("properties", props(PacketTypes.CONNECT, SessionExpiryInterval=expiry))
    return client_factory(b, name, protocol=protocol, clean=False, **kw)


def offline_subscriber(client_factory, b, name, topic_filter, expiry=300):
    """A 5.0 session subscribed to `topic_filter` (QoS 1) whose client has gone."""
    s = persistent(client_factory, b, name, expiry=expiry)
    s.subscribe(topic_filter, 1)
    s.disconnect()


def store_check(b) -> str:
    check = subprocess.run([str(starling_binary()), "store", "check", "--config", str(b.config_path)],
                           capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, check
    return check.stdout


@pytest.mark.parametrize("protocol", [4, 5])
@pytest.mark.parametrize("how", ["sigterm", "kill-9"])
def test_an_offline_session_and_its_queue_survive_a_restart(broker_factory, client_factory, tmp_path, uid, protocol, how):
    config = store_config(tmp_path)
    b = broker_factory(config)
    sub = persistent(client_factory, b, "sub", protocol)
    assert sub.subscribe(f"{uid}/q1/#", 1) == [1]
    assert sub.subscribe(f"{uid}/q2/#", 2) == [2]
    assert sub.subscribe(f"{uid}/gone", 1) == [1]
    assert sub.unsubscribe(f"{uid}/gone") is not None
    sub.disconnect()
    pub = client_factory(b, "pub")
    sent = []
    for i in range(20):
        qos = 1 + i % 2
        topic = f"{uid}/q{qos}/{i}"
        pub.publish(topic, f"m{i}".encode(), qos=qos)
        sent.append((topic, f"m{i}".encode()))
    pub.publish(f"{uid}/gone", b"unsubscribed", qos=1)
    again = restart(b, broker_factory, config, how)
    assert "1 sessions with 20 messages restored" in again.log_text(), again.log_text()[-3000:]
    back = persistent(client_factory, again, "sub", protocol)
    assert back.session_present
    got = back.wait_messages(20, timeout=10)
    # paho hands a QoS 2 message over at PUBREL, so the order holds within each QoS.
    for qos in (1, 2):
        assert [(m.topic, m.payload) for m in got if m.qos == qos] == [s for s in sent if f"/q{qos}/" in s[0]], \
            "every queued message, once, in order"
    assert len(got) == 20
    # The subscriptions came back too: a message published after the restart reaches the session.
    client_factory(again, "pub2").publish(f"{uid}/q1/after", b"after", qos=1)
    back.wait_messages(1, topic=f"{uid}/q1/after")
    client_factory(again, "pub3").publish(f"{uid}/gone", b"marker?", qos=1)
    client_factory(again, "pub4").publish(f"{uid}/q1/marker", b"marker", qos=1)
    back.wait_messages(1, topic=f"{uid}/q1/marker")
    assert back.received(f"{uid}/gone") == [], "the unsubscribed filter stayed unsubscribed"


def test_messages_in_flight_are_sent_again_with_their_packet_ids(broker_factory, raw_factory, tmp_path, uid):
    config = store_config(tmp_path)
    b = broker_factory(config)
    sub = raw_factory(b)
    assert sub.connect(f"{uid}-sub", clean=False, props={raw.SESSION_EXPIRY_INTERVAL: 300}).rc == 0
    sub.send(raw.subscribe(1, [(f"{uid}/#", 2)]))
    sub.expect(raw.SUBACK)
    pub = raw_factory(b)
    pub.connect(f"{uid}-pub")
    pub.send(raw.publish(f"{uid}/one", b"q1", qos=1, pid=1))
    pub.expect(raw.PUBACK)
    pub.send(raw.publish(f"{uid}/two", b"q2", qos=2, pid=2))
    pub.expect(raw.PUBREC)
    pub.send(raw.pubrel(2))
    pub.expect(raw.PUBCOMP)
    first, second = sub.recv_publishes(2)
    # The QoS 2 message reaches PUBREC: the broker owes a PUBREL, not the message, after the restart.
    sub.send(raw.pubrec(second.pid))
    sub.expect(raw.PUBREL)
    again = restart(b, broker_factory, config, "kill-9")
    back = raw_factory(again)
    ack = back.connect(f"{uid}-sub", clean=False, props={raw.SESSION_EXPIRY_INTERVAL: 300})
    assert ack.rc == 0 and ack.session_present
    resent = back.recv()
    assert resent.type == raw.PUBLISH and resent.dup and resent.pid == first.pid and resent.payload == b"q1", resent
    rel = back.expect(raw.PUBREL)
    assert rel.pid == second.pid
    back.send(raw.puback(first.pid))
    back.send(raw.pubcomp(second.pid))
    back.expect_silence(0.5)
    # Acknowledged: nothing is owed after another restart.
    back.send(raw.disconnect())
    third = restart(again, broker_factory, config, "sigterm")
    last = raw_factory(third)
    assert last.connect(f"{uid}-sub", clean=False, props={raw.SESSION_EXPIRY_INTERVAL: 300}).session_present
    last.expect_silence(0.5)


def test_an_incoming_qos2_flow_completes_exactly_once_across_a_restart(broker_factory, raw_factory, client_factory,
                                                                      tmp_path, uid):
    config = store_config(tmp_path)
    b = broker_factory(config)
    sub = persistent(client_factory, b, "sub")
    assert sub.subscribe(f"{uid}/t", 2) == [2]
    sub.disconnect()
    pub = raw_factory(b)
    assert pub.connect(f"{uid}-pub", clean=False, props={raw.SESSION_EXPIRY_INTERVAL: 300}).rc == 0
    pub.send(raw.publish(f"{uid}/t", b"exactly once", qos=2, pid=7))
    assert pub.expect(raw.PUBREC).pid == 7
    again = restart(b, broker_factory, config, "kill-9")
    back = raw_factory(again)
    assert back.connect(f"{uid}-pub", clean=False, props={raw.SESSION_EXPIRY_INTERVAL: 300}).session_present
    # The publisher did not see PUBREC as far as it knows: it sends the PUBLISH again (DUP).
    back.send(raw.publish(f"{uid}/t", b"exactly once", qos=2, pid=7, dup=True))
    assert back.expect(raw.PUBREC).pid == 7
    back.send(raw.pubrel(7))
    comp = back.expect(raw.PUBCOMP)
    assert comp.pid == 7 and comp.rc == 0, comp
    subscriber = persistent(client_factory, again, "sub")
    assert subscriber.session_present
    subscriber.wait_messages(1)
    client_factory(again, "marker").publish(f"{uid}/t", b"marker", qos=2)
    subscriber.wait_messages(2)
    assert subscriber.payloads() == [b"exactly once", b"marker"]


def test_session_expiry_counts_the_time_the_broker_was_down(broker_factory, client_factory, tmp_path, uid):
    config = store_config(tmp_path)
    b = broker_factory(config)
    offline_subscriber(client_factory, b, "short", f"{uid}/#", expiry=2)
    offline_subscriber(client_factory, b, "long", f"{uid}/#")
    client_factory(b, "pub").publish(f"{uid}/queued", b"queued", qos=1)
    assert b.stop() == 0
    time.sleep(2.5)  # longer than the short session lives
    again = broker_factory(config)
    assert "1 sessions with 1 messages restored" in again.log_text() and "expired_sessions=1" in again.log_text(), \
        again.log_text()[-3000:]
    gone = persistent(client_factory, again, "short", expiry=2)
    assert not gone.session_present
    kept = persistent(client_factory, again, "long")
    assert kept.session_present
    assert kept.wait_messages(1)[0].payload == b"queued"
    gone.disconnect()
    kept.disconnect()
    again.stop()
    # The expired session's rows left the store (the two there: "long", and the new "short"), and
    # the queued message with its last reference.
    summary = store_check(again)
    assert "sessions: 2\n" in summary and "session messages: 0 queued, 0 in flight (0 distinct messages)" in summary, summary


def test_queued_message_expiry_counts_the_time_the_broker_was_down(broker_factory, client_factory, tmp_path, uid):
    config = store_config(tmp_path)
    b = broker_factory(config)
    offline_subscriber(client_factory, b, "sub", f"{uid}/#")
    pub = client_factory(b, "pub")
    pub.publish(f"{uid}/short", b"2 s", qos=1, properties=props(PacketTypes.PUBLISH, MessageExpiryInterval=2))
    pub.publish(f"{uid}/long", b"60 s", qos=1, properties=props(PacketTypes.PUBLISH, MessageExpiryInterval=60))
    assert b.stop() == 0
    time.sleep(2.5)  # longer than the short message lives
    again = broker_factory(config)
    back = persistent(client_factory, again, "sub")
    got = back.wait_messages(1)
    client_factory(again, "marker").publish(f"{uid}/marker", b"m", qos=1)
    back.wait_messages(1, topic=f"{uid}/marker")
    assert [m.topic for m in back.received()] == [f"{uid}/long", f"{uid}/marker"]
    assert got[0].properties.MessageExpiryInterval <= 57


def test_a_message_for_many_sessions_is_stored_once(broker_factory, client_factory, tmp_path, uid):
    config = store_config(tmp_path)
    b = broker_factory(config)
    for i in range(5):
        offline_subscriber(client_factory, b, f"s{i}", f"{uid}/#")
    pub = client_factory(b, "pub")
    pub.publish(f"{uid}/shared", b"x" * 1000, qos=1)
    pub.publish(f"{uid}/second", b"y", qos=1)
    assert b.stop() == 0
    summary = store_check(b)
    assert "sessions: 5\n" in summary and "session messages: 10 queued, 0 in flight (2 distinct messages)" in summary, summary
    # Once every session has it, the message leaves the store with its last reference.
    again = broker_factory(config)
    for i in range(5):
        s = persistent(client_factory, again, f"s{i}")
        assert [m.topic for m in s.wait_messages(2)] == [f"{uid}/shared", f"{uid}/second"]
        s.disconnect()
    assert again.stop() == 0
    assert "session messages: 0 queued, 0 in flight (0 distinct messages)" in store_check(again)


@pytest.mark.parametrize("downtime", ["shorter", "longer"])
def test_a_delayed_will_is_kept_across_a_restart(broker_factory, client_factory, raw_factory, tmp_path, uid, downtime):
    config = store_config(tmp_path)
    b = broker_factory(config)
    offline_subscriber(client_factory, b, "watcher", f"{uid}/will")
    dying = raw_factory(b)
    assert dying.connect(f"{uid}-dying", clean=False, props={raw.SESSION_EXPIRY_INTERVAL: 300},
                         will={"topic": f"{uid}/will", "payload": b"gone", "qos": 1,
                               "props": {raw.WILL_DELAY_INTERVAL: 3}}).rc == 0
    dropped_at = time.monotonic()
    dying.abort()  # no DISCONNECT: the will waits for its delay
    time.sleep(0.3)
    assert b.stop() == 0
    if downtime == "longer":
        time.sleep(3)  # the delay passes while the broker is down: the will goes out at start-up
    again = broker_factory(config)
    back = persistent(client_factory, again, "watcher")
    got = back.wait_messages(1, timeout=10)
    assert got[0].payload == b"gone"
    assert time.monotonic() - dropped_at >= 2.9, "the will waited for its delay, downtime included"
    client_factory(again, "marker").publish(f"{uid}/will", b"marker", qos=1)
    back.wait_messages(2)
    assert back.payloads() == [b"gone", b"marker"], "the will went out once"


def test_a_clean_start_discards_the_stored_session(broker_factory, client_factory, tmp_path, uid):
    config = store_config(tmp_path)
    b = broker_factory(config)
    offline_subscriber(client_factory, b, "sub", f"{uid}/#")
    client_factory(b, "pub").publish(f"{uid}/t", b"queued", qos=1)
    fresh = client_factory(b, "sub", clean=True)
    assert not fresh.session_present
    fresh.disconnect()
    again = restart(b, broker_factory, config, "kill-9")
    assert "0 sessions with 0 messages restored" in again.log_text()
    assert "sessions: 0\n" in store_check_after(again)


def test_a_session_resumed_with_expiry_0_leaves_the_store(broker_factory, client_factory, tmp_path, uid):
    config = store_config(tmp_path)
    b = broker_factory(config)
    offline_subscriber(client_factory, b, "sub", f"{uid}/#")  # stored, holding no message
    ending = persistent(client_factory, b, "sub", expiry=0)  # resumed, now ends with its connection
    assert ending.session_present
    ending.disconnect()
    again = restart(b, broker_factory, config, "kill-9")
    assert "0 sessions with 0 messages restored" in again.log_text(), again.log_text()[-2000:]
    assert not persistent(client_factory, again, "sub").session_present


def test_an_unreadable_session_row_is_discarded_and_named(broker_factory, client_factory, tmp_path, uid):
    import sqlite3
    config = store_config(tmp_path)
    b = broker_factory(config)
    offline_subscriber(client_factory, b, "bad", f"{uid}/#")
    offline_subscriber(client_factory, b, "good", f"{uid}/#")
    client_factory(b, "pub").publish(f"{uid}/t", b"queued", qos=1)
    assert b.stop() == 0
    with sqlite3.connect(tmp_path / "data" / "store" / "starling.db") as db:
        db.execute("UPDATE sessions SET state = x'01ff' WHERE client_id = ?", (f"{uid}-bad",))
    again = broker_factory(config)
    assert f"store: cannot read the session of {uid}-bad (" in again.log_text() and "; discarded)" in again.log_text(), \
        again.log_text()[-2000:]
    assert "1 sessions with 1 messages restored" in again.log_text()
    assert not persistent(client_factory, again, "bad").session_present
    good = persistent(client_factory, again, "good")
    assert good.session_present and good.wait_messages(1)[0].payload == b"queued"


def store_check_after(b) -> str:
    b.stop()
    return store_check(b)


def test_a_version_1_store_is_migrated(broker_factory, client_factory, tmp_path, uid):
    import sqlite3
    db = tmp_path / "data" / "store" / "starling.db"
    db.parent.mkdir(parents=True)
    with sqlite3.connect(db) as connection:
        connection.executescript("""
            CREATE TABLE meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;
            INSERT INTO meta (key, value) VALUES ('application', 'starling'), ('schema_version', 1);
            CREATE TABLE retained (topic TEXT PRIMARY KEY, message BLOB, expires_at INTEGER, stamp_time INTEGER,
                                   stamp_node TEXT) WITHOUT ROWID;
            """)
    # `store check` reads a store of an older schema as it is and writes nothing to it.
    before = db.read_bytes()
    cfg = tmp_path / "check.toml"
    cfg.write_text(f'[node]\ndata_dir = "{tmp_path / "data"}"\n')
    check = subprocess.run([str(starling_binary()), "store", "check", "--config", str(cfg)],
                           capture_output=True, text=True, timeout=30)
    assert check.returncode == 0 and "schema version: 1 (the broker migrates it to 2 at start-up)" in check.stdout, check
    assert db.read_bytes() == before
    config = store_config(tmp_path)
    b = broker_factory(config)
    offline_subscriber(client_factory, b, "sub", f"{uid}/#")
    assert b.stop() == 0
    summary = store_check(b)
    assert "schema version: 2" in summary and "sessions: 1\n" in summary, summary


def test_a_full_store_drops_new_messages_and_the_broker_serves_on(broker_factory, client_factory, tmp_path, uid):
    from test_prometheus import scrape, value
    config = store_config(tmp_path, max_bytes="1MB")
    config["session"] = {"max_queued_messages": 100_000}
    b = broker_factory(config)
    offline_subscriber(client_factory, b, "sub", f"{uid}/#")
    pub = client_factory(b, "pub")
    chunk = b"x" * 60_000
    for i in range(40):  # 2.4 MB for a store of 1 MB
        pub.publish(f"{uid}/big", chunk + str(i).encode(), qos=1)
    wait_for(lambda: "store full (" in b.log_text(), 10, message="the store full")
    assert "of storage.max_bytes 1048576 bytes" in b.log_text(), b.log_text()[-2000:]
    for i in range(40, 50):  # the store is full: these are not stored
        pub.publish(f"{uid}/big", chunk + str(i).encode(), qos=1)
    wait_for(lambda: value(scrape(b)[1], "starling_messages_dropped_total", reason="store_full") >= 10, 10,
             message="copies dropped for the full store")
    # Everyone else is served on: a clean session publishes and receives.
    other = client_factory(b, "other")
    other.subscribe(f"{uid}/other", 1)
    client_factory(b, "pub2").publish(f"{uid}/other", b"still served", qos=1)
    assert other.wait_messages(1)[0].payload == b"still served"
    # The subscriber drains what was stored; the space comes back and new messages are stored again.
    back = persistent(client_factory, b, "sub")
    stored = back.wait_messages(5, timeout=10)
    dropped = value(scrape(b)[1], "starling_messages_dropped_total", reason="store_full")
    wait_for(lambda: len(back.received()) + dropped >= 50, 10, message="every copy delivered or counted dropped")
    assert len(back.received()) <= 40 and all(m.payload.startswith(chunk) for m in stored)
    back.disconnect()
    wait_for(lambda: "store has room again" in b.log_text(), 10, message="the store has room again")
    pub.publish(f"{uid}/big", b"after the drain", qos=1)
    assert b.stop() == 0
    again = broker_factory(config)
    last = persistent(client_factory, again, "sub")
    assert last.wait_messages(1)[0].payload == b"after the drain"


def test_sync_does_not_acknowledge_what_the_full_store_refused(broker_factory, client_factory, raw_factory, tmp_path, uid):
    from test_prometheus import scrape, value
    config = store_config(tmp_path, durability="sync", max_bytes="1MB")
    config["session"] = {"max_queued_messages": 100_000}
    b = broker_factory(config)
    offline_subscriber(client_factory, b, "sub", f"{uid}/#")
    pub = client_factory(b, "pub")
    for i in range(40):  # 2.4 MB for a store of 1 MB
        pub.publish(f"{uid}/big", b"x" * 60_000, qos=1, wait=False)
    wait_for(lambda: "store full (" in b.log_text(), 10, message="the store full")
    # 5.0: PUBACK 0x97 (quota exceeded) for a message a stored session could not keep.
    v5 = raw_factory(b)
    assert v5.connect(f"{uid}-v5").rc == 0
    v5.send(raw.publish(f"{uid}/t", b"not stored", qos=1, pid=5))
    ack = v5.expect(raw.PUBACK)
    assert ack.pid == 5 and ack.rc == 0x97, ack
    # 3.1.1 has no negative PUBACK: the publisher is disconnected before any, so that it sends again.
    v3 = raw_factory(b, raw.V311)
    assert v3.connect(f"{uid}-v3").rc == 0
    v3.send(raw.publish(f"{uid}/t", b"not stored", qos=1, pid=6, version=raw.V311))
    assert not [p for p in v3.read_until_closed() if p.type == raw.PUBACK], "no PUBACK before the close"
    assert value(scrape(b)[1], "starling_messages_dropped_total", reason="store_full") >= 2
    # A message no stored session wants is acknowledged as ever.
    v5.send(raw.publish("elsewhere/t", b"x", qos=1, pid=7))
    assert v5.expect(raw.PUBACK).pid == 7


@pytest.mark.parametrize("relief", ["space freed", "queue drained"])
def test_a_full_disk_stops_no_one_and_writing_resumes_when_space_returns(broker_factory, client_factory, tmp_path, uid,
                                                                        relief):
    from test_prometheus import scrape, value
    disk = tmp_path / "disk"  # a small file system of its own (tmpfs), filled up by the test
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8M", "tmpfs", str(disk)], check=True, timeout=30)
    try:
        config = {"node": {"data_dir": str(disk / "data")}, "session": {"max_queued_messages": 100_000}}
        b = broker_factory(config)
        offline_subscriber(client_factory, b, "sub", f"{uid}/#")
        pub = client_factory(b, "pub")
        pub.publish(f"{uid}/big", b"before", qos=1)
        time.sleep(COMMITTED_AFTER)
        stats = os.statvfs(disk)
        filler = disk / "filler"
        filler.write_bytes(b"\1" * (stats.f_bavail * stats.f_frsize - 64 * 1024))  # 64 KB left
        for i in range(10):
            pub.publish(f"{uid}/big", b"x" * 50_000, qos=1)
        wait_for(lambda: "store full (a commit failed)" in b.log_text(), 10, message="the failed commit")
        assert "store: cannot write: " in b.log_text() and "retrying" in b.log_text()
        for i in range(5):  # the store is full: not stored, counted
            pub.publish(f"{uid}/big", b"refused", qos=1)
        wait_for(lambda: value(scrape(b)[1], "starling_messages_dropped_total", reason="store_full") >= 5, 10,
                 message="copies dropped for the full disk")
        other = client_factory(b, "other")
        other.subscribe(f"{uid}-other/t", 1)
        client_factory(b, "pub2").publish(f"{uid}-other/t", b"still served", qos=1)
        assert other.wait_messages(1)[0].payload == b"still served"
        dropped = value(scrape(b)[1], "starling_messages_dropped_total", reason="store_full")
        got = []
        if relief == "space freed":
            filler.unlink()  # the kept group commits, and new messages are stored again
        else:
            # The disk stays full, but what the subscriber drains cancels what the failed group
            # would have inserted: the group shrinks until it fits.
            early = persistent(client_factory, b, "sub")
            wait_for(lambda: len(early.received()) + dropped >= 16, 10, message="the queue drained")
            got = early.payloads()
            early.disconnect()
        wait_for(lambda: "store has room again" in b.log_text(), 10, message="the store has room again")
        pub.publish(f"{uid}/big", b"after", qos=1)
        assert b.stop() == 0
        again = broker_factory(config)
        back = persistent(client_factory, again, "sub")
        wait_for(lambda: b"after" in back.payloads(), 10, message="the message stored after the disk had room")
        got += back.payloads()
        # Each copy was stored (and is back) or dropped and counted: none is lost unseen.
        assert got[0] == b"before" and got[-1] == b"after" and b"refused" not in got, got[:3]
        assert got.count(b"x" * 50_000) + dropped == 15, (got.count(b"x" * 50_000), dropped)
        assert again.stop() == 0
    finally:
        subprocess.run(["umount", "-l", str(disk)], timeout=30)
