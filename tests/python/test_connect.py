"""CONNECT / CONNACK: protocol versions, client ids, keepalive, limits announced in CONNACK, takeover."""

import time

import pytest

import mqttraw as m
from conftest import (PacketTypes, assert_broker_serves, props, raw_connect_ok, raw_subscribe,
                      wait_for)


def test_mqtt31_311_and_5_side_by_side_on_one_port(broker, client_factory, uid):
    topic = f"t/{uid}/mix"
    clients = {v: client_factory(broker, f"v{v}", protocol=v) for v in (3, 4, 5)}
    for c in clients.values():
        assert c.subscribe(topic, 1) == [1]
    for v, c in clients.items():
        c.publish(topic, f"from-v{v}", qos=1)
    for v, c in clients.items():
        msgs = c.wait_messages(3)
        assert sorted(msg.payload for msg in msgs) == [b"from-v3", b"from-v4", b"from-v5"], v


def test_raw_mqtt31_connect(broker, raw_factory, uid):
    r = raw_factory(broker, m.V31)
    ack = r.connect(f"{uid}-31", version=m.V31)
    assert ack.type == m.CONNACK and ack.rc == 0
    assert len(ack.body) == 2


def test_v5_empty_client_id_gets_assigned_identifier(broker, raw_factory):
    r = raw_factory(broker)
    ack = raw_connect_ok(r, "", clean=True)
    assigned = ack.props.get(m.ASSIGNED_CLIENT_IDENTIFIER)
    assert isinstance(assigned, str) and assigned, ack
    # the assigned id is a usable, distinct identity
    r2 = raw_factory(broker)
    ack2 = raw_connect_ok(r2, "", clean=True)
    assert ack2.props.get(m.ASSIGNED_CLIENT_IDENTIFIER) not in (None, "", assigned)
    r.send(m.pingreq())
    assert r.expect(m.PINGRESP).type == m.PINGRESP


def test_v311_empty_client_id_with_clean_session_1_is_accepted(broker, raw_factory):
    r = raw_factory(broker, m.V311)
    ack = r.connect("", version=m.V311, clean=True)
    assert ack.rc == 0
    assert ack.session_present is False


def test_v311_empty_client_id_with_clean_session_0_is_refused_rc2(broker, raw_factory):
    r = raw_factory(broker, m.V311)
    ack = r.connect("", version=m.V311, clean=False)
    assert ack.rc == 2  # identifier rejected
    assert ack.session_present is False
    r.read_until_closed(5)


def test_unsupported_protocol_level_gets_rc1_in_311_format_then_close(broker, raw_factory):
    r = raw_factory(broker, m.V311)
    r.send(m.connect("lvl6", version=m.V311, level=6))
    got = r.read_until_closed(5)
    assert len(got) == 1 and got[0].type == m.CONNACK, got
    assert got[0].body == b"\x00\x01", got  # 3.1.1 CONNACK: no session present, return code 1
    assert_broker_serves(broker)


# Mosquitto 2.0.11 checks keepalives coarsely: a silent 2 s client is closed after ~5.6 s, not ~3 s.
@pytest.mark.starling_only
@pytest.mark.parametrize("version", [m.V311, m.V5])
def test_keepalive_enforced_at_one_and_a_half_times(broker, raw_factory, uid, version):
    r = raw_factory(broker, version)
    t0 = time.monotonic()
    raw_connect_ok(r, f"{uid}-ka", version=version, keepalive=2)
    got = r.read_until_closed(6)
    elapsed = time.monotonic() - t0
    assert elapsed >= 2.0, f"closed after {elapsed:.2f}s, before the keepalive itself (2s)"
    assert elapsed <= 4.5, f"closed after {elapsed:.2f}s; expected about 3s (1.5 x 2s)"
    if version == m.V5:
        assert all(p.type == m.DISCONNECT and p.rc == 0x8D for p in got), got  # keep alive timeout


def test_keepalive_pings_keep_the_connection_open(broker, raw_factory, uid):
    r = raw_factory(broker)
    raw_connect_ok(r, f"{uid}-ping", keepalive=1)
    for _ in range(4):  # 3.2 s, more than 1.5 x keepalive twice over
        time.sleep(0.8)  # real time: most of the 1 s keepalive passes between pings
        r.send(m.pingreq())
        assert r.expect(m.PINGRESP, 3, skip_pingresp=False).type == m.PINGRESP


# Mosquitto's max_keepalive refuses values below 10 and only caps the client's keepalive.
@pytest.mark.starling_only
def test_server_keepalive_override_announced(broker_factory, raw_factory, uid):
    b = broker_factory({"mqtt": {"server_keepalive": 5}})
    r = raw_factory(b)
    ack = raw_connect_ok(r, f"{uid}-ska", keepalive=60)
    assert ack.props.get(m.SERVER_KEEP_ALIVE) == 5, ack


# Mosquitto's max_keepalive refuses values below 10 and only caps the client's keepalive.
@pytest.mark.starling_only
def test_server_keepalive_override_is_enforced(broker_factory, raw_factory, uid):
    b = broker_factory({"mqtt": {"server_keepalive": 2}})
    r = raw_factory(b)
    t0 = time.monotonic()
    ack = raw_connect_ok(r, f"{uid}-ska2", keepalive=60)
    assert ack.props.get(m.SERVER_KEEP_ALIVE) == 2, ack
    r.read_until_closed(6)
    elapsed = time.monotonic() - t0
    assert 2.0 <= elapsed <= 4.5, f"closed after {elapsed:.2f}s; expected about 3s"


def test_receive_maximum_announced(broker_factory, raw_factory, uid):
    b = broker_factory({"session": {"receive_maximum": 7}})
    r = raw_factory(b)
    ack = raw_connect_ok(r, f"{uid}-rm")
    assert ack.props.get(m.RECEIVE_MAXIMUM) == 7, ack


# Mosquitto 2.0.11 answers PUBREC 0x97 (quota exceeded) instead of DISCONNECT 0x93.
@pytest.mark.starling_only
def test_receive_maximum_enforced(broker_factory, raw_factory, uid):
    """More unacknowledged QoS 2 PUBLISHes than the broker's Receive Maximum -> DISCONNECT 0x93."""
    b = broker_factory({"session": {"receive_maximum": 3}})
    r = raw_factory(b)
    raw_connect_ok(r, f"{uid}-rme")
    for pid in (1, 2, 3):
        r.send(m.publish(f"t/{uid}/rm", b"x", qos=2, pid=pid))
        assert r.expect(m.PUBREC).pid == pid
    r.try_send(m.publish(f"t/{uid}/rm", b"x", qos=2, pid=4))
    got = r.read_until_closed(5)
    assert got and got[-1].type == m.DISCONNECT and got[-1].rc == 0x93, got
    assert_broker_serves(b)


def test_maximum_packet_size_announced_and_enforced_v5(broker_factory, raw_factory, uid):
    b = broker_factory({"mqtt": {"max_packet_size": 1000}})
    r = raw_factory(b)
    ack = raw_connect_ok(r, f"{uid}-mps")
    assert ack.props.get(m.MAXIMUM_PACKET_SIZE) == 1000, ack
    r.send(m.publish(f"t/{uid}/small", b"s" * 500, qos=1, pid=1))
    assert r.expect(m.PUBACK).pid == 1
    r.try_send(m.publish(f"t/{uid}/big", b"x" * 2000, qos=1, pid=2))
    got = r.read_until_closed(5)
    assert [(p.type, p.rc) for p in got] == [(m.DISCONNECT, 0x95)], got
    assert_broker_serves(b)


def test_maximum_packet_size_enforced_v311(broker_factory, raw_factory, uid):
    b = broker_factory({"mqtt": {"max_packet_size": 1000}})
    r = raw_factory(b, m.V311)
    raw_connect_ok(r, f"{uid}-mps4", version=m.V311)
    r.try_send(m.publish(f"t/{uid}/big", b"x" * 2000, qos=1, pid=2, version=m.V311))
    got = r.read_until_closed(5)
    assert not any(p.type == m.PUBACK for p in got), got
    assert_broker_serves(b, protocol=4)


def test_message_larger_than_client_maximum_packet_size_is_not_sent(broker, raw_factory, client_factory, uid):
    topic = f"t/{uid}/cmps"
    r = raw_factory(broker)
    raw_connect_ok(r, f"{uid}-small", props={m.MAXIMUM_PACKET_SIZE: 200})
    assert raw_subscribe(r, [(topic, 1)]) == [1]
    pub = client_factory(broker, "pub")
    pub.publish(topic, b"B" * 500, qos=1)
    pub.publish(topic, b"small", qos=1)
    got = r.recv_publishes(1)
    assert got[0].payload == b"small", got
    r.send(m.puback(got[0].pid))
    r.expect_silence(0.5)


def test_topic_alias_maximum_announced(broker_factory, raw_factory, uid):
    b = broker_factory({"mqtt": {"max_topic_alias": 5}})
    r = raw_factory(b)
    ack = raw_connect_ok(r, f"{uid}-tam")
    assert ack.props.get(m.TOPIC_ALIAS_MAXIMUM) == 5, ack


def test_default_connack_properties_v5(broker, raw_factory, uid):
    r = raw_factory(broker)
    ack = raw_connect_ok(r, f"{uid}-defaults")
    assert ack.session_present is False
    # every limit the defaults announce is the spec's default or absent
    assert ack.props.get(m.MAXIMUM_QOS, 2) == 2
    assert ack.props.get(m.RETAIN_AVAILABLE, 1) == 1
    assert ack.props.get(m.WILDCARD_SUBSCRIPTION_AVAILABLE, 1) == 1
    assert ack.props.get(m.SUBSCRIPTION_IDENTIFIER_AVAILABLE, 1) == 1
    assert ack.props.get(m.SHARED_SUBSCRIPTION_AVAILABLE, 1) == 1
    assert m.SERVER_KEEP_ALIVE not in ack.props  # server_keepalive = 0: the client's is used


def test_request_response_information(broker, raw_factory, uid):
    r = raw_factory(broker)
    ack = raw_connect_ok(r, f"{uid}-rri1", props={m.REQUEST_RESPONSE_INFORMATION: 1})
    info = ack.props.get(m.RESPONSE_INFORMATION)
    assert info is None or (isinstance(info, str) and info), ack
    r2 = raw_factory(broker)
    ack2 = raw_connect_ok(r2, f"{uid}-rri0", props={m.REQUEST_RESPONSE_INFORMATION: 0})
    # the server MUST NOT send Response Information when the client did not ask for it
    assert m.RESPONSE_INFORMATION not in ack2.props, ack2


def test_request_problem_information_0_suppresses_reason_string(broker, raw_factory, uid):
    r = raw_factory(broker)
    raw_connect_ok(r, f"{uid}-rpi", props={m.REQUEST_PROBLEM_INFORMATION: 0})
    assert raw_subscribe(r, [(f"t/{uid}/a", 1)]) == [1]
    r.send(m.unsubscribe(2, [f"t/{uid}/never"]))
    ack = r.expect(m.UNSUBACK)
    assert m.REASON_STRING not in ack.props and m.USER_PROPERTY not in ack.props, ack


# ---------------------------------------------------------------- takeover

# Mosquitto 2.0.11 closes the old 5.0 connection without sending DISCONNECT 0x8E.
@pytest.mark.starling_only
def test_takeover_v5_old_connection_gets_disconnect_0x8e(broker, raw_factory, client_factory, uid):
    cid = f"{uid}-same"
    old = raw_factory(broker)
    raw_connect_ok(old, cid)
    new = raw_factory(broker)
    raw_connect_ok(new, cid)
    got = old.read_until_closed(5)
    assert [(p.type, p.rc) for p in got] == [(m.DISCONNECT, 0x8E)], got
    # the new connection works
    topic = f"t/{uid}/to"
    assert raw_subscribe(new, [(topic, 0)]) == [0]
    client_factory(broker, "pub").publish(topic, b"after", qos=0)
    assert new.recv_publishes(1)[0].payload == b"after"


def test_takeover_v311_old_connection_is_closed(broker, raw_factory, uid):
    cid = f"{uid}-same4"
    old = raw_factory(broker, m.V311)
    raw_connect_ok(old, cid, version=m.V311)
    new = raw_factory(broker, m.V311)
    raw_connect_ok(new, cid, version=m.V311)
    got = old.read_until_closed(5)
    assert got == [], got
    new.send(m.pingreq())
    assert new.expect(m.PINGRESP, skip_pingresp=False)


def test_takeover_by_paho_keeps_the_session(broker, client_factory, uid):
    topic = f"t/{uid}/tk"
    a = client_factory(broker, client_id=f"{uid}-tk", clean=False, protocol=4)
    assert a.subscribe(topic, 1) == [1]
    b = client_factory(broker, client_id=f"{uid}-tk", clean=False, protocol=4)
    assert b.session_present is True
    a.wait_disconnected(5)
    client_factory(broker, "pub").publish(topic, b"to-new", qos=1)
    assert b.wait_messages(1)[0].payload == b"to-new"


def test_takeover_v5_old_connection_is_closed_and_new_one_works(broker, raw_factory, uid):
    cid = f"{uid}-same5"
    old = raw_factory(broker)
    raw_connect_ok(old, cid)
    new = raw_factory(broker)
    raw_connect_ok(new, cid)
    got = old.read_until_closed(5)
    assert all(p.type == m.DISCONNECT and p.rc == 0x8E for p in got), got
    new.send(m.pingreq())
    assert new.expect(m.PINGRESP, skip_pingresp=False)
