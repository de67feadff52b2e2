"""Malformed and out-of-order input over raw sockets: the broker answers (5.0 DISCONNECT with the
right reason code), closes the connection, and keeps serving everyone else."""

import pytest

import mqttraw as m
from conftest import assert_broker_serves, raw_connect_ok


def connected(broker, raw_factory, uid, version=m.V5, name="bad"):
    r = raw_factory(broker, version)
    raw_connect_ok(r, f"{uid}-{name}", version=version)
    return r


def disconnect_codes(got):
    return [(p.type, p.rc) for p in got]


@pytest.mark.parametrize("version", [m.V311, m.V5])
def test_publish_with_qos_3(broker, raw_factory, uid, version):
    r = connected(broker, raw_factory, uid, version)
    r.try_send(m.publish(f"t/{uid}", b"x", qos=3, pid=1, version=version))
    got = r.read_until_closed(5)
    assert disconnect_codes(got) == ([(m.DISCONNECT, 0x81)] if version == m.V5 else []), got
    assert_broker_serves(broker)


@pytest.mark.parametrize("version", [m.V311, m.V5])
def test_remaining_length_of_five_bytes(broker, raw_factory, uid, version):
    r = connected(broker, raw_factory, uid, version)
    r.try_send(bytes([0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]) + b"\x00" * 16)
    got = r.read_until_closed(5)
    assert all(p.type == m.DISCONNECT and p.rc == 0x81 for p in got), got
    assert_broker_serves(broker)


def test_remaining_length_of_five_bytes_before_connect(broker, raw_factory):
    r = raw_factory(broker)
    r.try_send(bytes([0x10, 0x80, 0x80, 0x80, 0x80, 0x01]))
    got = r.read_until_closed(5)
    assert not any(p.type == m.CONNACK and p.rc == 0 for p in got), got
    assert_broker_serves(broker)


# Mosquitto 2.0.11 answers DISCONNECT 0x82 (protocol error) instead of 0x90 (topic name invalid).
@pytest.mark.starling_only
@pytest.mark.parametrize("topic", ["a/+", "a/#", "+", "#"])
def test_publish_topic_with_wildcard_v5(broker, raw_factory, uid, topic):
    r = connected(broker, raw_factory, uid)
    r.try_send(m.publish(topic, b"x", qos=1, pid=1))
    got = r.read_until_closed(5)
    assert disconnect_codes(got) == [(m.DISCONNECT, 0x90)], got
    assert_broker_serves(broker)


def test_publish_topic_with_wildcard_v311(broker, raw_factory, uid):
    r = connected(broker, raw_factory, uid, m.V311)
    r.try_send(m.publish(f"t/{uid}/+", b"x", qos=1, pid=1, version=m.V311))
    got = r.read_until_closed(5)
    assert got == [], got
    assert_broker_serves(broker)


# Mosquitto 2.0.11 closes the connection without a DISCONNECT 0x82.
@pytest.mark.starling_only
@pytest.mark.parametrize("dup_prop", [
    [(m.PAYLOAD_FORMAT_INDICATOR, 0), (m.PAYLOAD_FORMAT_INDICATOR, 0)],
    [(m.CONTENT_TYPE, "a"), (m.CONTENT_TYPE, "b")],
    [(m.MESSAGE_EXPIRY_INTERVAL, 10), (m.MESSAGE_EXPIRY_INTERVAL, 10)],
], ids=["payload-format", "content-type", "message-expiry"])
def test_duplicate_property_in_publish(broker, raw_factory, uid, dup_prop):
    r = connected(broker, raw_factory, uid)
    r.try_send(m.publish(f"t/{uid}", b"x", qos=1, pid=1, props=dup_prop))
    got = r.read_until_closed(5)
    assert disconnect_codes(got) == [(m.DISCONNECT, 0x82)], got
    assert_broker_serves(broker)


def test_duplicate_property_in_connect(broker, raw_factory, uid):
    r = raw_factory(broker)
    r.try_send(m.connect(f"{uid}-dupc", props=[(m.SESSION_EXPIRY_INTERVAL, 1), (m.SESSION_EXPIRY_INTERVAL, 2)]))
    got = r.read_until_closed(5)
    assert [(p.type, p.rc) for p in got] in ([(m.CONNACK, 0x82)], []), got
    assert_broker_serves(broker)


@pytest.mark.parametrize("topic", [b"t/\xff\xfe", b"t/\xc0\xaf", b"t/\xed\xa0\x80", b"t/a\x00b"],
                         ids=["invalid-bytes", "overlong", "surrogate", "nul"])
@pytest.mark.parametrize("version", [m.V311, m.V5])
def test_publish_topic_not_valid_utf8(broker, raw_factory, uid, version, topic):
    r = connected(broker, raw_factory, uid, version)
    r.try_send(m.publish(topic, b"x", qos=1, pid=1, version=version))
    got = r.read_until_closed(5)
    assert all(p.type == m.DISCONNECT and p.rc == 0x81 for p in got), got
    assert_broker_serves(broker)


# 5.0: Mosquitto 2.0.11 closes the connection without a DISCONNECT 0x82.
@pytest.mark.parametrize("version", [m.V311, pytest.param(m.V5, marks=pytest.mark.starling_only)])
def test_second_connect(broker, raw_factory, uid, version):
    r = connected(broker, raw_factory, uid, version)
    r.try_send(m.connect(f"{uid}-again", version=version))
    got = r.read_until_closed(5)
    assert disconnect_codes(got) == ([(m.DISCONNECT, 0x82)] if version == m.V5 else []), got
    assert_broker_serves(broker)


@pytest.mark.parametrize("garbage", [b"\x00\x00\x00\x00", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
                                     bytes(range(256)), b"\xff" * 64])
def test_garbage_before_connect(broker, raw_factory, garbage):
    r = raw_factory(broker)
    r.try_send(garbage)
    got = r.read_until_closed(5)
    assert not any(p.type == m.CONNACK and p.rc == 0 for p in got), got
    assert_broker_serves(broker)


@pytest.mark.parametrize("first", [
    m.publish("t/x", b"x", qos=0),
    m.subscribe(1, [("t/x", 0)]),
    m.pingreq(),
    m.disconnect(),
], ids=["publish", "subscribe", "pingreq", "disconnect"])
def test_first_packet_not_connect(broker, raw_factory, first):
    r = raw_factory(broker)
    r.try_send(first)
    got = r.read_until_closed(5)
    assert not any(p.type in (m.CONNACK, m.SUBACK, m.PINGRESP) and p.rc == 0 for p in got), got
    assert_broker_serves(broker)


def test_connect_with_reserved_flag(broker, raw_factory, uid):
    r = raw_factory(broker, m.V311)
    r.try_send(m.connect(f"{uid}-rsv", version=m.V311, reserved_flag=True))
    got = r.read_until_closed(5)
    assert not any(p.type == m.CONNACK and p.rc == 0 for p in got), got
    assert_broker_serves(broker)


@pytest.mark.parametrize("version", [m.V311, m.V5])
def test_subscribe_with_wrong_fixed_header_flags(broker, raw_factory, uid, version):
    r = connected(broker, raw_factory, uid, version)
    good = m.subscribe(1, [(f"t/{uid}", 0)], version=version)
    r.try_send(bytes([good[0] & 0xF0]) + good[1:])  # flags 0000 instead of 0010
    got = r.read_until_closed(5)
    assert all(p.type == m.DISCONNECT and p.rc == 0x81 for p in got), got
    assert_broker_serves(broker)


@pytest.mark.parametrize("version", [m.V311, m.V5])
def test_subscribe_without_filters(broker, raw_factory, uid, version):
    r = connected(broker, raw_factory, uid, version)
    r.try_send(m.subscribe(1, [], version=version))
    got = r.read_until_closed(5)
    assert all(p.type == m.DISCONNECT and p.rc >= 0x80 for p in got), got
    assert_broker_serves(broker)


def test_reserved_packet_type_0(broker, raw_factory, uid):
    r = connected(broker, raw_factory, uid)
    r.try_send(b"\x00\x00")
    got = r.read_until_closed(5)
    assert all(p.type == m.DISCONNECT and p.rc >= 0x80 for p in got), got
    assert_broker_serves(broker)


def test_truncated_packet_then_close(broker, raw_factory, uid):
    """A client that dies mid-packet does not disturb the broker."""
    r = connected(broker, raw_factory, uid)
    full = m.publish(f"t/{uid}", b"x" * 100, qos=1, pid=1)
    r.send(full[:20])
    r.abort()
    assert_broker_serves(broker)


def test_many_bad_clients_then_a_good_one(broker, raw_factory, uid):
    for i in range(20):
        r = raw_factory(broker)
        r.try_send(bytes([0x30 | (i % 16), 0xFF, 0xFF, 0xFF, 0x7F]) + bytes(range(i)))
        r.abort()
    assert_broker_serves(broker)
