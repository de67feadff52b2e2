"""Subscriptions: wildcard matching, no-local, subscription identifiers, overlaps, unsubscribe,
invalid filters, and the features a config can turn off."""

import pytest

import mqttraw as m
from conftest import (PacketTypes, assert_broker_serves, props, raw_connect_ok, raw_subscribe,
                      sub_opts, wait_for)

# (filter, topics it matches, topics it does not) — all under a per-test root
MATCHING = [
    ("a/b/c", ["a/b/c"], ["a/b", "a/b/c/d", "a/b/cc", "A/b/c"]),
    ("a/+/c", ["a/b/c", "a/x/c", "a//c"], ["a/b/d", "a/b/c/d", "a/c"]),
    ("a/+", ["a/b", "a/"], ["a", "a/b/c"]),
    ("a/#", ["a", "a/b", "a/b/c", "a/"], ["b", "ab", "b/a"]),
    ("a/+/#", ["a/b", "a/b/c", "a/b/c/d"], ["a", "b/c"]),
    ("+/+", ["a/b", "x/y"], ["a", "a/b/c"]),
]


@pytest.mark.parametrize("protocol", [4, 5])
@pytest.mark.parametrize("filt,yes,no", MATCHING, ids=[x[0] for x in MATCHING])
def test_wildcard_matching(broker, client_factory, uid, protocol, filt, yes, no):
    root = f"w/{uid}"
    sub = client_factory(broker, "sub", protocol=protocol)
    assert sub.subscribe(f"{root}/{filt}", 1) == [1]
    assert sub.subscribe(f"{root}/marker", 1) == [1]
    pub = client_factory(broker, "pub", protocol=protocol)
    for t in no + yes:
        pub.publish(f"{root}/{t}", t.encode(), qos=1)
    pub.publish(f"{root}/marker", b"<marker>", qos=1)
    sub.wait_messages(1, topic=f"{root}/marker")
    got = sorted(x.topic[len(root) + 1:] for x in sub.received() if x.payload != b"<marker>")
    assert got == sorted(yes)


def test_single_level_wildcard_alone(broker, client_factory, uid):
    """`+` alone and `#` alone match topics of one level / any level (no `$`)."""
    plus = client_factory(broker, "plus")
    assert plus.subscribe("+", 1) == [1]
    hashc = client_factory(broker, "hash")
    assert hashc.subscribe("#", 1) == [1]
    pub = client_factory(broker, "pub")
    pub.publish(uid, b"one-level", qos=1)
    pub.publish(f"{uid}/x", b"two-levels", qos=1)
    assert [x.payload for x in hashc.wait_messages(2)] == [b"one-level", b"two-levels"]
    assert [x.payload for x in plus.wait_messages(1)] == [b"one-level"]
    pub.publish(f"{uid}-marker", b"<marker>", qos=1)  # one level, after the others
    plus.wait_messages(1, topic=f"{uid}-marker")
    assert [x.payload for x in plus.received()] == [b"one-level", b"<marker>"]


@pytest.mark.parametrize("no_local", [False, True])
def test_no_local(broker, client_factory, uid, no_local):
    topic = f"t/{uid}/nl"
    marker = f"t/{uid}/nl-marker"
    c = client_factory(broker, "self")
    assert c.subscribe(topic, options=sub_opts(1, no_local=no_local)) == [1]
    assert c.subscribe(marker, 1) == [1]
    other = client_factory(broker, "other")
    # Each publisher's marker (on a plain subscription) arrives after what it published before.
    for publisher, payload in ((c, b"own"), (other, b"other")):
        publisher.publish(topic, payload, qos=1)
        publisher.publish(marker, b"<marker>", qos=1)
    c.wait_messages(2, topic=marker)
    assert sorted(c.payloads(topic)) == ([b"other"] if no_local else [b"other", b"own"])


def test_subscription_identifier_delivered(broker, client_factory, uid):
    c = client_factory(broker, "sub")
    assert c.subscribe(f"t/{uid}/a", 1, properties=props(PacketTypes.SUBSCRIBE, SubscriptionIdentifier=7)) == [1]
    assert c.subscribe(f"t/{uid}/b", 1) == [1]  # no identifier
    pub = client_factory(broker, "pub")
    pub.publish(f"t/{uid}/a", b"a", qos=1)
    pub.publish(f"t/{uid}/b", b"b", qos=1)
    a, b = c.wait_messages(2)
    assert a.properties.SubscriptionIdentifier == [7]
    assert not hasattr(b.properties, "SubscriptionIdentifier")


def test_subscription_identifier_replaced_on_resubscribe(broker, client_factory, uid):
    topic = f"t/{uid}/re"
    c = client_factory(broker, "sub")
    assert c.subscribe(topic, 1, properties=props(PacketTypes.SUBSCRIBE, SubscriptionIdentifier=3)) == [1]
    assert c.subscribe(topic, 1, properties=props(PacketTypes.SUBSCRIBE, SubscriptionIdentifier=300000)) == [1]
    client_factory(broker, "pub").publish(topic, b"x", qos=1)
    assert c.wait_messages(1)[0].properties.SubscriptionIdentifier == [300000]


# 3.1.1: Mosquitto 2.0.11 sends a single copy at the QoS of the exact-match subscription (1), not the maximum (2).
@pytest.mark.parametrize("protocol", [pytest.param(4, marks=pytest.mark.starling_only), 5])
def test_overlapping_subscriptions_deliver_at_max_qos(broker, client_factory, uid, protocol):
    """Whatever the number of copies, one arrives with the maximum QoS of the matching subscriptions."""
    c = client_factory(broker, "sub", protocol=protocol)
    assert c.subscribe(f"t/{uid}/+", 0) == [0]
    assert c.subscribe(f"t/{uid}/#", 2) == [2]
    assert c.subscribe(f"t/{uid}/x", 1) == [1]
    client_factory(broker, "pub").publish(f"t/{uid}/x", b"o", qos=2)
    wait_for(lambda: any(x.qos == 2 for x in c.received()), 5, message="a QoS 2 copy")
    assert all(x.payload == b"o" for x in c.received())


# Mosquitto 2.0.11 sends one copy per matching subscription (each with its own identifier).
@pytest.mark.starling_only
def test_overlapping_subscriptions_v5_one_copy_max_qos_all_identifiers(broker, client_factory, uid):
    c = client_factory(broker, "sub")
    assert c.subscribe(f"t/{uid}/+", 0, properties=props(PacketTypes.SUBSCRIBE, SubscriptionIdentifier=1)) == [0]
    assert c.subscribe(f"t/{uid}/#", 2, properties=props(PacketTypes.SUBSCRIBE, SubscriptionIdentifier=2)) == [2]
    assert c.subscribe(f"t/{uid}/x", 1, properties=props(PacketTypes.SUBSCRIBE, SubscriptionIdentifier=3)) == [1]
    assert c.subscribe(f"t/{uid}/marker", 1) == [1]
    pub = client_factory(broker, "pub")
    pub.publish(f"t/{uid}/x", b"once", qos=2)
    pub.publish(f"t/{uid}/marker", b"marker", qos=2)
    c.wait_messages(1, topic=f"t/{uid}/marker")
    got = c.received(f"t/{uid}/x")
    assert len(got) == 1, c.summary()
    assert got[0].qos == 2
    assert sorted(got[0].properties.SubscriptionIdentifier) == [1, 2, 3]


# Mosquitto 2.0.11 sends one copy per matching subscription.
@pytest.mark.starling_only
def test_overlapping_subscriptions_v311_one_copy(broker, client_factory, uid):
    c = client_factory(broker, "sub", protocol=4)
    assert c.subscribe([(f"t/{uid}/+", 1), (f"t/{uid}/#", 2), (f"t/{uid}/marker", 1)]) == [1, 2, 1]
    pub = client_factory(broker, "pub", protocol=4)
    pub.publish(f"t/{uid}/x", b"once", qos=2)
    pub.publish(f"t/{uid}/marker", b"marker", qos=2)
    c.wait_messages(1, topic=f"t/{uid}/marker")
    got = c.received(f"t/{uid}/x")
    assert [(x.payload, x.qos) for x in got] == [(b"once", 2)]


@pytest.mark.parametrize("protocol", [4, 5])
def test_unsubscribe_stops_delivery(broker, client_factory, uid, protocol):
    topic, marker = f"t/{uid}/u", f"t/{uid}/marker"
    c = client_factory(broker, "sub", protocol=protocol)
    assert c.subscribe(topic, 1) == [1]
    assert c.subscribe(marker, 1) == [1]
    pub = client_factory(broker, "pub", protocol=protocol)
    pub.publish(topic, b"before", qos=1)
    c.wait_messages(1, topic=topic)
    codes = c.unsubscribe(topic)
    if protocol == 5:
        assert codes == [0]
    pub.publish(topic, b"after", qos=1)
    pub.publish(marker, b"marker", qos=1)
    c.wait_messages(1, topic=marker)
    assert c.payloads(topic) == [b"before"]


def test_unsuback_0x11_for_a_filter_that_did_not_exist(broker, raw_factory, uid):
    r = raw_factory(broker)
    raw_connect_ok(r, f"{uid}-u")
    assert raw_subscribe(r, [(f"t/{uid}/yes", 1)]) == [1]
    r.send(m.unsubscribe(5, [f"t/{uid}/no", f"t/{uid}/yes"]))
    ack = r.expect(m.UNSUBACK)
    assert ack.pid == 5 and ack.codes == [0x11, 0x00]


def test_unsuback_v311(broker, raw_factory, uid):
    r = raw_factory(broker, m.V311)
    raw_connect_ok(r, f"{uid}-u4", version=m.V311)
    r.send(m.unsubscribe(9, [f"t/{uid}/never"], version=m.V311))
    ack = r.expect(m.UNSUBACK)
    assert ack.pid == 9 and ack.body == b"\x00\x09"


INVALID_FILTERS = ["a/#/b", "a+", "#a", "a/b#", "+a/b"]


# Mosquitto 2.0.11 treats an invalid filter as a malformed packet and closes the connection.
@pytest.mark.starling_only
@pytest.mark.parametrize("version", [m.V311, m.V5])
def test_invalid_filters_refused_others_granted(broker, raw_factory, client_factory, uid, version):
    good1, good2 = f"t/{uid}/good1", f"t/{uid}/+/good2"
    r = raw_factory(broker, version)
    raw_connect_ok(r, f"{uid}-inv", version=version)
    filters = [(good1, 1)] + [(f, 1) for f in INVALID_FILTERS] + [(good2, 2)]
    codes = raw_subscribe(r, filters)
    bad = 0x8F if version == m.V5 else 0x80
    assert codes == [1] + [bad] * len(INVALID_FILTERS) + [2]
    pub = client_factory(broker, "pub")
    pub.publish(good1, b"one", qos=1)
    pub.publish(f"t/{uid}/x/good2", b"two", qos=1)
    got = r.recv_publishes(2)
    assert sorted(p.payload for p in got) == [b"one", b"two"]


def test_max_qos_allowed_1(broker_factory, raw_factory, client_factory, uid):
    b = broker_factory({"mqtt": {"max_qos_allowed": 1}})
    r = raw_factory(b)
    ack = raw_connect_ok(r, f"{uid}-mq")
    assert ack.props.get(m.MAXIMUM_QOS) == 1, ack
    assert raw_subscribe(r, [(f"t/{uid}/q", 2), (f"t/{uid}/q0", 0)]) == [1, 0]
    c4 = client_factory(b, "v311", protocol=4)
    assert c4.subscribe(f"t/{uid}/q4", 2) == [1]
    r.send(m.publish(f"t/{uid}/q", b"q1", qos=1, pid=1))
    got = [r.recv(), r.recv()]
    assert {p.type for p in got} == {m.PUBACK, m.PUBLISH}
    pub = next(p for p in got if p.type == m.PUBLISH)
    r.send(m.puback(pub.pid))
    r.try_send(m.publish(f"t/{uid}/q", b"q2", qos=2, pid=2))
    got = r.read_until_closed(5)
    assert [(p.type, p.rc) for p in got] == [(m.DISCONNECT, 0x9B)], got
    assert_broker_serves(b)


# Mosquitto has no setting to turn wildcard subscriptions off.
@pytest.mark.starling_only
def test_wildcard_subscription_disabled(broker_factory, raw_factory, uid):
    b = broker_factory({"mqtt": {"wildcard_subscription": False}})
    r = raw_factory(b)
    ack = raw_connect_ok(r, f"{uid}-wc")
    assert ack.props.get(m.WILDCARD_SUBSCRIPTION_AVAILABLE) == 0, ack
    assert raw_subscribe(r, [(f"t/{uid}/+", 1), (f"t/{uid}/#", 1), (f"t/{uid}/plain", 1)]) == [0xA2, 0xA2, 1]
    r4 = raw_factory(b, m.V311)
    raw_connect_ok(r4, f"{uid}-wc4", version=m.V311)
    assert raw_subscribe(r4, [(f"t/{uid}/+", 1), (f"t/{uid}/plain", 1)]) == [0x80, 1]


# Mosquitto has no setting to turn shared subscriptions off.
@pytest.mark.starling_only
def test_shared_subscription_disabled(broker_factory, raw_factory, uid):
    b = broker_factory({"mqtt": {"shared_subscription": False}})
    r = raw_factory(b)
    ack = raw_connect_ok(r, f"{uid}-sh")
    assert ack.props.get(m.SHARED_SUBSCRIPTION_AVAILABLE) == 0, ack
    assert raw_subscribe(r, [(f"$share/g/t/{uid}", 1), (f"t/{uid}/plain", 1)]) == [0x9E, 1]


# Mosquitto has no setting to turn subscription identifiers off.
@pytest.mark.starling_only
def test_subscription_identifiers_disabled(broker_factory, raw_factory, uid):
    b = broker_factory({"mqtt": {"subscription_identifiers": False}})
    r = raw_factory(b)
    ack = raw_connect_ok(r, f"{uid}-si")
    assert ack.props.get(m.SUBSCRIPTION_IDENTIFIER_AVAILABLE) == 0, ack
    assert raw_subscribe(r, [(f"t/{uid}/plain", 1)]) == [1]
    r.try_send(m.subscribe(2, [(f"t/{uid}/x", 1)], props={m.SUBSCRIPTION_IDENTIFIER: [5]}))
    got = r.read_until_closed(5)
    assert [(p.type, p.rc) for p in got] == [(m.DISCONNECT, 0xA1)], got
