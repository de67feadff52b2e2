"""The cluster-wide client registry (issue 6): a client id is unique across the cluster. Connecting to
another node with a client id whose session lives elsewhere takes the session over: the old connection
is closed (5.0: DISCONNECT 0x8E), and with clean start = 0 the subscriptions and queued messages move to
the new node; with clean start = 1 they are discarded. Real `starling` processes, paho clients.
"""

from __future__ import annotations

import signal
import threading
import time

import pytest

from clusternodes import DETECTION_BOUND, Node, join, three, wait_mesh, wait_routes  # noqa: F401
from conftest import PacketTypes, props, wait_for

pytestmark = pytest.mark.starling_only


def persistent(protocol: int) -> dict:
    """connect() keyword arguments for a session that outlives the connection."""
    if protocol == 5:
        return {"properties": props(PacketTypes.CONNECT, SessionExpiryInterval=300)}
    return {}


def client_on(node: Node, client_id: str) -> dict | None:
    """The node's view of `client_id` (GET /clients/{id}), or None when it holds no such session."""
    status, body = node.api("GET", f"/clients/{client_id}")
    return body["client"] if status == 200 else None


def holders(nodes: list[Node], client_id: str) -> list[str]:
    return [n.name for n in nodes if client_on(n, client_id) is not None]


@pytest.mark.parametrize("protocol", [5, 4])
def test_a_session_moves_to_another_node_with_its_queued_messages(three, client_factory, uid, protocol):
    n1, n2, n3 = three
    cid, topic = f"{uid}-mover", f"{uid}/queued"
    first = client_factory(n1.broker, client_id=cid, protocol=protocol, clean=False, **persistent(protocol))
    assert first.subscribe(topic, qos=1) == [1]
    first.disconnect()
    wait_routes([n2, n3], topic, [n1.name])
    # Published on n3 while the client is away: n1 queues them for the offline session.
    pub = client_factory(n3.broker, "pub")
    for i in range(100):
        pub.publish(topic, str(i), qos=1)
    wait_for(lambda: (client_on(n1, cid) or {}).get("queued") == 100, timeout=5,
             message=lambda: f"100 queued on n1: {client_on(n1, cid)}")

    moved = client_factory(n2.broker, client_id=cid, protocol=protocol, clean=False, **persistent(protocol))
    assert moved.session_present is True, "the session came along"
    got = moved.wait_messages(100, timeout=10)
    # The subscription moved too: the route is n2's now, on every node.
    wait_routes([n1, n3], topic, [n2.name])
    # A marker through n1, where the queue was: it reaches n2 after anything n1 sent for the session.
    client_factory(n1.broker, "marker").publish(topic, "marker", qos=1)
    wait_for(lambda: b"marker" in moved.payloads(), timeout=5, message="the marker through n1")
    assert [m.payload for m in moved.received()] == [str(i).encode() for i in range(100)] + [b"marker"], \
        "each queued message once, in order"
    assert all(m.qos == 1 for m in got)
    assert client_on(n1, cid) is None, "n1 no longer holds the session"
    assert holders(three, cid) == [n2.name]
    owned = [n.status()["owned_client_ids"] for n in three]
    assert sum(owned) == 3, f"one registry entry per session (the mover, the publisher, the marker): {owned}"
    pub.publish(topic, "after-the-move", qos=1)
    pub.publish(topic, "marker-2", qos=1)  # from the same publisher: a duplicate would come before it
    assert [m.payload for m in moved.wait_messages(103, timeout=5)[101:]] == [b"after-the-move", b"marker-2"]
    assert len(moved.received()) == 103


def test_a_session_moves_between_nodes_with_several_event_loops(broker_factory, tmp_path, client_factory, uid):
    """Messages matched on other loops just before the move go with the session, not astray."""
    n1, n2 = (Node(broker_factory, tmp_path, f"m{i}", event_loops=3) for i in (1, 2))
    join(n2, n1)
    wait_mesh([n1, n2])
    cid, topic = f"{uid}-loops", f"{uid}/loops"
    first = client_factory(n1.broker, client_id=cid, clean=False, **persistent(5))
    first.subscribe(topic, qos=1)
    first.disconnect()
    publishers = [client_factory(n1.broker, f"pub{i}") for i in range(3)]  # spread over n1's loops
    for i in range(90):
        publishers[i % 3].publish(topic, str(i), qos=1)
    wait_for(lambda: (client_on(n1, cid) or {}).get("queued") == 90, timeout=5, message="90 queued on n1")
    moved = client_factory(n2.broker, client_id=cid, clean=False, **persistent(5))
    assert moved.session_present is True
    moved.wait_messages(90, timeout=10)
    # A marker from each publisher (each on its loop of n1), now routed to n2: it arrives after
    # anything that loop sent astray before.
    wait_routes([n1], topic, [n2.name])
    for i, p in enumerate(publishers):
        p.publish(topic, f"marker-{i}", qos=1)
    wait_for(lambda: all(f"marker-{i}".encode() in moved.payloads() for i in range(3)), timeout=5,
             message=lambda: f"the three markers: {moved.payloads()[90:]}")
    queued = [int(m.payload) for m in moved.received() if not m.payload.startswith(b"marker")]
    assert sorted(queued) == list(range(90)), "each once"
    for p in publishers:
        assert [n for n in queued if n % 3 == publishers.index(p)] == \
            list(range(publishers.index(p), 90, 3)), "in order per publisher"
    assert holders([n1, n2], cid) == [n2.name]


def test_a_live_connection_is_taken_over_from_another_node_with_0x8E(three, client_factory, uid):
    n1, n2, n3 = three
    cid, topic = f"{uid}-live", f"{uid}/live"
    old = client_factory(n1.broker, client_id=cid, clean=False, **persistent(5))
    assert old.subscribe(topic, qos=1) == [1]
    wait_routes([n2, n3], topic, [n1.name])

    new = client_factory(n3.broker, client_id=cid, clean=False, **persistent(5))
    assert new.session_present is True
    reason, _ = old.wait_disconnected(timeout=5)
    assert reason.value == 0x8E, f"session taken over, got {reason}"
    assert holders(three, cid) == [n3.name]
    wait_routes([n1, n2], topic, [n3.name])
    client_factory(n2.broker, "pub").publish(topic, "to-the-new-node", qos=1)
    assert new.wait_messages(1, timeout=5)[0].payload == b"to-the-new-node"
    # old's connection was closed before that publish (and paho does not reconnect): what it received is final.
    assert old.received() == [], "nothing reached the connection that was taken over"


def test_clean_start_on_another_node_discards_the_session(three, client_factory, uid):
    n1, n2, n3 = three
    cid, topic = f"{uid}-clean", f"{uid}/discard"
    first = client_factory(n1.broker, client_id=cid, clean=False, **persistent(5))
    first.subscribe(topic, qos=1)
    first.disconnect()
    wait_routes([n2, n3], topic, [n1.name])
    client_factory(n3.broker, "pub").publish(topic, "stale", qos=1)
    wait_for(lambda: (client_on(n1, cid) or {}).get("queued") == 1, timeout=5, message="queued on n1")

    fresh = client_factory(n2.broker, client_id=cid, clean=True)
    assert fresh.session_present is False
    wait_for(lambda: client_on(n1, cid) is None, timeout=5, message="n1 discarded the session")
    wait_for(lambda: all(topic not in n.routes() for n in three), timeout=5, message="its route is gone everywhere")
    # A marker through n1, where the queue was: it reaches fresh after anything n1 sent it before.
    marker = f"{uid}/marker"
    fresh.subscribe(marker, qos=1)
    wait_routes([n1], marker, [n2.name])
    client_factory(n1.broker, "marker").publish(marker, "marker", qos=1)
    fresh.wait_messages(1, timeout=5, topic=marker)
    assert fresh.received() == fresh.received(marker), "the discarded queue is not delivered"
    assert holders(three, cid) == [n2.name]


def test_racing_connects_on_two_nodes_leave_exactly_one_winner(three, client_factory, uid):
    n1, n2, n3 = three
    for round_ in range(8):
        cid = f"{uid}-race{round_}"
        seed = client_factory(n1.broker, client_id=cid, clean=False, **persistent(5))
        seed.subscribe(f"{uid}/race/{round_}", qos=1)
        seed.disconnect()
        racers = [client_factory(node.broker, client_id=cid, clean=False, connect=False) for node in (n2, n3)]
        start = threading.Barrier(2)

        def connect(client):
            start.wait(timeout=5)
            client.connect(properties=persistent(5)["properties"], expect_success=False)

        threads = [threading.Thread(target=connect, args=(r,)) for r in racers]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=15)

        def settled():
            alive = [r for r in racers if r.disconnected is None and r.c.is_connected()]
            return alive if len(alive) == 1 else None

        winner = wait_for(settled, timeout=5, message=lambda: f"round {round_}: one connection left: "
                          f"{[(r.connack and r.connack[0].value, r.disconnected) for r in racers]}")[0]
        loser = racers[1 - racers.index(winner)]
        if loser.connack is not None and not loser.connack[0].is_failure:
            assert loser.disconnected[0].value == 0x8E, f"round {round_}: the loser was taken over"
        where = n2.name if winner is racers[0] else n3.name
        wait_for(lambda: holders(three, cid) == [where], timeout=5,
                 message=lambda: f"round {round_}: only {where} holds {cid}: {holders(three, cid)}")
        assert client_on(next(n for n in three if n.name == where), cid)["connected"] is True
        assert winner.session_present is True, "the winner has the seeded session"
        for r in racers:
            r.disconnect()


def test_a_killed_nodes_sessions_leave_the_registry(three, client_factory, uid):
    n1, n2, n3 = three
    cids = [f"{uid}-k{i}" for i in range(20)]  # enough ids that some are owned by each node
    for cid in cids:
        c = client_factory(n1.broker, client_id=cid, clean=False, **persistent(5))
        c.disconnect()
    n1.broker.signal(signal.SIGKILL)
    n1.broker.wait(5)
    wait_mesh([n2, n3], timeout=DETECTION_BOUND + 5)
    wait_for(lambda: all(m["state"] != "up" for n in (n2, n3) for m in n.status()["members"] if m["name"] == n1.name),
             timeout=DETECTION_BOUND + 2, message="n1 declared down")
    for cid in cids:
        started = time.monotonic()
        c = client_factory(n2.broker, client_id=cid, clean=False, **persistent(5))
        assert c.session_present is False, "the session died with its node"
        assert time.monotonic() - started < 2, "no wait for the dead node"
        c.disconnect()


def test_a_moved_session_survives_a_restart_of_its_new_node(three, client_factory, uid):
    """The store (on by default, in each node's data_dir) takes a session that moved in: after its
    new node restarts, the route is announced again, the client id is still that node's, and the
    messages queued there arrive."""
    n1, n2, n3 = three
    cid, topic = f"{uid}-mover", f"{uid}/queued"
    first = client_factory(n1.broker, client_id=cid, clean=False, **persistent(5))
    assert first.subscribe(topic, qos=1) == [1]
    first.disconnect()
    wait_routes([n2, n3], topic, [n1.name])
    moved = client_factory(n2.broker, client_id=cid, clean=False, **persistent(5))
    assert moved.session_present
    moved.disconnect()
    wait_routes([n1, n3], topic, [n2.name])
    pub = client_factory(n3.broker, "pub")
    for i in range(20):
        pub.publish(topic, str(i), qos=1)
    wait_for(lambda: (client_on(n2, cid) or {}).get("queued") == 20, timeout=5,
             message=lambda: f"20 queued on n2: {client_on(n2, cid)}")
    assert n2.broker.stop() == 0
    n2.restart()
    wait_mesh(three, timeout=10)
    assert "1 sessions with 20 messages restored" in n2.broker.log_text(), n2.broker.log_text()[-2000:]
    wait_routes([n1, n3], topic, [n2.name], timeout=10)
    assert holders(three, cid) == [n2.name]
    pub.publish(topic, "after the restart", qos=1)  # through n3, forwarded to n2 by the announced route
    back = client_factory(n1.broker, client_id=cid, clean=False, **persistent(5))  # taken over from n2
    assert back.session_present
    got = back.wait_messages(21, timeout=10)
    assert [m.payload for m in got] == [str(i).encode() for i in range(20)] + [b"after the restart"]
