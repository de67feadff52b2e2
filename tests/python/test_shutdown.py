"""Graceful shutdown on SIGTERM."""

import signal
import time

import pytest

import mqttraw as m
from conftest import raw_connect_ok


# Mosquitto 2.0.11 closes connections on SIGTERM without sending DISCONNECT 0x8B.
@pytest.mark.starling_only
def test_sigterm_disconnects_clients_and_exits_0(broker, raw_factory, client_factory, uid):
    v5 = [raw_factory(broker) for _ in range(2)]
    for i, r in enumerate(v5):
        raw_connect_ok(r, f"{uid}-v5-{i}")
    v311 = raw_factory(broker, m.V311)
    raw_connect_ok(v311, f"{uid}-v311", version=m.V311)
    paho5 = client_factory(broker, "paho5")
    t0 = time.monotonic()
    broker.signal(signal.SIGTERM)
    for r in v5:
        got = r.read_until_closed(5)
        assert [(p.type, p.rc) for p in got] == [(m.DISCONNECT, 0x8B)], got
    assert v311.read_until_closed(5) == []
    rc, _ = paho5.wait_disconnected(5)
    assert rc.value == 0x8B, rc
    status = broker.wait(5 - min(4.0, time.monotonic() - t0))
    assert status == 0, f"exit status {status} (None: still running {time.monotonic() - t0:.1f}s after SIGTERM)"


# Mosquitto 2.0.11 sometimes ignores a SIGTERM that arrives just after its "running" line.
@pytest.mark.starling_only
def test_sigterm_right_after_listening_exits_0(broker_factory):
    """A supervisor may stop the broker as soon as it says it is listening: by then SIGTERM must
    already lead to a clean exit (not be ignored, not kill the process by default action)."""
    for _ in range(3):
        b = broker_factory()
        t0 = time.monotonic()
        b.signal(signal.SIGTERM)
        status = b.wait(5)
        assert status == 0, f"exit status {status} (None: still running 5 s after SIGTERM; -15: killed by it)"
        assert time.monotonic() - t0 < 5


def test_sigterm_closes_every_connection_and_exits_0(broker, raw_factory, uid):
    idle = [raw_factory(broker) for _ in range(3)]  # TCP only, no CONNECT yet
    v5 = raw_factory(broker)
    raw_connect_ok(v5, f"{uid}-v5")
    v311 = raw_factory(broker, m.V311)
    raw_connect_ok(v311, f"{uid}-v311", version=m.V311)
    broker.signal(signal.SIGTERM)
    assert broker.wait(5) == 0
    got = v5.read_until_closed(2)
    assert all(p.type == m.DISCONNECT and p.rc == 0x8B for p in got), got
    assert v311.read_until_closed(2) == []
    for x in idle:
        x.read_until_closed(2)
