"""QoS 0/1/2 in both directions, exactly-once across reconnects, redelivery, the inflight window."""

import itertools
import select

import pytest

import mqttraw as m
from conftest import raw_connect_ok, raw_subscribe, wait_for


@pytest.mark.parametrize("protocol", [4, 5])
@pytest.mark.parametrize("pub_qos,sub_qos", list(itertools.product((0, 1, 2), repeat=2)))
def test_qos_delivery(broker, client_factory, uid, protocol, pub_qos, sub_qos):
    topic = f"t/{uid}"
    sub = client_factory(broker, "sub", protocol=protocol)
    pub = client_factory(broker, "pub", protocol=protocol)
    assert sub.subscribe(topic, sub_qos) == [sub_qos]
    for i in range(3):
        pub.publish(topic, f"m{i}", qos=pub_qos)
    msgs = sub.wait_messages(3)
    assert [x.payload for x in msgs] == [b"m0", b"m1", b"m2"]
    assert {x.qos for x in msgs} == {min(pub_qos, sub_qos)}
    assert not any(x.retain for x in msgs)


@pytest.mark.parametrize("version", [m.V311, m.V5])
def test_qos_flows_on_the_wire(broker, raw_factory, uid, version):
    """Raw client as both publisher and subscriber: the broker's side of each QoS handshake."""
    topic = f"t/{uid}/wire"
    r = raw_factory(broker, version)
    raw_connect_ok(r, f"{uid}-w", version=version)
    assert raw_subscribe(r, [(topic, 2)]) == [2]
    r.send(m.publish(topic, b"q0", qos=0, version=version))
    p = r.expect(m.PUBLISH)
    assert (p.payload, p.qos, p.pid) == (b"q0", 0, None)
    r.send(m.publish(topic, b"q1", qos=1, pid=11, version=version))
    got = [r.recv(), r.recv()]
    ack = next(x for x in got if x.type == m.PUBACK)
    pub = next(x for x in got if x.type == m.PUBLISH)
    assert ack.pid == 11 and ack.rc == 0
    assert (pub.payload, pub.qos) == (b"q1", 1) and pub.pid
    r.send(m.puback(pub.pid))
    r.send(m.publish(topic, b"q2", qos=2, pid=12, version=version))
    assert r.expect(m.PUBREC).pid == 12
    r.send(m.pubrel(12))
    got = [r.recv(), r.recv()]
    assert any(x.type == m.PUBCOMP and x.pid == 12 for x in got), got
    pub = next(x for x in got if x.type == m.PUBLISH)
    assert (pub.payload, pub.qos, pub.dup) == (b"q2", 2, False)
    r.send(m.pubrec(pub.pid))
    rel = r.expect(m.PUBREL)
    assert rel.pid == pub.pid and rel.flags == 0x02
    r.send(m.pubcomp(pub.pid))
    r.expect_silence(0.3)


@pytest.mark.parametrize("version", [m.V311, m.V5])
@pytest.mark.parametrize("stage", ["before_pubrec", "after_pubrec"])
def test_qos2_exactly_once_across_publisher_reconnect(broker, raw_factory, client_factory, uid,
                                                      version, stage):
    topic = f"t/{uid}/eo"
    sub = client_factory(broker, "sub")
    assert sub.subscribe(topic, 2) == [2]
    cid = f"{uid}-pub"
    cprops = {m.SESSION_EXPIRY_INTERVAL: 60} if version == m.V5 else None
    p = raw_factory(broker, version)
    # 5.0: clean start with a session expiry; 3.1.1: clean session 0 (a new id has no session)
    raw_connect_ok(p, cid, version=version, clean=version == m.V5, props=cprops)
    p.send(m.publish(topic, b"once", qos=2, pid=7, version=version))
    if stage == "after_pubrec":
        assert p.expect(m.PUBREC).pid == 7
    else:
        # The broker has read it once its PUBREC is on the way: wait for that, and leave it unread.
        assert select.select([p.sock], [], [], 5)[0], "no answer to the QoS 2 PUBLISH"
    p.abort()

    p2 = raw_factory(broker, version)
    ack = raw_connect_ok(p2, cid, version=version, clean=False, props=cprops)
    assert ack.session_present is True
    if stage == "before_pubrec":
        p2.send(m.publish(topic, b"once", qos=2, pid=7, dup=True, version=version))
        assert p2.expect(m.PUBREC).pid == 7
    p2.send(m.pubrel(7))
    comp = p2.expect(m.PUBCOMP)
    assert comp.pid == 7 and comp.rc == 0
    # a marker from the same publisher: once it arrives, any duplicate would have too
    p2.send(m.publish(topic, b"marker", qos=2, pid=8, version=version))
    assert p2.expect(m.PUBREC).pid == 8
    p2.send(m.pubrel(8))
    assert p2.expect(m.PUBCOMP).pid == 8
    wait_for(lambda: b"marker" in sub.payloads(), 5, message="the marker")
    assert sub.payloads() == [b"once", b"marker"]


@pytest.mark.parametrize("version", [m.V311, m.V5])
@pytest.mark.parametrize("qos", [1, 2])
def test_unacked_messages_redelivered_with_dup_on_resume(broker, raw_factory, client_factory, uid,
                                                        version, qos):
    topic = f"t/{uid}/redeliver"
    cid = f"{uid}-sub"
    cprops = {m.SESSION_EXPIRY_INTERVAL: 300} if version == m.V5 else None
    s = raw_factory(broker, version)
    raw_connect_ok(s, cid, version=version, clean=version == m.V5, props=cprops)
    assert raw_subscribe(s, [(topic, qos)]) == [qos]
    pub = client_factory(broker, "pub")
    for i in range(3):
        pub.publish(topic, f"m{i}", qos=qos)
    first = s.recv_publishes(3)
    assert [x.payload for x in first] == [b"m0", b"m1", b"m2"]
    assert not any(x.dup for x in first)
    if qos == 2:  # m0 gets as far as PUBREL; m1 and m2 stay unacknowledged
        s.send(m.pubrec(first[0].pid))
        assert s.expect(m.PUBREL).pid == first[0].pid
    s.abort()

    s2 = raw_factory(broker, version)
    ack = raw_connect_ok(s2, cid, version=version, clean=False, props=cprops)
    assert ack.session_present is True
    if qos == 2:
        got = [s2.recv() for _ in range(3)]
        rels = [x for x in got if x.type == m.PUBREL]
        pubs = [x for x in got if x.type == m.PUBLISH]
        assert [x.pid for x in rels] == [first[0].pid], got
        assert [(x.payload, x.pid, x.dup, x.qos) for x in pubs] == \
            [(y.payload, y.pid, True, 2) for y in first[1:]], got
        s2.send(m.pubcomp(first[0].pid))
        for x in pubs:
            s2.send(m.pubrec(x.pid))
            assert s2.expect(m.PUBREL).pid == x.pid
            s2.send(m.pubcomp(x.pid))
    else:
        again = s2.recv_publishes(3)
        assert [(x.payload, x.pid, x.dup, x.qos) for x in again] == \
            [(y.payload, y.pid, True, 1) for y in first]
        for x in again:
            s2.send(m.puback(x.pid))
    # nothing more: each message was completed exactly once
    pub.publish(topic, b"after", qos=qos)
    nxt = s2.recv_publishes(1)
    assert nxt[0].payload == b"after" and not nxt[0].dup
    s2.expect_silence(0.3)


@pytest.mark.parametrize("qos", [1, 2])
def test_inflight_window_holds_at_client_receive_maximum(broker, raw_factory, client_factory, uid, qos):
    """A client with Receive Maximum 2 that never acknowledges sees exactly 2 PUBLISHes."""
    topic = f"t/{uid}/window0"
    s = raw_factory(broker)
    raw_connect_ok(s, f"{uid}-sub", props={m.RECEIVE_MAXIMUM: 2})
    assert raw_subscribe(s, [(topic, qos)]) == [qos]
    pub = client_factory(broker, "pub")
    for i in range(5):
        pub.publish(topic, f"m{i}", qos=qos)
    got = s.recv_publishes(2)
    assert [p.payload for p in got] == [b"m0", b"m1"]
    s.expect_silence(1.0)


# Mosquitto 2.0.11 sends two PUBLISHes after the first acknowledgement, exceeding Receive Maximum 2.
@pytest.mark.starling_only
@pytest.mark.parametrize("qos", [1, 2])
def test_inflight_window_respects_client_receive_maximum(broker, raw_factory, client_factory, uid, qos):
    topic = f"t/{uid}/window"
    s = raw_factory(broker)
    raw_connect_ok(s, f"{uid}-sub", props={m.RECEIVE_MAXIMUM: 2})
    assert raw_subscribe(s, [(topic, qos)]) == [qos]
    pub = client_factory(broker, "pub")
    for i in range(5):
        pub.publish(topic, f"m{i}", qos=qos)
    got = s.recv_publishes(2)
    s.expect_silence(0.7)

    def complete(p):
        if qos == 1:
            s.send(m.puback(p.pid))
        else:
            s.send(m.pubrec(p.pid))
            assert s.expect(m.PUBREL).pid == p.pid
            s.expect_silence(0.3)  # PUBREC alone does not free the slot
            s.send(m.pubcomp(p.pid))

    complete(got[0])
    got += s.recv_publishes(1)
    s.expect_silence(0.5)
    pending = got[1:]
    while len(got) < 5:
        complete(pending.pop(0))
        nxt = s.recv_publishes(1)
        got += nxt
        pending += nxt
    for p in pending:
        complete(p) if qos == 1 else None
    assert [p.payload for p in got] == [f"m{i}".encode() for i in range(5)]
    assert len({p.pid for p in got[-2:]}) == 2


# Mosquitto's max_inflight_messages is the same idea, but the suite maps our
# session.receive_maximum to it, so this test is ours alone.
@pytest.mark.starling_only
@pytest.mark.parametrize("version", [m.V311, m.V5])
def test_max_inflight_caps_the_window_for_every_client(broker_factory, raw_factory, client_factory, uid, version):
    """session.max_inflight bounds unacknowledged QoS 1 messages, also for 3.1.1 clients (no receive maximum)."""
    b = broker_factory({"session": {"max_inflight": 3}})
    topic = f"t/{uid}/cap"
    s = raw_factory(b, version)
    raw_connect_ok(s, f"{uid}-sub", version=version)
    assert raw_subscribe(s, [(topic, 1)]) == [1]
    pub = client_factory(b, "pub")
    for i in range(6):
        pub.publish(topic, f"m{i}", qos=1)
    got = s.recv_publishes(3)
    assert [p.payload for p in got] == [b"m0", b"m1", b"m2"]
    s.expect_silence(0.7)
    s.send(m.puback(got[0].pid))
    assert [p.payload for p in s.recv_publishes(1)] == [b"m3"]
    s.expect_silence(0.5)
