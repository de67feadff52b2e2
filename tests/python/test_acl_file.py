"""plugins/acl-file through the real binary: a Mosquitto acl_file named in a [[plugins]] entry,
paho clients (anonymous and with a username), and a change of the file at run time."""

from __future__ import annotations

import getpass
import shutil
import socket
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest

from conftest import Client, free_port, wait_for
from test_plugins import build_plugin, nodes  # noqa: F401  (nodes is a fixture)

pytestmark = pytest.mark.starling_only  # Starling's plugin interface: nothing to compare in Mosquitto

ACL = """\
# anonymous clients
topic read public/#
topic write public/in/#

user alice
topic readwrite alice/#
topic deny alice/private/#

pattern write devices/%c/status
pattern write status-%c/up
"""


def start(tmp_path, nodes, acl_text: str):  # noqa: F811
    plugin = build_plugin("plugins/acl-file/acl_file.c", tmp_path / "acl-file.so")
    acl = tmp_path / "acl"
    acl.write_text(acl_text)
    config = tmp_path / "acl.toml"
    config.write_text(f'[authentication]\nno_match = "allow"\n\n[[plugins]]\npath = "{plugin}"\n'
                      f'options = {{ acl_file = "{acl}" }}\n')
    node = nodes("--config", str(config))
    broker = SimpleNamespace(host="127.0.0.1", port=node.port())
    node.wait_log(f"loaded 6 rules from {acl}" if acl_text == ACL else f"rules from {acl}")
    return node, broker, acl


def client(broker, client_id, username=None, protocol=5, bind_address="") -> Client:
    c = Client(broker, client_id, protocol=protocol)
    if username:
        c.c.username_pw_set(username, "any")
    c.connect(bind_address=bind_address)
    return c


def test_acl_file_publish_and_subscribe(tmp_path, nodes):  # noqa: F811
    node, broker, _ = start(tmp_path, nodes, ACL)
    anon = client(broker, "py-anon")
    assert anon.subscribe([("public/#", 1), ("alice/#", 1), ("#", 1)]) == [1, 0x87, 0x87]
    old = client(broker, "py-old", protocol=4)
    assert old.subscribe([("alice/x", 1), ("public/x", 0)]) == [0x80, 0]

    info = anon.publish("public/x", "read only", qos=1)
    assert anon.puback_code(info.mid) == 0x87
    info = anon.publish("public/in/1", "anon in", qos=1)
    assert anon.puback_code(info.mid) == 0

    alice = client(broker, "py-alice", username="alice")
    assert alice.subscribe([("alice/news/#", 1), ("alice/#", 1), ("public/#", 1)]) == [1, 0x87, 0x87]
    info = alice.publish("alice/private/x", "denied", qos=1)
    assert alice.puback_code(info.mid) == 0x87
    info = alice.publish("public/in/2", "anonymous only", qos=1)
    assert alice.puback_code(info.mid) == 0x87
    info = alice.publish("devices/py-alice/status", "up", qos=1)
    assert alice.puback_code(info.mid) == 0x10  # allowed; no subscriber
    info = alice.publish("devices/other/status", "up", qos=1)
    assert alice.puback_code(info.mid) == 0x87

    # Markers: alice's own comes back once the broker has handled everything alice sent before it;
    # anon's then arrives after anything routed to anon before it (denied messages included).
    alice.publish("alice/news/marker", "<marker>", qos=1)
    alice.wait_messages(1, topic="alice/news/marker")
    anon.publish("public/in/marker", "<marker>", qos=1)
    anon.wait_messages(1, topic="public/in/marker")
    assert [m.payload for m in anon.received()] == [b"anon in", b"<marker>"]
    for c in (anon, old, alice):
        c.c.disconnect()
        c.c.loop_stop()


def test_acl_file_reloads_and_keeps_rules_when_broken(tmp_path, nodes):  # noqa: F811
    node, broker, acl = start(tmp_path, nodes, "topic a/#\n")
    c = client(broker, "py-reload")
    assert c.puback_code(c.publish("a/1", "x", qos=1).mid) == 0x10
    assert c.puback_code(c.publish("b/1", "x", qos=1).mid) == 0x87

    def publish_b1() -> int:
        return c.puback_code(c.publish("b/1", "x", qos=1).mid)

    # The plugin looks at the file during decisions (once a second at most) and takes it once it is a
    # second old: publish until the change shows.
    acl.write_text("topic b/#\n")
    wait_for(lambda: publish_b1() == 0x10, timeout=10, interval=0.1, message="b/1 allowed by the new file")
    node.wait_log(f"reloaded 1 rules from {acl}")

    acl.write_text("topic a/#\nwhat is this\n")
    broken = f'acl_file {acl} line 2: unknown keyword "what" (topic, pattern or user); keeping the previous rules'

    def looked_at_broken_file() -> bool:
        assert publish_b1() == 0x10, "the rules in force decide, before and after the broken file is read"
        return broken in node.log
    wait_for(looked_at_broken_file, timeout=10, interval=0.1, message="the broken file looked at")
    assert publish_b1() == 0x10
    assert c.puback_code(c.publish("a/1", "x", qos=1).mid) == 0x87
    c.c.disconnect()
    c.c.loop_stop()


MOSQUITTO = Path("/usr/sbin/mosquitto")

# Publish checks (client id, username, topic) -> whether it is allowed, asked of both brokers.
CASES = [("c-anon", None, "public/x"), ("c-anon", None, "public/in/1"), ("c-alice", "alice", "alice/private/1"),
         ("c-alice", "alice", "alice/news/1"), ("c-alice", "alice", "public/in/2"),
         ("dev1", None, "devices/dev1/status"), ("dev1", None, "devices/dev2/status"),
         ("c-alice", "alice", "devices/c-alice/status"), ("dev1", None, "status-dev1/up"),
         ("dev1", None, "status-dev2/up"), ("a/b", None, "devices/a/b/status")]


def listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def publish_answers(broker) -> list[bool]:
    answers = []
    for client_id, username, topic in CASES:
        c = client(broker, client_id, username=username)
        answers.append(c.puback_code(c.publish(topic, "x", qos=1).mid) < 0x80)
        c.c.disconnect()
        c.c.loop_stop()
    return answers


@pytest.mark.skipif(not MOSQUITTO.exists() or not shutil.which("mosquitto_passwd"), reason="needs Mosquitto")
def test_same_file_same_answers_as_mosquitto(tmp_path, nodes):  # noqa: F811
    node, broker, acl = start(tmp_path, nodes, ACL)
    ours = publish_answers(broker)
    assert ours == [False, True, False, True, False, True, False, True, True, False, True]

    passwords = tmp_path / "passwords"
    subprocess.run(["mosquitto_passwd", "-c", "-b", str(passwords), "alice", "any"], check=True, capture_output=True)
    port = free_port()
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npassword_file {passwords}\n"
                    f"acl_file {acl}\nuser {getpass.getuser()}\n")
    proc = subprocess.Popen([str(MOSQUITTO), "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        wait_for(lambda: listening(port), timeout=10, message="mosquitto listening")
        assert publish_answers(SimpleNamespace(host="127.0.0.1", port=port)) == ours
    finally:
        proc.terminate()
        proc.wait(10)


ADDRESS_ACL = """\
topic read public/#

# our own extension: rules by the client's address, for every client connecting from there
address 127.0.0.2 10.0.0.0/8
topic write lab/#
topic read lab/out/#
topic deny lab/secret/#

user alice
topic readwrite alice/#
"""


def test_acl_file_address_blocks(tmp_path, nodes):  # noqa: F811
    """Rules by the client's address (plugin ABI 1.3 gives the authorize hooks the peer address):
    clients from 127.0.0.2 get the `address` block, anonymous or named; from 127.0.0.1 they do not."""
    node, broker, _ = start(tmp_path, nodes, ADDRESS_ACL)
    local = client(broker, "py-local")
    lab = client(broker, "py-lab", bind_address="127.0.0.2")
    alice_lab = client(broker, "py-alice-lab", username="alice", bind_address="127.0.0.2")
    alice_local = client(broker, "py-alice-local", username="alice")

    for c, topic, code in [(local, "lab/x", 0x87), (lab, "lab/x", 0x10), (lab, "lab/secret/x", 0x87),
                           (alice_lab, "lab/x", 0x10), (alice_lab, "alice/x", 0x10),
                           (alice_local, "lab/x", 0x87), (alice_local, "alice/x", 0x10)]:
        info = c.publish(topic, "x", qos=1)
        assert c.puback_code(info.mid) == code, (c.client_id, topic)
    assert lab.subscribe([("lab/out/#", 1), ("lab/#", 1), ("public/#", 0)]) == [1, 0x87, 0]
    assert local.subscribe([("lab/out/#", 1), ("public/#", 0)]) == [0x87, 0]
    assert alice_lab.subscribe([("lab/out/x", 1), ("public/#", 0)]) == [1, 0x87]

    # The decision cache keeps the address apart: the same client id and topic from the other
    # address gets the other answer.
    local.disconnect()
    again = client(broker, "py-local", bind_address="127.0.0.2")
    info = again.publish("lab/x", "x", qos=1)
    assert again.puback_code(info.mid) == 0x10
