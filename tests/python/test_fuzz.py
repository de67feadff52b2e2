"""Mutated packets from many connections: the broker answers or closes each, and never stops serving.

A fixed seed keeps the run repeatable; every mutation is a valid packet with bytes flipped, dropped,
inserted or truncated, sent after a valid CONNECT (so the body decoders are reached) or instead of it.
"""
import random
import socket

import pytest

import mqttraw as m
from conftest import assert_broker_serves

SEED = 20261125
ROUNDS = 2000


def valid_packets(version):
    return [
        m.publish("fuzz/a", b"payload", qos=1, pid=7, version=version),
        m.publish("fuzz/b", b"x" * 40, qos=2, pid=9, version=version,
                  **({"props": {m.USER_PROPERTY: [("k", "v")]}} if version == m.V5 else {})),
        m.subscribe(3, [("fuzz/#", 1), ("$share/g/fuzz/+", 2)], version=version),
        m.unsubscribe(4, ["fuzz/#"], version=version),
        m.pubrel(9), m.puback(1), m.pingreq(), m.disconnect(version=version),
    ]


def mutate(rng, data):
    data = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        choice = rng.random()
        if choice < 0.4 and data:
            data[rng.randrange(len(data))] = rng.randrange(256)
        elif choice < 0.6 and len(data) > 1:
            del data[rng.randrange(len(data))]
        elif choice < 0.8:
            data.insert(rng.randrange(len(data) + 1), rng.randrange(256))
        else:
            data = data[: rng.randrange(len(data) + 1)]
    return bytes(data)


def send_and_drain(port, payload, connect_first, version):
    s = socket.create_connection(("127.0.0.1", port), timeout=2)
    try:
        if connect_first:
            s.sendall(m.connect("fuzz", version=version))
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)  # the broker sees the end of input and closes: no idle wait
        s.settimeout(2)
        try:
            while s.recv(4096):
                pass
        except (socket.timeout, ConnectionResetError):
            pass
    finally:
        s.close()


@pytest.mark.parametrize("version", [m.V311, m.V5])
def test_mutated_packets_never_stop_the_broker(broker, version):
    rng = random.Random(SEED + version)
    packets = valid_packets(version)
    connect = m.connect("fuzz-c", version=version)
    for i in range(ROUNDS):
        if i % 5 == 0:
            send_and_drain(broker.port, mutate(rng, connect), connect_first=False, version=version)
        else:
            burst = b"".join(mutate(rng, rng.choice(packets)) for _ in range(rng.randint(1, 3)))
            send_and_drain(broker.port, burst, connect_first=True, version=version)
        assert broker.proc.poll() is None, f"the broker exited during round {i}:\n{broker.tail()}"
    assert_broker_serves(broker, protocol=5 if version == m.V5 else 4)
