"""The broker's own $SYS/brokers/{node}/... topics (EMQX layout): retained version, periodic stats
and metrics every [sys] interval, client connected/disconnected events with JSON payloads."""

from __future__ import annotations

import json
import re
import time

import pytest

from conftest import wait_for

pytestmark = pytest.mark.starling_only

NODE = "starling@127.0.0.1"
PREFIX = f"$SYS/brokers/{NODE}"


def by_topic(client, topic: str):
    return [m for m in client.received() if m.topic == topic]


def latest_int(client, topic: str) -> int:
    return int(by_topic(client, topic)[-1].payload)


def test_version_is_retained_and_stats_arrive_every_interval(broker_factory, client_factory):
    b = broker_factory({"sys": {"interval": 1}})
    watcher = client_factory(b, "watcher")
    assert watcher.subscribe("$SYS/brokers/+/version", 0) == [0]
    version = watcher.wait_messages(1, topic=f"{PREFIX}/version")[0]
    assert version.retain, "version is a retained $SYS message"
    assert re.fullmatch(rb"\d+\.\d+\.\d+", version.payload), version.payload

    for pattern in ("$SYS/brokers/+/uptime", "$SYS/brokers/+/datetime", "$SYS/brokers/+/stats/#",
                    "$SYS/brokers/+/metrics/#"):
        assert watcher.subscribe(pattern, 0) == [0]
    publisher = client_factory(b, "publisher")
    for i in range(3):
        publisher.publish(f"sys/{i}", b"x", qos=1)

    # Within the interval (1 s) plus slack, every periodic topic arrives, not retained.
    for topic in ("uptime", "datetime", "stats/connections/count", "stats/sessions/count",
                  "stats/subscriptions/count", "stats/retained/count", "metrics/messages/received",
                  "metrics/messages/sent", "metrics/messages/dropped", "metrics/bytes/received",
                  "metrics/bytes/sent"):
        message = watcher.wait_messages(1, timeout=3.5, topic=f"{PREFIX}/{topic}")[0]
        assert not message.retain, topic

    assert re.fullmatch(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", by_topic(watcher, f"{PREFIX}/datetime")[-1].payload)
    wait_for(lambda: latest_int(watcher, f"{PREFIX}/metrics/messages/received") >= 3, 3.5,
             message="messages/received counts the three publishes")
    assert latest_int(watcher, f"{PREFIX}/stats/connections/count") == 2
    assert latest_int(watcher, f"{PREFIX}/stats/sessions/count") == 2
    assert latest_int(watcher, f"{PREFIX}/stats/subscriptions/count") == 5
    assert latest_int(watcher, f"{PREFIX}/stats/retained/count") == 3  # $SYS/brokers, version, sysdescr
    assert latest_int(watcher, f"{PREFIX}/metrics/bytes/received") > 0
    assert latest_int(watcher, f"{PREFIX}/metrics/bytes/sent") > 0
    assert latest_int(watcher, f"{PREFIX}/metrics/messages/dropped") >= 3, "no subscriber for sys/0..2"

    # Uptime grows from one publication to the next.
    first = latest_int(watcher, f"{PREFIX}/uptime")
    wait_for(lambda: latest_int(watcher, f"{PREFIX}/uptime") > first, 3.5, message="uptime grows")


def test_client_connected_and_disconnected_events(broker_factory, client_factory):
    b = broker_factory({"sys": {"interval": 1}})
    watcher = client_factory(b, "watcher")
    assert watcher.subscribe("$SYS/brokers/+/clients/+/connected", 0) == [0]
    assert watcher.subscribe("$SYS/brokers/+/clients/+/disconnected", 0) == [0]

    other = client_factory(b, "other", connect=False)
    other.c.username_pw_set("alice", "secret")
    before_ms = int(time.time() * 1000)
    other.connect(keepalive=33)
    connected = watcher.wait_messages(1, topic=f"{PREFIX}/clients/{other.client_id}/connected")[0]
    event = json.loads(connected.payload)
    assert event["clientid"] == other.client_id
    assert event["username"] == "alice"
    assert event["ipaddress"] == "127.0.0.1"
    assert event["proto_ver"] == 5
    assert event["keepalive"] == 33
    assert event["clean_start"] is True
    assert before_ms - 1000 <= event["connected_at"] <= int(time.time() * 1000) + 1000
    assert not connected.retain

    other.disconnect()
    gone = watcher.wait_messages(1, topic=f"{PREFIX}/clients/{other.client_id}/disconnected")[0]
    event = json.loads(gone.payload)
    assert event["clientid"] == other.client_id
    assert event["username"] == "alice"
    assert event["reason"] == "normal"
    assert event["disconnected_at"] >= before_ms

    old = client_factory(b, "old", protocol=4)
    old.c.loop_stop()
    old.c.socket().close()  # no DISCONNECT
    dropped = watcher.wait_messages(1, topic=f"{PREFIX}/clients/{old.client_id}/disconnected")[0]
    assert json.loads(dropped.payload)["reason"] == "socket_error"
    connected_old = json.loads(by_topic(watcher, f"{PREFIX}/clients/{old.client_id}/connected")[0].payload)
    assert connected_old["proto_ver"] == 4
    assert connected_old["username"] is None


def test_hash_does_not_receive_sys(broker_factory, client_factory):
    b = broker_factory({"sys": {"interval": 1}})
    everything = client_factory(b, "everything")
    assert everything.subscribe("#", 0) == [0]
    watcher = client_factory(b, "watcher")
    assert watcher.subscribe("$SYS/#", 0) == [0]
    other = client_factory(b, "other")
    other.publish("plain/topic", b"hello", qos=1)
    other.disconnect()
    # The $SYS subscriber sees a periodic round and the events; '#' sees only the plain message.
    watcher.wait_messages(1, timeout=3.5, topic=f"{PREFIX}/uptime")
    watcher.wait_messages(1, topic=f"{PREFIX}/clients/{other.client_id}/disconnected")
    # Those were routed before this marker is published: '#' gets the marker after any of them.
    client_factory(b, "marker").publish("plain/marker", b"<marker>", qos=1)
    everything.wait_messages(1, topic="plain/marker")
    assert [m.topic for m in everything.received()] == ["plain/topic", "plain/marker"]


def test_client_events_off_and_interval_zero(broker_factory, client_factory):
    b = broker_factory({"sys": {"interval": 0, "client_events": False}})
    watcher = client_factory(b, "watcher")
    assert watcher.subscribe("$SYS/#", 0) == [0]
    # The retained topics are still there: published once at start, whatever the interval.
    watcher.wait_messages(1, topic=f"{PREFIX}/version")
    other = client_factory(b, "other")
    other.disconnect()
    time.sleep(1.5)  # real time: 1.5 s in which no periodic round (interval 0) and no event may come
    topics = {m.topic for m in watcher.received()}
    assert topics == {"$SYS/brokers", f"{PREFIX}/version", f"{PREFIX}/sysdescr"}, topics


def test_clients_cannot_publish_to_sys(broker_factory, client_factory):
    b = broker_factory({"sys": {"interval": 0}})
    watcher = client_factory(b, "watcher")
    assert watcher.subscribe(f"{PREFIX}/fake", 0) == [0]
    assert watcher.subscribe("plain/marker", 0) == [0]
    faker = client_factory(b, "faker")
    info = faker.publish(f"{PREFIX}/fake", b"forged", qos=1)
    assert faker.puback_code(info.mid) == 0x87
    faker.publish("plain/marker", b"<marker>", qos=1)  # from the same publisher, after the forged one
    watcher.wait_messages(1, topic="plain/marker")
    assert [m.topic for m in watcher.received()] == ["plain/marker"]
