"""Asynchronous plugin decisions (ABI 1.2) seen by paho-mqtt: a plugin answers authenticate with
PENDING and completes from its own thread; CONNACK waits for the answer, a denial carries the
plugin's code, and plugin_loader.pending_timeout denies an answer that never comes."""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

import mqttraw
from conftest import REPO, wait_for
from test_plugins import CC_LINE, nodes  # noqa: F401  (the fixture)

pytestmark = pytest.mark.starling_only  # Starling's own plugin interface


def build_pending_plugin(out: Path) -> Path:
    subprocess.run(CC_LINE + ["-D_POSIX_C_SOURCE=200809L", "-pthread", "-o", str(out),
                              "Tests/PluginTests/Fixtures/pending_plugin.c"],
                   cwd=REPO, check=True, capture_output=True, text=True)
    return out


def connack(port: int, client_id: str, username: str, timeout: float = 5.0) -> tuple[int, float]:
    """Connects with MQTT 5; returns the CONNACK reason code and how long it took."""
    done = threading.Event()
    result: dict[str, int] = {}
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv5)
    client.username_pw_set(username, "x")

    def on_connect(_client, _userdata, _flags, reason_code, _properties):
        result["rc"] = reason_code.value
        done.set()

    client.on_connect = on_connect
    start = time.monotonic()
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        assert done.wait(timeout), f"no CONNACK for {client_id} within {timeout} s"
        return result["rc"], time.monotonic() - start
    finally:
        client.disconnect()
        client.loop_stop()


def test_pending_authentication_with_paho(tmp_path, nodes):  # noqa: F811
    plugin = build_pending_plugin(tmp_path / "pending.so")
    config = tmp_path / "pending.toml"
    config.write_text(f"""
[plugin_loader]
pending_timeout = "1s"

[[plugins]]
path = "{plugin}"
name = "pending"
options = {{ pending = "authenticate", delay_ms = "300" }}
""")
    node = nodes("--config", str(config))
    port = node.port()
    rc, took = connack(port, "py-good", "good")
    assert rc == 0 and took >= 0.25, (rc, took)
    rc, _ = connack(port, "py-deny", "deny")
    assert rc == 0x86
    rc, took = connack(port, "py-never", "never")
    assert rc == 0x87 and took >= 0.9, (rc, took)
    node.wait_log("plugin pending did not answer its authenticate hook within 1 s")

    # The timeout is counted, and no ticket stays open: in the API's metrics and in Prometheus.
    api_port = int(wait_for(lambda: re.search(r"api listening on 127\.0\.0\.1:(\d+)", node.log), 10).group(1))
    with urllib.request.urlopen(f"http://127.0.0.1:{api_port}/api/v1/metrics", timeout=10) as resp:
        metrics = json.load(resp)
    assert metrics["plugins.pending.timeouts"] == 1 and metrics["plugins.pending.open"] == 0, metrics
    with urllib.request.urlopen(f"http://127.0.0.1:{api_port}/api/v1/prometheus", timeout=10) as resp:
        text = resp.read().decode()
    assert "\nstarling_plugins_pending_timeouts_total 1\n" in text, text
    assert re.search(r"\nstarling_plugins_pending_open 0(\.0)?\n", text), text


def auth_packet(reason: int, data: str) -> bytes:
    """An MQTT 5 AUTH packet of the SCRAM-TEST method (Tests/PluginTests/Fixtures/enhanced_auth_plugin.c)."""
    props = {mqttraw.AUTHENTICATION_METHOD: "SCRAM-TEST", mqttraw.AUTHENTICATION_DATA: data.encode()}
    return mqttraw.packet(mqttraw.AUTH, 0, bytes([reason]) + mqttraw.encode_properties(props))


def test_unanswered_reauthentication_is_bounded_by_pending_timeout(tmp_path, nodes):  # noqa: F811
    """A connected client that starts re-authentication (AUTH 0x19) and leaves the broker's AUTH
    0x18 unanswered, while it keeps pinging, is disconnected with 0x87 after pending_timeout."""
    plugin = tmp_path / "scram.so"
    subprocess.run(CC_LINE + ["-D_POSIX_C_SOURCE=200809L", "-pthread", "-o", str(plugin),
                              "Tests/PluginTests/Fixtures/enhanced_auth_plugin.c"],
                   cwd=REPO, check=True, capture_output=True, text=True)
    config = tmp_path / "scram.toml"
    config.write_text(f"""
[plugin_loader]
pending_timeout = "1s"

[[plugins]]
path = "{plugin}"
name = "scram"
""")
    node = nodes("--config", str(config))
    client = mqttraw.RawClient("127.0.0.1", node.port())
    client.send(mqttraw.connect("py-reauth", keepalive=30, props={
        mqttraw.AUTHENTICATION_METHOD: "SCRAM-TEST", mqttraw.AUTHENTICATION_DATA: b"n=nonce1"}))
    challenge = client.expect(mqttraw.AUTH)
    assert challenge.rc == 0x18 and challenge.props[mqttraw.AUTHENTICATION_DATA] == b"c=py-reauth:nonce1"
    client.send(auth_packet(0x18, "p=py-reauth:nonce1:secret"))
    assert client.expect(mqttraw.CONNACK).rc == 0

    # An answered re-authentication still succeeds.
    client.send(auth_packet(0x19, "n=nonce2"))
    assert client.expect(mqttraw.AUTH).rc == 0x18
    client.send(auth_packet(0x18, "p=py-reauth:nonce2:secret"))
    assert client.expect(mqttraw.AUTH).rc == 0x00

    # An unanswered one: pings keep the connection alive, yet it ends at the timeout.
    client.send(auth_packet(0x19, "n=nonce3"))
    assert client.expect(mqttraw.AUTH).rc == 0x18
    start = time.monotonic()
    disconnect = None
    while disconnect is None and time.monotonic() - start < 5:
        client.try_send(mqttraw.pingreq())
        try:
            packet = client.recv(0.3)
        except TimeoutError:
            continue
        if packet.type == mqttraw.DISCONNECT:
            disconnect = packet
    took = time.monotonic() - start
    assert disconnect is not None and disconnect.rc == 0x87, disconnect
    assert 0.8 <= took < 3, took
    node.wait_log("re-authentication not answered within 1 s (plugin_loader.pending_timeout)")
