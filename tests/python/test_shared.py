"""Shared subscriptions: `$share/group/filter` and `$queue/filter`, dispatch strategies, redispatch."""

import collections

import pytest

import mqttraw as m
from conftest import assert_broker_serves, raw_connect_ok, raw_subscribe, wait_for

N = 30


def marker_topic(member) -> str:
    return f"marker/{member.client_id}"


def members(broker, client_factory, filt, n=3, protocol=5, qos=1, prefix="m"):
    out = []
    for i in range(n):
        c = client_factory(broker, f"{prefix}{i}", protocol=protocol)
        assert c.subscribe(filt, qos) == [qos]
        assert c.subscribe(marker_topic(c), 1) == [1]  # for collect_exactly_once's marker
        out.append(c)
    return out


def publish_n(pub, topic, n=N, qos=1, prefix="msg"):
    sent = [f"{prefix}-{i:02d}".encode() for i in range(n)]
    for p in sent:
        pub.publish(topic if isinstance(topic, str) else topic(p), p, qos=qos)
    return sent


def shared(member) -> list:
    """What `member` received through the group (not its marker)."""
    return [x for x in member.received() if x.topic != marker_topic(member)]


def collect_exactly_once(group, pub, sent):
    """Wait until the group received every message `pub` sent, then check nobody got a duplicate:
    a marker from `pub` to each member arrives after any duplicate of what `pub` sent before it."""
    def all_in():
        got = [x.payload for c in group for x in shared(c)]
        return len(set(got) & set(sent)) == len(sent)
    wait_for(all_in, 10, message=lambda: "every message reached the group: "
             + str([len(shared(c)) for c in group]))
    for c in group:
        pub.publish(marker_topic(c), b"<marker>", qos=1)
    for c in group:
        c.wait_messages(1, topic=marker_topic(c))
    got = [x.payload for c in group for x in shared(c)]
    dups = [p for p, k in collections.Counter(got).items() if k > 1]
    assert not dups, f"delivered more than once: {dups}"
    assert sorted(got) == sorted(sent)
    return [len(shared(c)) for c in group]


@pytest.mark.parametrize("protocol", [4, 5])
def test_share_round_robin_each_message_to_one_member(broker, client_factory, uid, protocol):
    topic = f"t/{uid}/rr"
    group = members(broker, client_factory, f"$share/g/{topic}", protocol=protocol)
    plain = client_factory(broker, "plain", protocol=protocol)
    assert plain.subscribe(topic, 1) == [1]
    pub = client_factory(broker, "pub", protocol=protocol)
    sent = publish_n(pub, topic)
    counts = collect_exactly_once(group, pub, sent)
    assert counts == [10, 10, 10]
    # the non-shared subscriber on the same topic gets all of them, in order
    assert [x.payload for x in plain.wait_messages(N)] == sent


def test_share_groups_are_independent(broker, client_factory, uid):
    topic = f"t/{uid}/groups"
    g1 = members(broker, client_factory, f"$share/g1/{topic}", n=2, prefix="a")
    g2 = members(broker, client_factory, f"$share/g2/{topic}", n=2, prefix="b")
    pub = client_factory(broker, "pub")
    sent = publish_n(pub, topic, n=10)
    collect_exactly_once(g1, pub, sent)
    collect_exactly_once(g2, pub, sent)


def test_share_with_wildcard_filter(broker, client_factory, uid):
    group = members(broker, client_factory, f"$share/g/t/{uid}/+", n=2)
    pub = client_factory(broker, "pub")
    sent = publish_n(pub, lambda p: f"t/{uid}/{p.decode()[-1]}", n=10)
    collect_exactly_once(group, pub, sent)


# Mosquitto knows only $share; `$queue/t` is an ordinary (non-matching) filter there.
@pytest.mark.starling_only
def test_queue_prefix_round_robin(broker, client_factory, uid):
    topic = f"t/{uid}/q"
    group = members(broker, client_factory, f"$queue/{topic}")
    pub = client_factory(broker, "pub")
    sent = publish_n(pub, topic)
    assert collect_exactly_once(group, pub, sent) == [10, 10, 10]


# Mosquitto has no dispatch strategy setting.
@pytest.mark.starling_only
def test_share_random_strategy_exactly_once(broker_factory, client_factory, uid):
    b = broker_factory({"mqtt": {"shared_subscription_strategy": "random"}})
    topic = f"t/{uid}/random"
    group = members(b, client_factory, f"$share/g/{topic}")
    pub = client_factory(b, "pub")
    sent = publish_n(pub, topic)
    collect_exactly_once(group, pub, sent)


# Mosquitto has no dispatch strategy setting.
@pytest.mark.starling_only
def test_share_hash_clientid_strategy(broker_factory, client_factory, uid):
    b = broker_factory({"mqtt": {"shared_subscription_strategy": "hash_clientid"}})
    topic = f"t/{uid}/hcid"
    group = members(b, client_factory, f"$share/g/{topic}")
    pub1 = client_factory(b, "pub1")
    sent = publish_n(pub1, topic, prefix="one")
    counts = collect_exactly_once(group, pub1, sent)
    assert sorted(counts) == [0, 0, N], counts  # one publisher -> one member
    for c in group:
        c.clear()
    pub2 = client_factory(b, "pub2")
    sent2 = publish_n(pub2, topic, prefix="two")
    counts2 = collect_exactly_once(group, pub2, sent2)
    assert sorted(counts2) == [0, 0, N], counts2


# Mosquitto has no dispatch strategy setting.
@pytest.mark.starling_only
def test_share_hash_topic_strategy(broker_factory, client_factory, uid):
    b = broker_factory({"mqtt": {"shared_subscription_strategy": "hash_topic"}})
    group = members(b, client_factory, f"$share/g/t/{uid}/+")
    pub = client_factory(b, "pub")
    sent = publish_n(pub, lambda p: f"t/{uid}/{int(p[-2:]) % 3}")
    collect_exactly_once(group, pub, sent)
    for c in group:  # a topic's messages all go to one member
        for x in shared(c):
            holders = [o for o in group if any(y.topic == x.topic for y in shared(o))]
            assert holders == [c], x.topic


# Mosquitto 2.0.11 does not hand a leaving member's unacknowledged messages to another member.
@pytest.mark.starling_only
def test_unacked_messages_of_a_leaving_member_are_redispatched(broker, raw_factory, client_factory, uid):
    topic = f"t/{uid}/redispatch"
    flt = f"$share/g/{topic}"
    a = raw_factory(broker)
    raw_connect_ok(a, f"{uid}-a", props={m.RECEIVE_MAXIMUM: 10})  # session ends at disconnect
    assert raw_subscribe(a, [(flt, 1)]) == [1]
    b = client_factory(broker, "b")
    assert b.subscribe(flt, 1) == [1]
    sent = publish_n(client_factory(broker, "pub"), topic, n=6)
    held = [p.payload for p in a.recv_publishes(3)]  # round robin: half of them, never acked
    wait_for(lambda: len(b.received()) >= 3, 5, message="b's share")
    a.abort()
    wait_for(lambda: set(b.payloads()) == set(sent), 10,
             message=lambda: f"b to get a's unacked {held}; b has {b.payloads()}")
    assert_broker_serves(broker)
