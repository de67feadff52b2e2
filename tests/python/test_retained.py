"""Retained messages: set, replace, clear, retain handling, retain as published, expiry, `$` topics."""

import time

import pytest

import mqttraw as m
from conftest import PacketTypes, assert_broker_serves, props, raw_connect_ok, sub_opts, wait_for


def fresh_subscriber_gets(broker, client_factory, topic, protocol=5, qos=1, name="late"):
    """Subscribe a new client to `topic`; return what it received before a live marker."""
    c = client_factory(broker, name, protocol=protocol)
    assert c.subscribe(topic, qos) == [qos]
    client_factory(broker, name + "-marker", protocol=protocol).publish(topic, b"<marker>", qos=1)
    wait_for(lambda: any(x.payload == b"<marker>" for x in c.received()), 5, message="marker")
    got = []
    for x in c.received():
        if x.payload == b"<marker>":
            break
        got.append(x)
    return got


@pytest.mark.parametrize("protocol", [4, 5])
def test_retained_set_replace_clear(broker, client_factory, uid, protocol):
    topic = f"t/{uid}/r"
    pub = client_factory(broker, "pub", protocol=protocol)
    pub.publish(topic, b"first", qos=1, retain=True)
    got = fresh_subscriber_gets(broker, client_factory, topic, protocol, name="s1")
    assert [(x.payload, x.retain) for x in got] == [(b"first", True)]
    pub.publish(topic, b"second", qos=1, retain=True)
    got = fresh_subscriber_gets(broker, client_factory, topic, protocol, name="s2")
    assert [(x.payload, x.retain) for x in got] == [(b"second", True)]
    pub.publish(topic, b"", qos=1, retain=True)  # clears it
    got = fresh_subscriber_gets(broker, client_factory, topic, protocol, name="s3")
    assert got == []


@pytest.mark.parametrize("protocol", [4, 5])
def test_live_message_to_existing_subscriber_has_retain_0(broker, client_factory, uid, protocol):
    topic = f"t/{uid}/live"
    sub = client_factory(broker, "sub", protocol=protocol)
    assert sub.subscribe(topic, 1) == [1]
    client_factory(broker, "pub", protocol=protocol).publish(topic, b"live-retained", qos=1, retain=True)
    msg = sub.wait_messages(1)[0]
    assert (msg.payload, msg.retain) == (b"live-retained", False)


def test_retained_delivered_at_min_qos(broker, client_factory, uid):
    topic = f"t/{uid}/q"
    client_factory(broker, "pub").publish(topic, b"q2", qos=2, retain=True)
    for q in (0, 1, 2):
        c = client_factory(broker, f"s{q}")
        assert c.subscribe(topic, q) == [q]
        msg = c.wait_messages(1)[0]
        assert (msg.payload, msg.qos, msg.retain) == (b"q2", q, True)


def test_retained_matched_by_wildcards(broker, client_factory, uid):
    pub = client_factory(broker, "pub")
    for leaf in ("a", "b", "c/d"):
        pub.publish(f"t/{uid}/{leaf}", leaf.encode(), qos=1, retain=True)
    plus = client_factory(broker, "plus")
    assert plus.subscribe(f"t/{uid}/+", 1) == [1]
    hashc = client_factory(broker, "hash")
    assert hashc.subscribe(f"t/{uid}/#", 1) == [1]
    assert sorted(x.payload for x in plus.wait_messages(2)) == [b"a", b"b"]
    assert sorted(x.payload for x in hashc.wait_messages(3)) == [b"a", b"b", b"c/d"]
    marker = f"t/{uid}/marker"  # live, after the subscriptions' retained messages
    pub.publish(marker, b"<marker>", qos=1)
    plus.wait_messages(1, topic=marker)
    hashc.wait_messages(1, topic=marker)
    assert len(plus.received()) == 3 and len(hashc.received()) == 4


@pytest.mark.parametrize("rh", [0, 1, 2])
def test_retain_handling(broker, client_factory, uid, rh):
    topic = f"t/{uid}/rh"
    pub = client_factory(broker, "pub")
    pub.publish(topic, b"kept", qos=1, retain=True)
    c = client_factory(broker, "sub")
    marker = f"t/{uid}/marker"
    assert c.subscribe(marker, 1) == [1]
    assert c.subscribe(topic, options=sub_opts(1, retain_handling=rh)) == [1]
    # subscribe again to the same filter: the subscription exists now
    assert c.subscribe(topic, options=sub_opts(1, retain_handling=rh)) == [1]
    pub.publish(marker, b"marker", qos=1)
    c.wait_messages(1, topic=marker)
    retained = [x.payload for x in c.received(topic)]
    expected = {0: [b"kept", b"kept"], 1: [b"kept"], 2: []}[rh]
    assert retained == expected


@pytest.mark.parametrize("rap", [False, True])
def test_retain_as_published(broker, client_factory, uid, rap):
    topic = f"t/{uid}/rap"
    c = client_factory(broker, "sub")
    assert c.subscribe(topic, options=sub_opts(1, retain_as_published=rap)) == [1]
    pub = client_factory(broker, "pub")
    pub.publish(topic, b"retained", qos=1, retain=True)
    pub.publish(topic, b"plain", qos=1, retain=False)
    msgs = c.wait_messages(2)
    assert [(x.payload, x.retain) for x in msgs] == [(b"retained", rap), (b"plain", False)]
    # a retained message sent because of a new subscription always has RETAIN set
    c2 = client_factory(broker, "sub2")
    assert c2.subscribe(topic, options=sub_opts(1, retain_as_published=False)) == [1]
    assert [(x.payload, x.retain) for x in c2.wait_messages(1)] == [(b"retained", True)]


def test_retained_message_expiry(broker, client_factory, uid):
    topic, topic2 = f"t/{uid}/exp", f"t/{uid}/keep"
    pub = client_factory(broker, "pub")
    pub.publish(topic, b"short-lived", qos=1, retain=True,
                properties=props(PacketTypes.PUBLISH, MessageExpiryInterval=1))
    pub.publish(topic2, b"long-lived", qos=1, retain=True,
                properties=props(PacketTypes.PUBLISH, MessageExpiryInterval=600))
    early = client_factory(broker, "early")
    assert early.subscribe(topic, 1) == [1]
    msg = early.wait_messages(1)[0]
    assert msg.payload == b"short-lived"
    assert 0 <= msg.properties.MessageExpiryInterval <= 1
    time.sleep(2.0)  # real time: the retained message's 1 s expiry passes
    got = fresh_subscriber_gets(broker, client_factory, topic, name="late")
    assert got == []
    late2 = client_factory(broker, "late2")
    assert late2.subscribe(topic2, 1) == [1]
    msg = late2.wait_messages(1)[0]
    assert msg.payload == b"long-lived" and 590 <= msg.properties.MessageExpiryInterval <= 600


@pytest.mark.parametrize("retain", [False, True])
def test_dollar_topics_not_matched_by_leading_wildcards(broker, client_factory, uid, retain):
    dollar = f"${uid}/bar"
    hash_all = client_factory(broker, "hash")
    plus = client_factory(broker, "plus")
    exact = client_factory(broker, "dollar")
    pub = client_factory(broker, "pub")
    if retain:
        pub.publish(dollar, b"dollar", qos=1, retain=True)
    assert hash_all.subscribe("#", 1) == [1]
    assert plus.subscribe("+/bar", 1) == [1]
    assert exact.subscribe(f"${uid}/#", 1) == [1]
    if not retain:
        pub.publish(dollar, b"dollar", qos=1)
    pub.publish(f"t/{uid}/marker", b"marker", qos=1)
    assert [x.payload for x in exact.wait_messages(1)] == [b"dollar"]
    hash_all.wait_messages(1)
    assert [x.topic for x in hash_all.received()] == [f"t/{uid}/marker"]
    assert plus.received() == []


def test_sys_topics_not_matched_by_hash(broker, client_factory, uid):
    hash_all = client_factory(broker, "hash")
    assert hash_all.subscribe("#", 0) == [0]
    pub = client_factory(broker, "pub")
    pub.publish(f"$SYS/{uid}/x", b"sys", qos=0)  # the broker may refuse it; # must not match it
    time.sleep(1.5)  # real time: a $SYS interval passes (Mosquitto here publishes $SYS every second)
    pub.publish(f"t/{uid}/marker", b"marker", qos=1)
    hash_all.wait_messages(1)
    assert not any(x.topic.startswith("$") for x in hash_all.received()), hash_all.summary()


def test_retain_unavailable(broker_factory, raw_factory, client_factory, uid):
    b = broker_factory({"mqtt": {"retain_available": False}})
    r = raw_factory(b)
    ack = raw_connect_ok(r, f"{uid}-ra")
    assert ack.props.get(m.RETAIN_AVAILABLE) == 0, ack
    r.send(m.publish(f"t/{uid}/plain", b"ok", qos=1, pid=1))
    assert r.expect(m.PUBACK).pid == 1
    r.try_send(m.publish(f"t/{uid}/kept", b"no", qos=1, pid=2, retain=True))
    got = r.read_until_closed(5)
    assert [(p.type, p.rc) for p in got] == [(m.DISCONNECT, 0x9A)], got
    assert_broker_serves(b)
