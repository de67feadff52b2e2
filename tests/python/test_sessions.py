"""Persistent sessions: session present, subscriptions and queued messages across reconnects, expiry."""

import time

import pytest

import mqttraw as m
from conftest import PacketTypes, assert_broker_serves, props, raw_connect_ok, raw_subscribe, wait_for


def persistent(protocol):
    """connect() keyword arguments for a session that outlives the connection."""
    if protocol == 5:
        return {"properties": props(PacketTypes.CONNECT, SessionExpiryInterval=300)}
    return {}


@pytest.mark.parametrize("protocol", [4, 5])
def test_session_present_flag(broker, client_factory, uid, protocol):
    cid = f"{uid}-sp"
    a = client_factory(broker, client_id=cid, protocol=protocol, clean=False, **persistent(protocol))
    assert a.session_present is False
    a.disconnect()
    b = client_factory(broker, client_id=cid, protocol=protocol, clean=False, **persistent(protocol))
    assert b.session_present is True
    b.disconnect()
    c = client_factory(broker, client_id=cid, protocol=protocol, clean=True, **persistent(protocol))
    assert c.session_present is False


@pytest.mark.parametrize("protocol", [4, 5])
def test_subscriptions_survive_reconnect(broker, client_factory, uid, protocol):
    cid, topic = f"{uid}-sub", f"t/{uid}/keep"
    a = client_factory(broker, client_id=cid, protocol=protocol, clean=False, **persistent(protocol))
    assert a.subscribe(topic, 1) == [1]
    a.disconnect()
    b = client_factory(broker, client_id=cid, protocol=protocol, clean=False, **persistent(protocol))
    assert b.session_present is True
    client_factory(broker, "pub").publish(topic, b"still-subscribed", qos=1)
    msg = b.wait_messages(1)[0]
    assert (msg.payload, msg.qos) == (b"still-subscribed", 1)


@pytest.mark.parametrize("protocol", [4, 5])
@pytest.mark.parametrize("qos", [1, 2])
def test_offline_messages_queued_and_delivered_in_order(broker, client_factory, uid, protocol, qos):
    cid, topic = f"{uid}-sub", f"t/{uid}/offline"
    a = client_factory(broker, client_id=cid, protocol=protocol, clean=False, **persistent(protocol))
    assert a.subscribe(topic, qos) == [qos]
    a.disconnect()
    pub = client_factory(broker, "pub")
    for i in range(20):
        pub.publish(topic, f"m{i:02d}", qos=qos)
    b = client_factory(broker, client_id=cid, protocol=protocol, clean=False, **persistent(protocol))
    assert b.session_present is True
    msgs = b.wait_messages(20)
    assert [x.payload for x in msgs] == [f"m{i:02d}".encode() for i in range(20)]
    assert {x.qos for x in msgs} == {qos}


def test_qos0_queued_offline_by_default(broker, client_factory, uid):
    cid, topic = f"{uid}-sub", f"t/{uid}/q0"
    a = client_factory(broker, client_id=cid, clean=False, **persistent(5))
    assert a.subscribe(topic, 0) == [0]
    a.disconnect()
    client_factory(broker, "pub").publish(topic, b"qos0-offline", qos=0)
    b = client_factory(broker, client_id=cid, clean=False, **persistent(5))
    assert b.wait_messages(1)[0].payload == b"qos0-offline"


def test_qos0_not_queued_offline_when_disabled(broker_factory, client_factory, uid):
    b0 = broker_factory({"session": {"queue_qos0_offline": False}})
    cid, topic = f"{uid}-sub", f"t/{uid}/q0off"
    a = client_factory(b0, client_id=cid, clean=False, **persistent(5))
    assert a.subscribe(topic, 1) == [1]
    a.disconnect()
    pub = client_factory(b0, "pub")
    pub.publish(topic, b"qos0", qos=0)
    pub.publish(topic, b"qos1", qos=1)
    b = client_factory(b0, client_id=cid, clean=False, **persistent(5))
    # qos1 was queued after qos0: once it arrives, a queued qos0 would have.
    wait_for(lambda: b"qos1" in b.payloads(), 5, message="the QoS 1 message")
    assert b.payloads() == [b"qos1"]


def test_session_expiry_interval_ends_the_session(broker, raw_factory, client_factory, uid):
    cid, topic = f"{uid}-exp", f"t/{uid}/exp"
    s = raw_factory(broker)
    raw_connect_ok(s, cid, props={m.SESSION_EXPIRY_INTERVAL: 1})
    assert raw_subscribe(s, [(topic, 1)]) == [1]
    s.send(m.disconnect(0))
    s.read_until_closed(3)
    t_disconnect = time.monotonic()
    client_factory(broker, "pub").publish(topic, b"queued?", qos=1)
    time.sleep(max(0.0, 2.0 - (time.monotonic() - t_disconnect)))  # real time: the 1 s session expiry passes
    s2 = raw_factory(broker)
    ack = raw_connect_ok(s2, cid, clean=False, props={m.SESSION_EXPIRY_INTERVAL: 60})
    assert ack.session_present is False
    s2.expect_silence(0.5)
    # and the subscription went with the session
    client_factory(broker, "pub2").publish(topic, b"after", qos=1)
    s2.expect_silence(0.5)


def test_session_expiry_interval_zero_ends_the_session_at_disconnect(broker, client_factory, uid):
    cid, topic = f"{uid}-se0", f"t/{uid}/se0"
    a = client_factory(broker, client_id=cid, clean=False)  # 5.0 without Session Expiry Interval
    assert a.subscribe(topic, 1) == [1]
    a.disconnect()
    b = client_factory(broker, client_id=cid, clean=False)
    assert b.session_present is False


def test_session_expiry_changed_at_disconnect(broker, raw_factory, uid):
    """A DISCONNECT may lengthen a non-zero Session Expiry Interval (5.0, 3.14.2.2.2)."""
    cid = f"{uid}-sechg"
    s = raw_factory(broker)
    raw_connect_ok(s, cid, props={m.SESSION_EXPIRY_INTERVAL: 1})
    s.send(m.disconnect(0, props={m.SESSION_EXPIRY_INTERVAL: 60}))
    s.read_until_closed(3)
    time.sleep(2.0)  # real time: past the 1 s expiry the CONNECT asked for
    s2 = raw_factory(broker)
    assert raw_connect_ok(s2, cid, clean=False, props={m.SESSION_EXPIRY_INTERVAL: 60}).session_present


@pytest.mark.parametrize("protocol", [4, 5])
def test_clean_start_discards_the_session(broker, client_factory, uid, protocol):
    cid, topic = f"{uid}-cs", f"t/{uid}/clean"
    a = client_factory(broker, client_id=cid, protocol=protocol, clean=False, **persistent(protocol))
    assert a.subscribe(topic, 1) == [1]
    a.disconnect()
    pub = client_factory(broker, "pub")
    pub.publish(topic, b"for-the-old-session", qos=1)
    b = client_factory(broker, client_id=cid, protocol=protocol, clean=True, **persistent(protocol))
    assert b.session_present is False
    # neither the queued message nor the subscription survived
    marker = f"t/{uid}/marker"
    assert b.subscribe(marker, 1) == [1]
    pub.publish(topic, b"after", qos=1)
    pub.publish(marker, b"marker", qos=1)  # after "after", from the same publisher
    b.wait_messages(1, topic=marker)
    assert b.payloads() == [b"marker"]


def test_max_queued_messages_bounds_the_offline_queue(broker_factory, client_factory, uid):
    b0 = broker_factory({"session": {"max_queued_messages": 10}})
    cid, topic = f"{uid}-mq", f"t/{uid}/bounded"
    a = client_factory(b0, client_id=cid, clean=False, **persistent(5))
    assert a.subscribe(topic, 1) == [1]
    a.disconnect()
    pub = client_factory(b0, "pub")
    for i in range(50):
        pub.publish(topic, f"m{i:02d}", qos=1)
    b = client_factory(b0, client_id=cid, clean=False, **persistent(5))
    assert b.session_present is True
    b.wait_messages(1)
    # A live message goes behind the queued ones: it is the marker, and the session still works.
    pub.publish(topic, b"live", qos=1)
    wait_for(lambda: b"live" in b.payloads(), 5, message="the live message")
    got = b.payloads()
    assert got[-1] == b"live", got
    got = got[:-1]
    assert 1 <= len(got) <= 10, f"{len(got)} queued messages delivered: {got}"
    assert len(set(got)) == len(got) and got == sorted(got)
    # the broker still works for others
    assert_broker_serves(b0)
