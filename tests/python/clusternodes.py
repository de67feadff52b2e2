"""Cluster test support: real `starling` nodes on 127.0.0.1 (each with its own data directory, cluster
port and API port), joined with `starling ctl cluster join`, and bounded waits on what they report.

Timings use heartbeat_interval = 200ms and down_after = 1s, so a dead node must be detected (and its
routes purged everywhere) within DETECTION_BOUND seconds.
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request

import pytest

from conftest import RawToml, free_port, starling_binary, wait_for

COOKIE = "test-cookie"
HEARTBEAT, DOWN_AFTER = 0.2, 1.0
DETECTION_BOUND = DOWN_AFTER + HEARTBEAT + 1.0


class Node:
    """A cluster node: its broker process, its name and cluster port (kept across restarts)."""

    def __init__(self, factory, tmp_path, short: str, cookie: str = COOKIE, seeds: list[str] | None = None,
                 name: str | None = None, event_loops: int | None = None, ssl_options: dict | None = None):
        self.factory = factory
        self.name = name or f"{short}@127.0.0.1"
        self.cluster_port = free_port()
        self.config = {
            "node": {"name": self.name, "data_dir": str(tmp_path / f"data-{short}")},
            "cluster": {"cookie": cookie, "port": self.cluster_port, "heartbeat_interval": "200ms",
                        "down_after": "1s"},
        }
        if event_loops is not None:
            self.config["node"]["event_loops"] = event_loops
        if ssl_options:
            self.config["cluster.ssl_options"] = ssl_options
        if seeds:
            self.config["cluster"]["seeds"] = RawToml("[" + ", ".join(f'"{s}"' for s in seeds) + "]")
        self.broker = factory(self.config)

    @classmethod
    def of(cls, broker) -> "Node":
        """The API and ctl helpers for a broker started some other way."""
        node = cls.__new__(cls)
        node.broker = broker
        return node

    @property
    def address(self) -> str:
        return f"{self.name}:{self.cluster_port}"

    def restart(self):
        self.broker = self.factory(self.config)

    def api(self, method: str, path: str, body=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"http://127.0.0.1:{self.broker.api_port}/api/v1{path}", data=data,
                                         method=method, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=15) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")

    def ctl(self, *args, timeout: float = 30) -> subprocess.CompletedProcess:
        return subprocess.run([str(starling_binary()), "ctl", "--api", f"127.0.0.1:{self.broker.api_port}", *args],
                              capture_output=True, text=True, timeout=timeout)

    def status(self) -> dict:
        return self.api("GET", "/cluster")[1]

    def up_members(self) -> set[str]:
        return {m["name"] for m in self.status()["members"] if m["state"] == "up"}

    def routes(self) -> dict[str, list[str]]:
        table, page = {}, 1
        while True:
            status, body = self.api("GET", f"/routes?limit=10000&page={page}")
            assert status == 200, body
            table.update({r["topic"]: r["nodes"] for r in body["data"]})
            if page * 10000 >= body["meta"]["count"]:
                return table
            page += 1

    def metrics(self) -> dict[str, int]:
        return self.api("GET", "/metrics")[1]


def join(node: Node, other: Node):
    done = node.ctl("cluster", "join", other.address, "--timeout", "10")
    assert done.returncode == 0, f"join failed: {done.stdout} {done.stderr}"


def wait_mesh(nodes: list[Node], timeout: float = 10.0):
    names = {n.name for n in nodes}
    wait_for(lambda: all(n.up_members() == names - {n.name} for n in nodes), timeout=timeout, interval=0.05,
             message=lambda: "full mesh: " + "; ".join(f"{n.name}: {sorted(n.up_members())}" for n in nodes))


def wait_routes(nodes: list[Node], topic: str, holders: list[str], timeout: float = 5.0):
    """Until every node in `nodes` routes `topic` to exactly the nodes named `holders` (in any order)."""
    want = sorted(holders)
    wait_for(lambda: all(sorted(n.routes().get(topic, [])) == want for n in nodes), timeout=timeout, interval=0.05,
             message=lambda: f"{topic} -> {want} on every node: " + ", ".join(
                 f"{n.name}={n.routes().get(topic)}" for n in nodes))


def subscribe_and_replicate(client_factory, owner: Node, others: list[Node], topic: str, qos: int = 1):
    """A subscriber on `owner`; returns once every node in `others` routes `topic` to it."""
    sub = client_factory(owner.broker, "sub")
    sub.subscribe(topic, qos=qos)
    wait_routes(others, topic, [owner.name])
    return sub


def wait_purged(nodes: list[Node], topic: str, timeout: float) -> float:
    """Seconds until no node in `nodes` routes `topic` any more (at most `timeout`)."""
    started = time.monotonic()
    wait_for(lambda: all(topic not in n.routes() for n in nodes), timeout=timeout, interval=0.05,
             message=f"the route {topic} purged")
    return time.monotonic() - started


@pytest.fixture
def three(broker_factory, tmp_path) -> list[Node]:
    nodes = [Node(broker_factory, tmp_path, f"n{i}") for i in (1, 2, 3)]
    join(nodes[1], nodes[0])
    join(nodes[2], nodes[0])  # n3 learns n2 through n1: full mesh
    wait_mesh(nodes)
    return nodes
