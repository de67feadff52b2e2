"""Will messages: when they are sent and when not, will delay, will properties, will retain."""

import re
import time

import pytest

import mqttraw as m
from conftest import raw_connect_ok, wait_for


def will_client(broker, raw_factory, cid, topic, version=m.V5, payload=b"gone", qos=1, retain=False,
                will_props=None, props=None, keepalive=60):
    r = raw_factory(broker, version)
    raw_connect_ok(r, cid, version=version, keepalive=keepalive, props=props,
                   will={"topic": topic, "payload": payload, "qos": qos, "retain": retain,
                         "props": will_props})
    return r


def watcher(broker, client_factory, topic, qos=1, name="watch"):
    c = client_factory(broker, name)
    assert c.subscribe(topic, qos) == [qos]
    return c


def assert_no_will(broker, client_factory, w, topic, client_id):
    """No will arrived: a marker published after the connection ended arrives alone. Its publisher
    connects with the ended connection's client id, which the broker gives it only once it is done
    with the old connection (and has published any will it was going to)."""
    client_factory(broker, client_id=client_id).publish(topic, b"<marker>", qos=1)
    w.wait_messages(1)
    assert w.payloads() == [b"<marker>"]


@pytest.mark.parametrize("version", [m.V311, m.V5])
def test_will_sent_on_abrupt_close(broker, raw_factory, client_factory, uid, version):
    topic = f"will/{uid}"
    w = watcher(broker, client_factory, topic)
    r = will_client(broker, raw_factory, f"{uid}-c", topic, version=version, payload=b"dropped")
    r.abort()
    msg = w.wait_messages(1)[0]
    assert (msg.topic, msg.payload, msg.qos, msg.retain) == (topic, b"dropped", 1, False)


@pytest.mark.parametrize("version", [m.V311, m.V5])
def test_will_sent_on_keepalive_timeout(broker, raw_factory, client_factory, uid, version):
    topic = f"will/{uid}"
    w = watcher(broker, client_factory, topic)
    t0 = time.monotonic()
    will_client(broker, raw_factory, f"{uid}-c", topic, version=version, payload=b"silent", keepalive=1)
    msg = w.wait_messages(1, timeout=8)[0]
    assert msg.payload == b"silent"
    assert time.monotonic() - t0 >= 1.0  # not before the keepalive


@pytest.mark.parametrize("version", [m.V311, m.V5])
def test_will_sent_on_protocol_error(broker, raw_factory, client_factory, uid, version):
    topic = f"will/{uid}"
    w = watcher(broker, client_factory, topic)
    r = will_client(broker, raw_factory, f"{uid}-c", topic, version=version, payload=b"broken")
    r.try_send(m.publish(f"t/{uid}", b"x", qos=3, pid=1, version=version))  # QoS 3: malformed
    r.read_until_closed(5)
    assert w.wait_messages(1)[0].payload == b"broken"


@pytest.mark.parametrize("version", [m.V311, m.V5])
def test_no_will_on_normal_disconnect(broker, raw_factory, client_factory, uid, version):
    topic = f"will/{uid}"
    w = watcher(broker, client_factory, topic)
    r = will_client(broker, raw_factory, f"{uid}-c", topic, version=version)
    r.send(m.disconnect(0 if version == m.V5 else None, version=version))
    assert r.read_until_closed(5) == []
    assert_no_will(broker, client_factory, w, topic, f"{uid}-c")


def test_will_sent_on_disconnect_with_will_message_0x04(broker, raw_factory, client_factory, uid):
    topic = f"will/{uid}"
    w = watcher(broker, client_factory, topic)
    r = will_client(broker, raw_factory, f"{uid}-c", topic, payload=b"asked-for")
    r.send(m.disconnect(0x04))
    r.read_until_closed(5)
    assert w.wait_messages(1)[0].payload == b"asked-for"


def test_will_delay_not_sent_if_client_reconnects_within_delay(broker, raw_factory, client_factory, uid):
    topic, cid = f"will/{uid}", f"{uid}-c"
    w = watcher(broker, client_factory, topic)
    r = will_client(broker, raw_factory, cid, topic, props={m.SESSION_EXPIRY_INTERVAL: 60},
                    will_props={m.WILL_DELAY_INTERVAL: 2})
    r.abort()
    # Reconnect once the broker has seen the drop (its log says so), well within the delay.
    seen = re.compile(rf"client disconnected client_id={re.escape(cid)} |Client {re.escape(cid)} closed its connection"
                      rf"|Socket error on client {re.escape(cid)},")
    wait_for(lambda: seen.search(broker.log_text()), 5, message="the broker logs the drop")
    r2 = raw_factory(broker)
    assert raw_connect_ok(r2, cid, clean=False, props={m.SESSION_EXPIRY_INTERVAL: 60}).session_present
    time.sleep(2.5)  # real time: past the 2 s will delay, when the will would have been sent
    assert_no_will(broker, client_factory, w, topic, cid)


def test_will_delay_sent_after_the_delay(broker, raw_factory, client_factory, uid):
    topic = f"will/{uid}"
    w = watcher(broker, client_factory, topic)
    r = will_client(broker, raw_factory, f"{uid}-c", topic, payload=b"late",
                    props={m.SESSION_EXPIRY_INTERVAL: 60}, will_props={m.WILL_DELAY_INTERVAL: 2})
    t0 = time.monotonic()
    r.abort()
    msg = w.wait_messages(1, timeout=6)[0]
    elapsed = time.monotonic() - t0
    assert msg.payload == b"late"
    assert elapsed >= 1.5, f"will sent {elapsed:.2f}s after the drop, before its 2 s delay"


def test_will_sent_when_session_ends_before_the_delay(broker, raw_factory, client_factory, uid):
    topic = f"will/{uid}"
    w = watcher(broker, client_factory, topic)
    r = will_client(broker, raw_factory, f"{uid}-c", topic, payload=b"session-over",
                    props={m.SESSION_EXPIRY_INTERVAL: 1}, will_props={m.WILL_DELAY_INTERVAL: 30})
    t0 = time.monotonic()
    r.abort()
    msg = w.wait_messages(1, timeout=6)[0]
    assert msg.payload == b"session-over"
    assert time.monotonic() - t0 < 6


def test_will_properties_arrive_unchanged(broker, raw_factory, uid):
    topic = f"will/{uid}"
    w = raw_factory(broker)
    raw_connect_ok(w, f"{uid}-w")
    w.send(m.subscribe(1, [(topic, 1)]))
    assert w.expect(m.SUBACK).codes == [1]
    will_props = {
        m.CONTENT_TYPE: "application/json",
        m.RESPONSE_TOPIC: f"reply/{uid}",
        m.CORRELATION_DATA: b"\x00\x01corr\xff",
        m.PAYLOAD_FORMAT_INDICATOR: 1,
        m.USER_PROPERTY: [("k1", "v1"), ("k2", "v2"), ("k1", "again")],
        m.MESSAGE_EXPIRY_INTERVAL: 300,
    }
    r = will_client(broker, raw_factory, f"{uid}-c", topic, payload=b'{"gone": true}',
                    will_props=will_props)
    r.abort()
    p = w.expect(m.PUBLISH)
    assert (p.topic, p.payload, p.qos) == (topic, b'{"gone": true}', 1)
    assert p.props[m.CONTENT_TYPE] == "application/json"
    assert p.props[m.RESPONSE_TOPIC] == f"reply/{uid}"
    assert p.props[m.CORRELATION_DATA] == b"\x00\x01corr\xff"
    assert p.props[m.PAYLOAD_FORMAT_INDICATOR] == 1
    assert p.props[m.USER_PROPERTY] == [("k1", "v1"), ("k2", "v2"), ("k1", "again")]
    assert 295 <= p.props[m.MESSAGE_EXPIRY_INTERVAL] <= 300
    w.send(m.puback(p.pid))


@pytest.mark.parametrize("version", [m.V311, m.V5])
def test_will_retain(broker, raw_factory, client_factory, uid, version):
    topic = f"will/{uid}"
    w = watcher(broker, client_factory, topic)
    r = will_client(broker, raw_factory, f"{uid}-c", topic, version=version, payload=b"retained-will",
                    qos=1, retain=True)
    r.abort()
    assert w.wait_messages(1)[0].payload == b"retained-will"
    late = client_factory(broker, "late")
    assert late.subscribe(topic, 1) == [1]
    msg = late.wait_messages(1)[0]
    assert (msg.payload, msg.retain, msg.qos) == (b"retained-will", True, 1)


def test_will_qos_is_min_of_will_and_subscription(broker, raw_factory, client_factory, uid):
    topic = f"will/{uid}"
    w2 = watcher(broker, client_factory, topic, qos=2, name="w2")
    w0 = watcher(broker, client_factory, topic, qos=0, name="w0")
    r = will_client(broker, raw_factory, f"{uid}-c", topic, qos=2)
    r.abort()
    assert w2.wait_messages(1)[0].qos == 2
    assert w0.wait_messages(1)[0].qos == 0
