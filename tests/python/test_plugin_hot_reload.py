"""Hot reload under load with the shipped plugins: auth-password-file (a file written by Debian's
mosquitto_passwd) and acl-file (a Mosquitto acl_file) are reloaded 20 times through `starling ctl
plugins reload` while paho publishers and a subscriber run without pause.

What must hold: no connected client is dropped, every authorized QoS 1 message arrives exactly once
and in order, no message the ACL forbids is ever delivered, and connections made during the reloads
are decided by the plugins (good password in, bad password out) - never waved through by a gap."""

from __future__ import annotations

import re
import subprocess
import threading
from types import SimpleNamespace

import pytest

import mqttraw
from conftest import Client, starling_binary, wait_for
from test_plugins import build_plugin, nodes  # noqa: F401  (nodes is a fixture)

pytestmark = pytest.mark.starling_only  # Starling's plugin interface: nothing to compare in Mosquitto

ACL = """\
user alice
topic write data/#

user bob
topic read data/#
topic read secret/#
"""

RELOADS = 20
PUBLISHERS = 2


def ctl(api_port: int, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(starling_binary()), "ctl", "--api", f"127.0.0.1:{api_port}", *args],
                          capture_output=True, text=True, timeout=30)


def user_client(broker, client_id: str, user: str, password: str) -> Client:
    c = Client(broker, client_id, protocol=5)
    c.c.username_pw_set(user, password)
    c.connect()
    return c


class Publisher(threading.Thread):
    """Publishes data/<id> with a running sequence number (QoS 1) and, every tenth message, a
    message to secret/<id> that the ACL forbids, until stopped; then one more data/<id>, the marker.
    The broker's answers pace it: each forbidden message's PUBACK before the next ten."""

    def __init__(self, client: Client, name: str):
        super().__init__(daemon=True)
        self.client, self.name = client, name
        self.sent = 0
        self.secret_mids: list[int] = []
        self.stopping = threading.Event()

    def run(self):
        while not self.stopping.is_set():
            self.sent += 1
            self.client.publish(f"data/{self.name}", str(self.sent), qos=1, wait=False)
            if self.sent % 10 == 0:
                info = self.client.publish(f"secret/{self.name}", "forbidden", qos=1, wait=False)
                self.secret_mids.append(info.mid)
                wait_for(lambda: info.mid in self.client.pubacks or self.client.disconnected, timeout=10,
                         message="the forbidden message's PUBACK")
        # Sent after everything else: once it arrives, anything doubled or forbidden would have.
        self.sent += 1
        self.client.publish(f"data/{self.name}", str(self.sent), qos=1)


def test_twenty_reloads_of_auth_and_acl_under_load(tmp_path, nodes):  # noqa: F811
    passwords = tmp_path / "passwd"
    subprocess.run(["mosquitto_passwd", "-c", "-b", str(passwords), "alice", "secret"], check=True)
    subprocess.run(["mosquitto_passwd", "-b", str(passwords), "bob", "b0b"], check=True)
    acl = tmp_path / "acl"
    acl.write_text(ACL)
    auth_so = build_plugin("plugins/auth-password-file/auth_password_file.c", tmp_path / "auth-password-file.so")
    acl_so = build_plugin("plugins/acl-file/acl_file.c", tmp_path / "acl-file.so")
    config = tmp_path / "starling.toml"
    config.write_text(
        '[mqtt]\nallow_anonymous = false\n\n'
        f'[[plugins]]\nname = "auth"\npath = "{auth_so}"\noptions = {{ password_file = "{passwords}" }}\n\n'
        f'[[plugins]]\nname = "acl"\npath = "{acl_so}"\noptions = {{ acl_file = "{acl}" }}\n')
    node = nodes("--config", str(config))
    broker = SimpleNamespace(host="127.0.0.1", port=node.port())
    api_port = int(wait_for(lambda: re.search(r"api listening on 127\.0\.0\.1:(\d+)", node.log), timeout=10,
                            message="the API's port").group(1))

    subscriber = user_client(broker, "py-bob", "bob", "b0b")
    assert subscriber.subscribe([("data/#", 1), ("secret/#", 1)]) == [1, 1]
    publishers = [Publisher(user_client(broker, f"py-alice-{i}", "alice", "secret"), f"p{i}")
                  for i in range(PUBLISHERS)]
    for p in publishers:
        p.start()

    verdicts: list[tuple[str, int]] = []
    for n in range(RELOADS):
        done = ctl(api_port, "plugins", "reload", "auth" if n % 2 == 0 else "acl")
        assert done.returncode == 0, f"reload {n + 1}: {done.stdout}{done.stderr}"
        # A connection decided while the plugins change hands: the plugin, not a gap, decides.
        user, password = ("alice", b"secret") if n % 2 == 0 else ("alice", b"wrong")
        raw = mqttraw.RawClient("127.0.0.1", broker.port, version=mqttraw.V5)
        try:
            verdicts.append((password.decode(), raw.connect(f"py-probe-{n}", username=user, password=password).rc))
        finally:
            raw.close()

    for p in publishers:
        p.stopping.set()
    for p in publishers:
        p.join(10)

    expected = {f"data/{p.name}": p.sent for p in publishers}
    wait_for(lambda: all(str(count).encode() in subscriber.payloads(topic) for topic, count in expected.items()),
             timeout=30, message=lambda: f"the markers {expected} at the subscriber")
    for topic, count in expected.items():
        got = [int(b) for b in subscriber.payloads(topic)]
        assert got == list(range(1, count + 1)), f"{topic}: lost, doubled or reordered"
    assert subscriber.received() and not [m for m in subscriber.received() if m.topic.startswith("secret/")], \
        "a message the ACL forbids was delivered"
    for p in publishers:
        wait_for(lambda: all(mid in p.client.pubacks for mid in p.secret_mids), timeout=10,
                 message="PUBACKs of the forbidden messages")
        assert {p.client.puback_code(mid) for mid in p.secret_mids} == {0x87}, "a forbidden publish was accepted"
    for c in [subscriber] + [p.client for p in publishers]:
        assert c.disconnected is None, f"{c.client_id} was dropped: {c.disconnected}"
    assert verdicts == [("secret", 0) if i % 2 == 0 else ("wrong", 0x86) for i in range(RELOADS)], verdicts
    assert sum(p.sent for p in publishers) > 100, "the load ran"
    assert node.log.count("reloaded plugin auth") == RELOADS // 2
    assert node.log.count("reloaded plugin acl") == RELOADS // 2
