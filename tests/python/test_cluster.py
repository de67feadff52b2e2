"""Clustering (issue 6): several real `starling` processes on 127.0.0.1, each with its own data
directory, cluster port and API port, joined with `starling ctl cluster join`. Every wait is bounded;
the broker_factory fixture stops every process it started.

The nodes and their timings are in clusternodes.py.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
import urllib.request

import pytest

from clusternodes import (COOKIE, DETECTION_BOUND, DOWN_AFTER, HEARTBEAT, Node, join,  # noqa: F401
                          subscribe_and_replicate, three, wait_mesh, wait_purged, wait_routes)
from conftest import free_port, starling_binary, wait_for

pytestmark = pytest.mark.starling_only


def test_three_nodes_forward_each_qos_once_to_the_subscribing_node_only(three, client_factory, uid):
    n1, n2, n3 = three
    sub = subscribe_and_replicate(client_factory, n3, [n1, n2], f"{uid}/#", qos=2)
    marker = f"{uid}-marker"  # stays subscribed: n1 forwards markers to n3 after what it forwarded before
    sub.subscribe(marker, qos=1)
    wait_routes([n1], marker, [n3.name])
    pub = client_factory(n1.broker, "pub")
    for qos in (0, 1, 2):
        pub.publish(f"{uid}/q{qos}", f"qos{qos}", qos=qos)
    messages = sub.wait_messages(3, timeout=5)
    assert sorted((m.topic, m.payload, m.qos) for m in messages) == [
        (f"{uid}/q0", b"qos0", 0), (f"{uid}/q1", b"qos1", 1), (f"{uid}/q2", b"qos2", 2)]
    # Order per publisher and topic holds across the hop.
    for i in range(200):
        pub.publish(f"{uid}/order", str(i), qos=1)
    got = sub.wait_messages(203, timeout=10)
    assert [int(m.payload) for m in got if m.topic == f"{uid}/order"] == list(range(200))
    pub.publish(marker, "marker-1", qos=1)  # a duplicate would arrive before it
    sub.wait_messages(1, timeout=5, topic=marker)
    assert len(sub.received()) == 204, "no duplicates"
    forwarded = 204  # 203 and the marker
    wait_for(lambda: n3.metrics().get(f"cluster.forwarded.in.{n1.name}", 0) >= forwarded, timeout=5,
             message="marker-1 counted on n3")
    m1, m2, m3 = n1.metrics(), n2.metrics(), n3.metrics()
    assert m1[f"cluster.forwarded.out.{n3.name}"] == forwarded
    assert m1.get(f"cluster.forwarded.out.{n2.name}", 0) == 0
    assert m2["cluster.forwarded.in"] == 0, "a node with no subscriber receives no forward"
    assert m3[f"cluster.forwarded.in.{n1.name}"] == forwarded
    with urllib.request.urlopen(f"http://127.0.0.1:{n3.broker.api_port}/api/v1/prometheus", timeout=10) as response:
        prometheus = response.read().decode()
    assert f'starling_cluster_forwarded_in_total{{peer="{n1.name}"}} {forwarded}' in prometheus, prometheus[-800:]
    # The last subscriber leaving deletes the route everywhere.
    sub.unsubscribe(f"{uid}/#")
    wait_purged([n1, n2], f"{uid}/#", timeout=5)
    # A topic n1 forwarded before (its match is cached per loop) is no longer forwarded: the marker
    # after it is the only forward.
    pub.publish(f"{uid}/order", "after", qos=1)
    pub.publish(marker, "marker-2", qos=1)
    sub.wait_messages(2, timeout=5, topic=marker)
    wait_for(lambda: n3.metrics()["cluster.forwarded.in"] >= forwarded + 1, timeout=5, message="marker-2 counted")
    assert n1.metrics()[f"cluster.forwarded.out.{n3.name}"] == forwarded + 1
    assert n3.metrics()["cluster.forwarded.in"] == forwarded + 1


def test_routes_are_reference_counted_per_node(three, client_factory, uid):
    n1, _, n3 = three
    subs = [client_factory(n3.broker, f"s{i}") for i in range(3)]
    for s in subs:
        s.subscribe(f"{uid}/shared-filter", qos=1)
    wait_for(lambda: n1.routes().get(f"{uid}/shared-filter") == [n3.name], timeout=5, message="route on n1")
    assert n1.status()["remote_routes"] == 1
    for s in subs[:2]:
        s.unsubscribe(f"{uid}/shared-filter")
    # A route n3 adds after the unsubscribes reaches n1 after any deletion they caused.
    subs[0].subscribe(f"{uid}/marker", qos=1)
    wait_routes([n1], f"{uid}/marker", [n3.name])
    assert n1.routes().get(f"{uid}/shared-filter") == [n3.name], "one subscriber left: the route stays"
    subs[2].unsubscribe(f"{uid}/shared-filter")
    wait_for(lambda: f"{uid}/shared-filter" not in n1.routes(), timeout=5, message="route deleted")


def test_wrong_cookie_is_refused_with_the_reason_on_both_sides(broker_factory, tmp_path):
    n1 = Node(broker_factory, tmp_path, "n1")
    intruder = Node(broker_factory, tmp_path, "n2", cookie="not-the-cookie")
    done = intruder.ctl("cluster", "join", n1.address, "--timeout", "5")
    assert done.returncode != 0
    assert "wrong cookie" in done.stderr, done.stderr
    wait_for(lambda: re.search(r"wrong cookie.*|peer=n2@127\.0\.0\.1", n1.broker.log_text()) and
             "n2@127.0.0.1" in n1.broker.log_text() and "wrong cookie" in n1.broker.log_text(),
             timeout=5, message="n1 logs the refusal naming n2")
    assert "wrong cookie" in intruder.broker.log_text() and "n1@127.0.0.1" in intruder.broker.log_text()
    assert COOKIE not in n1.broker.log_text() + intruder.broker.log_text(), "the cookie is never logged"
    assert n1.status()["members"] == [] and intruder.status()["members"] == []


def test_unreachable_and_name_clash_are_reported_not_hung(broker_factory, tmp_path):
    n1 = Node(broker_factory, tmp_path, "n1")
    started = time.monotonic()
    done = n1.ctl("cluster", "join", f"n9@127.0.0.1:{free_port()}", "--timeout", "5")
    assert done.returncode != 0 and "unreachable" in done.stderr, done.stderr
    assert time.monotonic() - started < 8
    done = n1.ctl("cluster", "join", n1.address)
    assert done.returncode != 0 and "name clash" in done.stderr, done.stderr
    twin = Node(broker_factory, tmp_path, "twin", name=n1.name)
    done = twin.ctl("cluster", "join", n1.address, "--timeout", "5")
    assert done.returncode != 0 and "name clash" in done.stderr, done.stderr
    done = n1.ctl("cluster", "join", "not-a-node")
    assert done.returncode != 0 and "NAME@HOST" in done.stderr, done.stderr
    assert n1.status()["members"] == [], "nothing failed is remembered"


def test_a_node_killed_is_purged_and_rejoins_by_itself(three, client_factory, uid):
    n1, n2, n3 = three
    subscribe_and_replicate(client_factory, n3, [n1, n2], f"{uid}/#")
    n3.broker.signal(signal.SIGKILL)
    purged_after = wait_purged([n1, n2], f"{uid}/#", DETECTION_BOUND)
    assert n3.name not in n1.up_members()
    print(f"\nkill -9: n3's routes purged everywhere after {purged_after * 1000:.0f} ms (bound {DETECTION_BOUND} s)")
    n3.broker.wait(5)
    n3.restart()  # no join: it remembers its members
    wait_mesh([n1, n2, n3], timeout=10)
    sub2 = client_factory(n3.broker, "sub2")
    sub2.subscribe(f"{uid}/#", qos=1)
    wait_for(lambda: n1.routes().get(f"{uid}/#") == [n3.name], timeout=5, message="route resynced to n1")
    pub = client_factory(n1.broker, "pub")
    pub.publish(f"{uid}/after", "back", qos=1)
    assert [m.payload for m in sub2.wait_messages(1, timeout=5)] == [b"back"]


def test_snapshot_on_join_and_leave_tells_the_others(broker_factory, tmp_path, client_factory, uid):
    n1 = Node(broker_factory, tmp_path, "n1")
    n2 = Node(broker_factory, tmp_path, "n2")
    sub = client_factory(n2.broker, "early")
    sub.subscribe(f"{uid}/early", qos=0)  # before the join: it travels in the snapshot
    join(n1, n2)
    wait_for(lambda: n1.routes().get(f"{uid}/early") == [n2.name], timeout=5, message="snapshot on join")
    done = n2.ctl("cluster", "leave")
    assert done.returncode == 0, done.stderr
    wait_for(lambda: n1.status()["members"] == [] and f"{uid}/early" not in n1.routes(), timeout=5,
             message="n1 forgot n2 and its routes")
    assert "left the cluster" in n1.broker.log_text()
    # A node that left does not come back by itself.
    time.sleep(3 * HEARTBEAT)  # real time: three heartbeat intervals, when a member would have reconnected
    assert n2.status()["members"] == [] and n1.status()["members"] == []


def test_seeds_form_a_static_cluster_at_start(broker_factory, tmp_path, client_factory, uid):
    n1 = Node(broker_factory, tmp_path, "n1")
    n2 = Node(broker_factory, tmp_path, "n2", seeds=[n1.address])
    n3 = Node(broker_factory, tmp_path, "n3", seeds=[n1.address])
    wait_mesh([n1, n2, n3])


def test_ten_thousand_subscriptions_converge(three, client_factory, uid):
    """STARLING_CLUSTER_ROUTES=100000 measures a larger table (a multiple of 300)."""
    total, per_subscribe = int(os.environ.get("STARLING_CLUSTER_ROUTES", "10000")), 100
    clients = [client_factory(n.broker, f"bulk{i}") for i, n in enumerate(three)]
    started = time.monotonic()
    for i in range(0, total, per_subscribe):
        client = clients[(i // per_subscribe) % 3]
        client.subscribe([(f"{uid}/bulk/{j}", 0) for j in range(i, i + per_subscribe)], timeout=10)
    subscribed = time.monotonic()

    def counts_agree():
        # Cheap to poll: every node holds the others' routes (the bulk ones and nothing else).
        statuses = [n.status() for n in three]
        return all(st["local_routes"] + st["remote_routes"] == total for st in statuses)

    wait_for(counts_agree, timeout=120, interval=0.05, message="every node holds every route")
    done = time.monotonic()
    # Then the whole tables, once: the same filters with the same node on every node.
    tables = [{k: v for k, v in n.routes().items() if k.startswith(f"{uid}/bulk/")} for n in three]
    assert len(tables[0]) == total and tables[0] == tables[1] == tables[2]
    print(f"\n{total:,} subscriptions over 3 nodes: subscribed in {subscribed - started:.2f} s, "
          f"every node holds every route {done - started:.2f} s after the first SUBSCRIBE "
          f"({(done - subscribed) * 1000:.0f} ms after the last SUBACK)")
    batches = total // per_subscribe
    expected = sorted(per_subscribe * (batches // 3 + (1 if i < batches % 3 else 0)) for i in range(3))
    assert sorted(n.status()["local_routes"] for n in three) == expected


def test_a_silent_node_is_declared_down_and_comes_back(three, client_factory, uid):
    """SIGSTOP keeps n3's sockets open but silences it: only the heartbeats can tell."""
    n1, n2, n3 = three
    subscribe_and_replicate(client_factory, n3, [n1, n2], f"{uid}/#")
    n3.broker.signal(signal.SIGSTOP)
    try:
        detected = wait_purged([n1, n2], f"{uid}/#", DETECTION_BOUND)
        assert detected >= DOWN_AFTER * 0.8, f"declared down after {detected:.2f} s, before down_after"
        assert "silent for more than 1000 ms" in n1.broker.log_text()
        print(f"\nSIGSTOP: n3 declared down and its routes purged after {detected * 1000:.0f} ms "
              f"(down_after {DOWN_AFTER * 1000:.0f} ms, heartbeat {HEARTBEAT * 1000:.0f} ms)")
    finally:
        n3.broker.proc.send_signal(signal.SIGCONT)
    wait_mesh([n1, n2, n3], timeout=10)
    wait_for(lambda: n1.routes().get(f"{uid}/#") == [n3.name], timeout=5, message="n3's routes resynced")


def test_forwards_to_a_node_that_stops_reading_are_counted_lost(three, client_factory, uid):
    n1, n2, n3 = three
    subscribe_and_replicate(client_factory, n3, [n1, n2], f"{uid}/#", qos=0)
    n3.broker.signal(signal.SIGSTOP)
    try:
        pub = client_factory(n1.broker, "pub")
        payload, sent = b"x" * 16384, 0  # large: more than the socket buffers hold, even from a slow client
        started = time.monotonic()
        while time.monotonic() - started < DOWN_AFTER * 0.5 and sent < 40_000:  # all before n3 is declared down
            pub.publish(f"{uid}/flood", payload, qos=0)
            sent += 1
        wait_purged([n1], f"{uid}/#", DETECTION_BOUND)

        def settled():
            # paho sends asynchronously: what reached n1 after the purge had no subscriber at all.
            m = n1.metrics()
            accounted = (m[f"cluster.forwarded.out.{n3.name}"] + m[f"cluster.forwards.lost.{n3.name}"]
                         + m["messages.dropped.no_subscribers"])
            return accounted == sent and m

        metrics = wait_for(settled, timeout=5, message=lambda: f"out + lost + unrouted == {sent}: {n1.metrics()}")
        lost = metrics[f"cluster.forwards.lost.{n3.name}"]
        print(f"\nSIGSTOP flood: {sent} forwards to a node that stopped reading, {lost} counted lost")
        assert lost > 0
        status = {m["name"]: m for m in n1.status()["members"]}
        assert status[n3.name]["forwards_lost"] == lost
    finally:
        n3.broker.proc.send_signal(signal.SIGCONT)


def test_the_start_flags_and_a_node_without_cookie(broker_factory, tmp_path):
    port = free_port()
    cmd = [str(starling_binary()), "start", "--name", "flags@127.0.0.1", "--cookie", "flag-cookie",
           "--cluster-port", str(port), "--port", "0", "--api-port", "0"]
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline, seen = time.monotonic() + 20, ""
        while f"cluster listening on 127.0.0.1:{port}" not in seen and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            seen += line
        assert f"cluster listening on 127.0.0.1:{port}" in seen and "node=flags@127.0.0.1" in seen, seen
        assert "flag-cookie" not in seen
    finally:
        proc.terminate()
        proc.wait(10)
    bad = subprocess.run(cmd[:-6] + ["--cluster-port", "70000"], cwd=tmp_path, capture_output=True, text=True, timeout=20)
    assert bad.returncode == 2 and "--cluster-port" in bad.stderr, bad.stderr
    bad = subprocess.run(cmd[:2] + ["--name", "no-host"], cwd=tmp_path, capture_output=True, text=True, timeout=20)
    assert bad.returncode == 2 and "--name" in bad.stderr, bad.stderr
    # Without a cookie the cluster port stays closed and the status says so.
    plain = broker_factory({"node": {"data_dir": str(tmp_path / "plain")}})
    assert "cluster listening" not in plain.log_text()
    status = Node.of(plain)
    assert status.status() == {"node": "starling@127.0.0.1", "enabled": False, "cluster_port": 0, "local_routes": 0,
                               "remote_routes": 0, "members": [], "owned_client_ids": 0}
    done = status.ctl("cluster", "join", "n1@127.0.0.1")
    assert done.returncode != 0 and "cookie" in done.stderr, done.stderr


def retained_on(node: Node, topic: str) -> bytes | None:
    """The retained payload `node` holds for `topic` (None: none)."""
    status, body = node.api("GET", f"/retained/{topic}")
    if status == 404:
        return None
    assert status == 200 and body["payload_encoding"] == "plain", body
    return body["payload"].encode()


def wait_retained(nodes: list[Node], topic: str, payload: bytes | None, timeout: float = 5.0):
    wait_for(lambda: all(retained_on(n, topic) == payload for n in nodes), timeout=timeout, interval=0.05,
             message=lambda: f"{topic} retained as {payload!r}: " + ", ".join(
                 f"{n.name}={retained_on(n, topic)!r}" for n in nodes))


def test_retained_messages_are_seen_and_deleted_cluster_wide(three, client_factory, uid):
    n1, n2, n3 = three
    pub1 = client_factory(n1.broker, "pub1")
    pub1.publish(f"{uid}/r/a", "from n1", qos=1, retain=True)
    wait_retained(three, f"{uid}/r/a", b"from n1")
    # A new subscriber on n3 receives what was retained through n1, flagged retained.
    sub = client_factory(n3.broker, "sub3")
    sub.subscribe(f"{uid}/r/#", qos=1)
    got = sub.wait_messages(1, timeout=5)
    assert [(m.topic, m.payload, m.retain) for m in got] == [(f"{uid}/r/a", b"from n1", True)]
    # A later retained publish on n2 replaces it everywhere; the live subscriber gets it once.
    pub2 = client_factory(n2.broker, "pub2")
    pub2.publish(f"{uid}/r/a", "from n2", qos=1, retain=True)
    wait_retained(three, f"{uid}/r/a", b"from n2")
    assert [m.payload for m in sub.wait_messages(2, timeout=5)] == [b"from n1", b"from n2"]
    # A retained delete (empty payload) on n2 clears it on every node.
    pub2.publish(f"{uid}/r/a", b"", qos=1, retain=True)
    wait_retained(three, f"{uid}/r/a", None)
    late = client_factory(n1.broker, "late")
    late.subscribe(f"{uid}/r/#", qos=1)
    pub1.publish(f"{uid}/r/marker", "marker", qos=1)  # live, after the subscription's retained messages
    late.wait_messages(1, timeout=5, topic=f"{uid}/r/marker")
    assert [m.topic for m in late.received()] == [f"{uid}/r/marker"], "a deleted retained message is gone everywhere"
    # The API's delete is replicated too.
    pub1.publish(f"{uid}/r/b", "api", qos=1, retain=True)
    wait_retained(three, f"{uid}/r/b", b"api")
    status, _ = n3.api("DELETE", f"/retained/{uid}/r/b")
    assert status in (200, 204)
    wait_retained(three, f"{uid}/r/b", None)
    # $SYS topics describe one node: never replicated.
    topics = [r["topic"] for r in n2.api("GET", "/retained?limit=10000")[1]["data"]]
    assert [t for t in topics if t.startswith("$SYS/") and (n1.name in t or n3.name in t)] == []


def test_a_node_joining_later_gets_the_retained_set_and_a_returning_one_catches_up(
        broker_factory, tmp_path, client_factory, uid):
    n1 = Node(broker_factory, tmp_path, "n1")
    n2 = Node(broker_factory, tmp_path, "n2")
    join(n2, n1)
    wait_mesh([n1, n2])
    c1, c2 = client_factory(n1.broker, "c1"), client_factory(n2.broker, "c2")
    c1.publish(f"{uid}/a", "a1", qos=1, retain=True)
    c2.publish(f"{uid}/b", "b2", qos=1, retain=True)
    c1.publish(f"{uid}/gone", "soon deleted", qos=1, retain=True)
    c2.publish(f"{uid}/gone", b"", qos=1, retain=True)
    wait_retained([n1, n2], f"{uid}/b", b"b2")
    wait_retained([n1, n2], f"{uid}/gone", None)
    # n3 joins after all that: the snapshot brings the retained set.
    n3 = Node(broker_factory, tmp_path, "n3")
    join(n3, n1)
    wait_mesh([n1, n2, n3])
    wait_retained([n3], f"{uid}/a", b"a1")
    wait_retained([n3], f"{uid}/b", b"b2")
    sub = client_factory(n3.broker, "sub")
    sub.subscribe(f"{uid}/#", qos=1)
    client_factory(n3.broker, "c3").publish(f"{uid}/marker", "live", qos=1)  # after the retained ones
    sub.wait_messages(1, timeout=5, topic=f"{uid}/marker")
    assert sorted((m.topic, m.payload) for m in sub.received() if m.topic != f"{uid}/marker") == [
        (f"{uid}/a", b"a1"), (f"{uid}/b", b"b2")]
    # n3 is cut off (frozen until declared down); meanwhile a is deleted and c retained.
    n3.broker.signal(signal.SIGSTOP)
    try:
        wait_for(lambda: n3.name not in n1.up_members() and n3.name not in n2.up_members(),
                 timeout=DETECTION_BOUND + 2, message="n3 declared down")
        c2.publish(f"{uid}/a", b"", qos=1, retain=True)
        c1.publish(f"{uid}/c", "c1", qos=1, retain=True)
    finally:
        n3.broker.proc.send_signal(signal.SIGCONT)
    wait_mesh([n1, n2, n3], timeout=10)
    # n3 catches up, and its stale copy of a does not come back anywhere (the delete is newer).
    wait_retained([n1, n2, n3], f"{uid}/c", b"c1")
    wait_retained([n1, n2, n3], f"{uid}/a", None)
    # A retained message from n3 now reaches n1 and n2 after anything n3 sent them while catching up.
    client_factory(n3.broker, "c3-after").publish(f"{uid}/marker", "after", qos=1, retain=True)
    wait_retained([n1, n2, n3], f"{uid}/marker", b"after")
    assert [retained_on(n, f"{uid}/a") for n in (n1, n2, n3)] == [None, None, None]


def test_a_shared_group_across_nodes_gets_each_message_once(three, client_factory, uid):
    n1, n2, n3 = three
    topic, route, marker = f"{uid}/jobs", f"$share/g/{uid}/jobs", f"{uid}-marker"
    members = [client_factory(n.broker, f"member-{n.name[:2]}") for n in (n2, n3)]
    for member in members:
        member.subscribe(route, qos=1)
    plain = client_factory(n3.broker, "plain")
    plain.subscribe(topic, qos=1)
    # Every receiver also subscribes to a marker topic: pub's marker reaches each after any duplicate
    # of what pub published before it (same publisher, same forwards).
    for receiver in members + [plain]:
        receiver.subscribe(marker, qos=1)
    wait_routes([n1], route, [n2.name, n3.name])
    wait_routes([n1], marker, [n2.name, n3.name])
    wait_for(lambda: n1.routes().get(topic) == [n3.name], timeout=5, message="plain route replicated")
    pub = client_factory(n1.broker, "pub")
    for i in range(100):
        pub.publish(topic, str(i), qos=1)
    wait_for(lambda: sum(len(m.received(topic)) for m in members) >= 100, timeout=10,
             message=lambda: f"100 messages across the group: {[len(m.received(topic)) for m in members]}")
    plain.wait_messages(100, timeout=10, topic=topic)
    pub.publish(marker, "marker-1", qos=1)
    for receiver in members + [plain]:
        receiver.wait_messages(1, timeout=5, topic=marker)
    got = [int(p) for m in members for p in m.payloads(topic)]
    assert sorted(got) == list(range(100)), "each message exactly once across the group"
    counts = [len(m.received(topic)) for m in members]
    assert all(c > 0 for c in counts), f"both members get some: {counts}"
    assert sorted(int(p) for p in plain.payloads(topic)) == list(range(100)), "a plain subscriber still gets every one"
    assert all(m.qos == 1 for member in members for m in member.received(topic))
    # The group's last member on n3 leaves: its route goes, and n2's member gets everything.
    members[1].unsubscribe(route)
    wait_routes([n1, n2], route, [n2.name])
    for member in members:
        member.clear()
    for i in range(10):
        pub.publish(topic, str(i), qos=1)
    members[0].wait_messages(10, timeout=5, topic=topic)
    pub.publish(marker, "marker-2", qos=1)
    for member in members:
        member.wait_messages(1, timeout=5, topic=marker)
    assert members[1].received(topic) == [] and len(members[0].received(topic)) == 10


def test_a_shared_group_with_a_member_on_the_publishing_node(three, client_factory, uid):
    n1, n2, _ = three
    topic, route, marker = f"{uid}/work/x", f"$share/w/{uid}/work/+", f"{uid}-marker"
    local, remote = client_factory(n1.broker, "local"), client_factory(n2.broker, "remote")
    local2 = client_factory(n1.broker, "local2")
    for member in (local, local2, remote):
        member.subscribe(route, qos=1)
        member.subscribe(marker, qos=1)  # pub's marker comes after any duplicate of what pub sent before it
    wait_routes([n1, n2], route, [n1.name, n2.name])
    wait_routes([n1], marker, [n1.name, n2.name])
    pub = client_factory(n1.broker, "pub")
    for i in range(60):
        pub.publish(topic, str(i), qos=1)
    wait_for(lambda: sum(len(m.received(topic)) for m in (local, local2, remote)) >= 60, timeout=10,
             message="60 messages across the group")
    pub.publish(marker, "marker", qos=1)
    for member in (local, local2, remote):
        member.wait_messages(1, timeout=5, topic=marker)
    got = sorted(int(p) for m in (local, local2, remote) for p in m.payloads(topic))
    assert got == list(range(60)), "each message exactly once"
    counts = [len(m.received(topic)) for m in (local, local2, remote)]
    assert all(c > 0 for c in counts), f"every member, on either node, gets some: {counts}"
