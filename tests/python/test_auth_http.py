"""plugins/auth-http through the real binary: a local HTTP server (http.server on 127.0.0.1:0) decides
connect, publish and subscribe for paho clients; a slow server is answered by the plugin's timeout while
other clients carry on; 20 reloads through the HTTP API leave the broker with no more threads and drop
no client. The plugin is built here with plugins/Makefile's swiftc line."""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import pytest

import mqttraw
from conftest import REPO, Client, wait_for
from test_plugins import nodes  # noqa: F401  (a fixture)

pytestmark = pytest.mark.starling_only  # Starling's plugin interface: nothing to compare in Mosquitto


@pytest.fixture(scope="module")
def auth_http(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("auth-http") / "auth-http.so"
    sources = sorted(str(p) for p in (REPO / "plugins" / "auth-http").glob("*.swift"))
    subprocess.run(["swiftc", "-emit-library", "-parse-as-library", "-swift-version", "6", "-module-name", "AuthHTTP",
                    "-Iinclude", "-o", str(out), *sources], cwd=REPO, check=True, capture_output=True, text=True,
                   timeout=600)
    return out


class Decider:
    """A local HTTP server: records each JSON question and answers what `decide(question)` says,
    as (result, delay_seconds)."""

    def __init__(self, decide):
        self.decide = decide
        self.questions: list[dict] = []
        self.lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                question = json.loads(self.rfile.read(int(self.headers["Content-Length"])) or b"{}")
                question["_path"] = self.path
                with owner.lock:
                    owner.questions.append(question)
                result, delay = owner.decide(question)
                time.sleep(delay)  # real time: a slow server, as decide() says
                body = json.dumps({"result": result}).encode()
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the plugin gave up waiting

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def asked(self, path: str) -> list[dict]:
        with self.lock:
            return [q for q in self.questions if q["_path"] == path]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def decider():
    made: list[Decider] = []

    def make(decide) -> Decider:
        d = Decider(decide)
        made.append(d)
        return d

    yield make
    for d in made:
        d.close()


def start(tmp_path, nodes, plugin: Path, options: dict, extra: str = ""):  # noqa: F811
    config = tmp_path / "auth-http.toml"
    inline = ", ".join(f'{json.dumps(k)} = {json.dumps(v)}' for k, v in options.items())
    config.write_text(f'{extra}\n[[plugins]]\npath = "{plugin}"\nname = "auth-http"\noptions = {{ {inline} }}\n')
    node = nodes("--config", str(config))
    broker = SimpleNamespace(host="127.0.0.1", port=node.port())
    node.wait_log("asking ")
    return node, broker


def client(broker, cid, username=None, password=None, protocol=5, expect_success=True):
    c = Client(broker, cid, protocol=protocol)
    if username is not None:
        c.c.username_pw_set(username, password)
    rc, _, _ = c.connect(expect_success=expect_success)
    return c, rc


def test_credentials_publish_and_subscribe(tmp_path, nodes, auth_http, decider):  # noqa: F811
    def decide(q):
        if q["_path"] == "/auth":
            return ("allow" if q.get("password") == "right" else "deny"), 0
        return ("allow" if q["topic"].startswith("open/") or q["topic"] == "#" else "deny"), 0

    server = decider(decide)
    node, broker = start(tmp_path, nodes, auth_http, {"url": f"{server.url}/auth", "acl_url": f"{server.url}/acl"})
    ok, rc = client(broker, "py-alice", "alice", "right")
    assert rc == 0
    _, rc5 = client(broker, "py-wrong5", "alice", "wrong", expect_success=False)
    assert rc5 == 0x86
    old = mqttraw.RawClient(broker.host, broker.port, version=mqttraw.V311)
    assert old.connect("py-wrong3", username="alice", password=b"wrong").rc == 4  # 3.1.1: bad user name or password
    old.close()
    question = server.asked("/auth")[0]
    assert (question["clientid"], question["username"], question["password"], question["peerhost"]) == \
        ("py-alice", "alice", "right", "127.0.0.1")

    assert ok.subscribe([("#", 1), ("secret/#", 1)]) == [1, 0x87]
    info = ok.publish("secret/1", b"no", qos=1)
    assert ok.puback_code(info.mid) == 0x87
    ok.publish("open/1", b"yes", qos=1)
    assert [m.payload for m in ok.wait_messages(1)] == [b"yes"]
    ok.publish("open/1", b"again", qos=1)
    ok.wait_messages(2)
    assert [q["topic"] for q in server.asked("/acl") if q["action"] == "publish"] == ["secret/1", "open/1"], \
        "the repeated publish was answered by the cache"
    assert ok.payloads() == [b"yes", b"again"]


def test_timeout_denies_while_other_clients_work(tmp_path, nodes, auth_http, decider):  # noqa: F811
    server = decider(lambda q: ("allow", 4.0 if q.get("clientid", "").startswith("py-slow") else 0))
    node, broker = start(tmp_path, nodes, auth_http, {"url": f"{server.url}/auth", "timeout": "1500"})
    began = time.monotonic()
    slow = {}
    t = threading.Thread(target=lambda: slow.update(rc=client(broker, "py-slow", "s", "s", expect_success=False)[1]))
    t.start()
    wait_for(lambda: server.asked("/auth"), 5, message="the slow question reaches the server")
    fast, rc = client(broker, "py-fast", "f", "f")
    assert fast.subscribe("fast/#", 1) == [1]
    fast.publish("fast/1", b"meanwhile", qos=1)
    fast.wait_messages(1)
    fast_done = time.monotonic() - began
    t.join(10)
    slow_done = time.monotonic() - began
    assert slow["rc"] == 0x87
    assert fast_done < slow_done and 1.4 < slow_done < 3.9, (fast_done, slow_done)
    node.wait_log("authenticate py-slow: POST")


def broker_threads(node) -> int:
    return len(list(Path(f"/proc/{node.proc.pid}/task").iterdir()))


def test_twenty_reloads_keep_clients_and_threads(tmp_path, nodes, auth_http, decider):  # noqa: F811
    server = decider(lambda q: ("deny" if q.get("topic", "").startswith("forbidden/") else "allow", 0))
    node, broker = start(tmp_path, nodes, auth_http,
                         {"url": f"{server.url}/auth", "acl_url": f"{server.url}/acl", "cache_ttl": "0"})
    api_port = int(wait_for(lambda: re.search(r"api listening on 127\.0\.0\.1:(\d+)", node.log), 10).group(1))
    sub, _ = client(broker, "py-steady-sub", "s", "s")
    assert sub.subscribe("#", 1) == [1]
    pub, _ = client(broker, "py-steady-pub", "p", "p")
    pub.publish("load/0", b"0", qos=1)
    sub.wait_messages(1)
    time.sleep(1)  # real time: the worker threads the first HTTP questions started settle (no event tells)
    before = broker_threads(node)
    for i in range(1, 21):
        req = urllib.request.Request(f"http://127.0.0.1:{api_port}/api/v1/plugins/auth-http/reload", data=b"",
                                     method="POST")
        with urllib.request.urlopen(req, timeout=20) as resp:
            assert resp.status == 200
        pub.publish(f"load/{i}", str(i).encode(), qos=1)
        info = pub.publish(f"forbidden/{i}", b"no", qos=1)
        assert pub.puback_code(info.mid) == 0x87
    msgs = sub.wait_messages(21)
    assert [m.payload for m in msgs] == [str(i).encode() for i in range(21)]
    assert sub.c.is_connected() and pub.c.is_connected() and not sub.disconnected and not pub.disconnected
    after = wait_for(lambda: (n := broker_threads(node)) <= before and n or None, 15,
                     message=lambda: f"threads back to {before} (now {broker_threads(node)})")
    assert after <= before
    print(f"broker threads before 20 reloads: {before}, after: {after}")
