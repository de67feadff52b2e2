#!/usr/bin/env python3
"""How long a persistent session takes to follow its client to another node, against resuming it on
the same node, in one interleaved run: two Starling nodes joined into a cluster; a client subscribes
(QoS 1) on n1 and goes away; a publisher on n1 queues QUEUED messages for it; the client then comes
back with clean start = 0 on n1 (same) or on n2 (cross). Measured: CONNECT to CONNACK, and CONNECT
to the last queued message received (paho-mqtt, so the receiving rate is the client's).

    bench/session-move.py STARLING_BINARY [RUNS] [QUEUED]

Prints one RESULT line per placement and run, then the medians.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

HERE = Path(__file__).resolve().parent


def wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"session-move: timed out waiting for {what}")
        time.sleep(0.001)


class Client:
    def __init__(self, port: int, client_id: str, clean: bool):
        self.port, self.clean = port, clean
        self.c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        self.c.max_inflight_messages_set(1000)
        self.connack = None
        self.count = 0
        self.last_at = 0.0
        self.lock = threading.Lock()
        self.c.on_connect = lambda c, u, f, rc, p: setattr(self, "connack", (time.monotonic(), f.session_present))
        self.c.on_message = self._message

    def _message(self, c, u, msg):
        with self.lock:
            self.count += 1
            self.last_at = time.monotonic()

    def connect(self) -> float:
        properties = Properties(PacketTypes.CONNECT)
        properties.SessionExpiryInterval = 300
        started = time.monotonic()
        self.c.connect("127.0.0.1", self.port, clean_start=self.clean, properties=properties)
        self.c.loop_start()
        wait(lambda: self.connack, 10, "CONNACK")
        return started

    def close(self):
        self.c.disconnect()
        self.c.loop_stop()


def main():
    binary = Path(sys.argv[1]).resolve()
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    queued = int(sys.argv[3]) if len(sys.argv) > 3 else 10_000
    work = Path(tempfile.mkdtemp(prefix="starling-move."))
    nodes = []
    try:
        for i in (1, 2):
            (work / f"n{i}").mkdir()
            config = HERE / "starling-bench.toml"  # queues up to 1,000,000 messages
            nodes.append(subprocess.Popen(
                [str(binary), "start", "--config", str(config), "--name", f"m{i}@127.0.0.1", "--cookie", "bench",
                 "--cluster-port", f"4396{i}", "--port", f"1886{i}", "--api-port", f"1826{i}"],
                cwd=work / f"n{i}", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        time.sleep(2)
        subprocess.run([str(binary), "ctl", "--api", "127.0.0.1:18262", "cluster", "join", "m1@127.0.0.1:43961",
                        "--timeout", "10"], check=True, capture_output=True)
        results: dict[str, list[tuple[float, float]]] = {"same": [], "cross": []}
        publisher = Client(18861, "move-pub", clean=True)
        publisher.connect()
        for run in range(1, runs + 1):
            for where in (("same", "cross") if run % 2 else ("cross", "same")):
                cid = f"mover-{run}-{where}"
                first = Client(18861, cid, clean=False)
                first.connect()
                first.c.subscribe("move/bench", 1)
                time.sleep(0.2)
                first.close()
                time.sleep(0.2)
                for i in range(queued):
                    publisher.c.publish("move/bench", b"x" * 64, qos=1)
                wait(lambda: len(publisher.c._out_messages) == 0, 60, "the publisher's acknowledgements")
                back = Client(18861 if where == "same" else 18862, cid, clean=False)
                started = back.connect()
                assert back.connack[1], "the session is present"
                wait(lambda: back.count >= queued, 120, f"{queued} queued messages")
                connack_ms = (back.connack[0] - started) * 1000
                all_ms = (back.last_at - started) * 1000
                results[where].append((connack_ms, all_ms))
                print(f"RESULT label={where} run={run} queued={queued} connack_ms={connack_ms:.1f} "
                      f"all_received_ms={all_ms:.1f}", flush=True)
                back.close()
        for where, values in results.items():
            print(f"{where}: CONNACK median {statistics.median(v[0] for v in values):.1f} ms, "
                  f"all {queued} received median {statistics.median(v[1] for v in values):.1f} ms (n={len(values)})")
        publisher.close()
    finally:
        for node in nodes:
            node.terminate()
        for node in nodes:
            node.wait(10)


if __name__ == "__main__":
    main()
