"""Configured limits: connections, topic levels, client id length, session expiry cap, anonymous access."""

import pytest

import mqttraw as m
from conftest import Client, assert_broker_serves, raw_connect_ok, raw_subscribe, wait_for


def fourth_connect(b, raw_factory, uid, version):
    """Try a connection beyond the limit; returns (packets received, CONNACK or None)."""
    r = raw_factory(b, version)
    try:
        r.send(m.connect(f"{uid}-4th", version=version))
    except OSError:
        return [], None
    got = r.read_until_closed(5)
    connack = next((p for p in got if p.type == m.CONNACK), None)
    return got, connack


@pytest.mark.parametrize("version", [m.V311, m.V5])
def test_max_connections_refuses_the_fourth(broker_factory, client_factory, raw_factory, uid, version):
    b = broker_factory({"node": {"max_connections": 3}})
    clients = [client_factory(b, f"c{i}", protocol=version) for i in range(3)]
    got, connack = fourth_connect(b, raw_factory, uid, version)
    assert connack is None or connack.rc != 0, got  # refused: closed, or a non-success CONNACK
    # the existing clients keep working
    topic = f"t/{uid}/still"
    assert clients[0].subscribe(topic, 1) == [1]
    clients[1].publish(topic, b"still-here", qos=1)
    assert clients[0].wait_messages(1)[0].payload == b"still-here"
    # a freed slot can be used again
    clients[2].disconnect()

    def fresh_connects():
        c = Client(b, f"{uid}-again", protocol=version)
        try:
            c.connect(timeout=2, expect_success=False)
            ok = c.connack and not c.connack[0].is_failure
        except AssertionError:
            ok = False
        finally:
            c.stop()
        return ok
    wait_for(fresh_connects, 10, interval=0.2, message="a connection after one of the three left")


# Mosquitto closes a connection over max_connections at once, without a CONNACK.
@pytest.mark.starling_only
@pytest.mark.parametrize("version", [m.V311, m.V5])
def test_max_connections_connack_code(broker_factory, client_factory, raw_factory, uid, version):
    b = broker_factory({"node": {"max_connections": 3}})
    for i in range(3):
        client_factory(b, f"c{i}", protocol=version)
    got, connack = fourth_connect(b, raw_factory, uid, version)
    assert connack is not None, f"no CONNACK before the close: {got}"
    if version == m.V5:
        assert connack.rc in (0x97, 0x9F), connack
    else:
        assert connack.rc == 3, connack  # server unavailable


# Mosquitto has no setting for the number of topic levels.
@pytest.mark.starling_only
@pytest.mark.parametrize("version", [m.V311, m.V5])
def test_max_topic_levels(broker_factory, raw_factory, client_factory, uid, version):
    b = broker_factory({"mqtt": {"max_topic_levels": 3}})
    watcher = client_factory(b, "watch")
    assert watcher.subscribe("#", 1) == [1]
    r = raw_factory(b, version)
    raw_connect_ok(r, f"{uid}-lv", version=version)
    codes = raw_subscribe(r, [(f"{uid}/b/c", 1), (f"{uid}/b/c/d", 1), (f"{uid}/+/+/+", 1)])
    assert codes[0] == 1 and codes[1] >= 0x80 and codes[2] >= 0x80, codes
    r.send(m.publish(f"{uid}/b/c", b"three", qos=1, pid=1, version=version))
    assert any(p.type == m.PUBACK and p.pid == 1 for p in [r.recv(), r.recv()])  # and the PUBLISH
    r.try_send(m.publish(f"{uid}/b/c/d", b"four", qos=1, pid=2, version=version))
    try:
        p = r.recv(3)
        if p.type == m.PUBACK:  # 3.1.1 cannot say why: acknowledging and dropping is allowed
            assert p.pid == 2 and (version == m.V311 or p.rc >= 0x80), p
        else:
            assert p.type == m.DISCONNECT and p.rc >= 0x80, p
            r.read_until_closed(5)
    except m.Closed:
        pass
    watcher.wait_messages(1)
    client_factory(b, "marker").publish(f"{uid}/marker", b"marker", qos=1)
    watcher.wait_messages(2)
    assert watcher.payloads() == [b"three", b"marker"]


# Mosquitto has no setting for the client id length.
@pytest.mark.starling_only
@pytest.mark.parametrize("version", [m.V311, m.V5])
def test_max_clientid_len(broker_factory, raw_factory, version):
    # 23 is the smallest sensible limit: servers MUST accept ids of 1 to 23 bytes (3.1.3-5)
    b = broker_factory({"mqtt": {"max_clientid_len": 23}})
    ok = raw_factory(b, version)
    assert ok.connect("c" * 23, version=version).rc == 0
    long = raw_factory(b, version)
    ack = long.connect("c" * 24, version=version)
    assert ack.rc == (0x85 if version == m.V5 else 2), ack
    long.read_until_closed(5)
    assert_broker_serves(b)


# Mosquitto has no cap on the session expiry interval a client asks for.
@pytest.mark.starling_only
def test_max_session_expiry_caps_and_announces(broker_factory, raw_factory, uid):
    b = broker_factory({"session": {"max_session_expiry": 10}})
    r = raw_factory(b)
    ack = raw_connect_ok(r, f"{uid}-se", props={m.SESSION_EXPIRY_INTERVAL: 1000})
    assert ack.props.get(m.SESSION_EXPIRY_INTERVAL) == 10, ack


@pytest.mark.parametrize("version", [m.V311, m.V5])
def test_anonymous_refused_when_disabled(broker_factory, raw_factory, uid, version):
    b = broker_factory({"mqtt": {"allow_anonymous": False}})
    r = raw_factory(b, version)
    ack = r.connect(f"{uid}-anon", version=version)
    assert ack.rc == (0x87 if version == m.V5 else 5), ack
    r.read_until_closed(5)
