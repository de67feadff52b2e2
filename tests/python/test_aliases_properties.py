"""MQTT 5.0 topic aliases (both directions) and PUBLISH properties passing through the broker."""

import time

import pytest

import mqttraw as m
from conftest import PacketTypes, assert_broker_serves, props, raw_connect_ok, raw_subscribe, wait_for


def test_client_publishes_with_topic_alias(broker, raw_factory, client_factory, uid):
    t1, t2 = f"t/{uid}/one", f"t/{uid}/two"
    sub = client_factory(broker, "sub")
    assert sub.subscribe(f"t/{uid}/#", 1) == [1]
    r = raw_factory(broker)
    raw_connect_ok(r, f"{uid}-pub", props={m.TOPIC_ALIAS_MAXIMUM: 0})
    sends = [
        (t1, b"a1", {m.TOPIC_ALIAS: 1}),   # set alias 1 -> t1
        ("", b"a2", {m.TOPIC_ALIAS: 1}),   # alias only
        (t2, b"b1", {m.TOPIC_ALIAS: 2}),
        ("", b"a3", {m.TOPIC_ALIAS: 1}),
        (t2, b"a4", {m.TOPIC_ALIAS: 1}),   # remap alias 1 -> t2
        ("", b"b2", {m.TOPIC_ALIAS: 1}),
    ]
    for pid, (topic, payload, p) in enumerate(sends, start=1):
        r.send(m.publish(topic, payload, qos=1, pid=pid, props=p))
        ack = r.expect(m.PUBACK)
        assert ack.pid == pid and ack.rc in (0, 0x10), ack
    msgs = sub.wait_messages(len(sends))
    assert [(x.topic, x.payload) for x in msgs] == [
        (t1, b"a1"), (t1, b"a2"), (t2, b"b1"), (t1, b"a3"), (t2, b"a4"), (t2, b"b2")]
    # the alias is the publisher's business: subscribers get the topic name
    assert not any(hasattr(x.properties, "TopicAlias") for x in msgs)


def test_topic_alias_above_maximum_disconnect_0x94(broker_factory, raw_factory, uid):
    alias = 6
    b = broker_factory({"mqtt": {"max_topic_alias": 5}})
    r = raw_factory(b)
    assert raw_connect_ok(r, f"{uid}-c").props.get(m.TOPIC_ALIAS_MAXIMUM) == 5
    r.send(m.publish(f"t/{uid}", b"ok", qos=1, pid=1, props={m.TOPIC_ALIAS: 5}))
    assert r.expect(m.PUBACK).pid == 1
    r.try_send(m.publish(f"t/{uid}", b"bad", qos=1, pid=2, props={m.TOPIC_ALIAS: alias}))
    got = r.read_until_closed(5)
    assert [(p.type, p.rc) for p in got] == [(m.DISCONNECT, 0x94)], got
    assert_broker_serves(b)


# Mosquitto 2.0.11 answers DISCONNECT 0x81 (malformed packet).
@pytest.mark.starling_only
def test_topic_alias_0_disconnect(broker, raw_factory, uid):
    """Alias 0 is not permitted (3.3.2-8); the spec names no code for it beyond protocol error
    (0x82) or topic alias invalid (0x94)."""
    r = raw_factory(broker)
    raw_connect_ok(r, f"{uid}-c")
    r.try_send(m.publish(f"t/{uid}", b"bad", qos=1, pid=2, props={m.TOPIC_ALIAS: 0}))
    got = r.read_until_closed(5)
    assert len(got) == 1 and got[0].type == m.DISCONNECT and got[0].rc in (0x82, 0x94), got
    assert_broker_serves(broker)


def test_unknown_topic_alias_is_a_protocol_error(broker, raw_factory, uid):
    r = raw_factory(broker)
    raw_connect_ok(r, f"{uid}-c")
    r.try_send(m.publish("", b"who?", qos=1, pid=1, props={m.TOPIC_ALIAS: 3}))
    got = r.read_until_closed(5)
    assert [(p.type, p.rc) for p in got] == [(m.DISCONNECT, 0x82)], got
    assert_broker_serves(broker)


@pytest.mark.parametrize("client_max", [0, 2])
def test_broker_to_client_aliases_respect_client_maximum(broker, raw_factory, client_factory, uid, client_max):
    """The broker may use aliases towards a client, never above the client's Topic Alias Maximum,
    and the topics must resolve to what was published."""
    r = raw_factory(broker)
    cprops = {m.TOPIC_ALIAS_MAXIMUM: client_max} if client_max else None
    raw_connect_ok(r, f"{uid}-sub", props=cprops)
    assert raw_subscribe(r, [(f"t/{uid}/#", 0)]) == [0]
    pub = client_factory(broker, "pub")
    topics = [f"t/{uid}/{n}" for n in ("a", "b", "c", "a", "a", "b", "c", "c")]
    for i, t in enumerate(topics):
        pub.publish(t, str(i), qos=0)
    aliases: dict[int, str] = {}
    resolved = []
    for p in r.recv_publishes(len(topics)):
        alias = p.props.get(m.TOPIC_ALIAS)
        if alias is None:
            assert p.topic, p
            resolved.append(p.topic)
            continue
        assert client_max and 1 <= alias <= client_max, p
        if p.topic:
            aliases[alias] = p.topic
        assert alias in aliases, f"alias {alias} used before it was set: {p}"
        resolved.append(aliases[alias])
    assert resolved == topics


def test_publish_properties_pass_through(broker, client_factory, uid):
    topic = f"t/{uid}/props"
    sub = client_factory(broker, "sub")
    assert sub.subscribe(topic, 1) == [1]
    sub4 = client_factory(broker, "sub4", protocol=4)
    assert sub4.subscribe(topic, 1) == [1]
    p = props(PacketTypes.PUBLISH, ContentType="text/plain; charset=utf-8",
              ResponseTopic=f"reply/{uid}", CorrelationData=b"\x00\xffcorr",
              PayloadFormatIndicator=1, MessageExpiryInterval=120,
              UserProperty=[("z", "1"), ("a", "2"), ("z", "3"), ("é", "ü")])
    client_factory(broker, "pub").publish(topic, "hello ✓".encode(), qos=1, properties=p)
    msg = sub.wait_messages(1)[0]
    assert msg.payload == "hello ✓".encode()
    mp = msg.properties
    assert mp.ContentType == "text/plain; charset=utf-8"
    assert mp.ResponseTopic == f"reply/{uid}"
    assert mp.CorrelationData == b"\x00\xffcorr"
    assert mp.PayloadFormatIndicator == 1
    assert 115 <= mp.MessageExpiryInterval <= 120
    assert mp.UserProperty == [("z", "1"), ("a", "2"), ("z", "3"), ("é", "ü")]
    # a 3.1.1 subscriber gets the same message without properties
    assert sub4.wait_messages(1)[0].payload == "hello ✓".encode()


def test_request_response_pattern(broker, client_factory, uid):
    requests, replies = f"req/{uid}", f"reply/{uid}"
    server = client_factory(broker, "server")
    assert server.subscribe(requests, 1) == [1]
    requester = client_factory(broker, "requester")
    assert requester.subscribe(replies, 1) == [1]
    requester.publish(requests, b"2+2", qos=1,
                      properties=props(PacketTypes.PUBLISH, ResponseTopic=replies, CorrelationData=b"id-42"))
    req = server.wait_messages(1)[0]
    server.publish(req.properties.ResponseTopic, b"4", qos=1,
                   properties=props(PacketTypes.PUBLISH, CorrelationData=req.properties.CorrelationData))
    rep = requester.wait_messages(1)[0]
    assert (rep.payload, rep.properties.CorrelationData) == (b"4", b"id-42")


# Mosquitto 2.0.11 accepts and forwards a Payload Format Indicator 1 payload that is not UTF-8.
@pytest.mark.starling_only
def test_invalid_utf8_payload_with_format_indicator_puback_0x99(broker, raw_factory, client_factory, uid):
    topic = f"t/{uid}/pfi"
    sub = client_factory(broker, "sub")
    assert sub.subscribe(topic, 1) == [1]
    r = raw_factory(broker)
    raw_connect_ok(r, f"{uid}-pub")
    r.send(m.publish(topic, b"\xff\xfe not utf-8", qos=1, pid=1, props={m.PAYLOAD_FORMAT_INDICATOR: 1}))
    ack = r.expect(m.PUBACK)
    assert (ack.pid, ack.rc) == (1, 0x99)
    r.send(m.publish(topic, "valid ✓".encode(), qos=1, pid=2, props={m.PAYLOAD_FORMAT_INDICATOR: 1}))
    assert r.expect(m.PUBACK).rc in (0, 0x10)
    # The valid message, from the same publisher after the refused one, is the marker.
    wait_for(lambda: "valid ✓".encode() in sub.payloads(), 5, message="the valid message")
    assert [x.payload for x in sub.received()] == ["valid ✓".encode()]


def test_message_expiry_drops_queued_messages(broker, client_factory, uid):
    cid, topic = f"{uid}-sub", f"t/{uid}/mexp"
    persist = props(PacketTypes.CONNECT, SessionExpiryInterval=300)
    a = client_factory(broker, client_id=cid, clean=False, properties=persist)
    assert a.subscribe(topic, 1) == [1]
    a.disconnect()
    pub = client_factory(broker, "pub")
    pub.publish(topic, b"expires", qos=1, properties=props(PacketTypes.PUBLISH, MessageExpiryInterval=1))
    pub.publish(topic, b"stays", qos=1, properties=props(PacketTypes.PUBLISH, MessageExpiryInterval=100))
    time.sleep(2.0)  # real time: the first message's 1 s expiry passes while it is queued
    b = client_factory(broker, client_id=cid, clean=False, properties=persist)
    # "stays" was queued after "expires": once it arrives, an expired message delivered would have too.
    wait_for(lambda: b"stays" in b.payloads(), 5, message="the message that stays")
    msg = b.received()[-1]
    assert [x.payload for x in b.received()] == [b"stays"]
    assert 95 <= msg.properties.MessageExpiryInterval <= 99
