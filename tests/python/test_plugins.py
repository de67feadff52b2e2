"""Plugins through the real binary: `starling start --plugin PATH` (a contract scripts rely on),
[[plugins]] entries with options, and a broken plugin stopping start-up with exit status 2.

The plugins are built here from plugins/ with the plain cc line of plugins/Makefile."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

import mqttraw
from conftest import REPO, starling_binary, wait_for

pytestmark = pytest.mark.starling_only  # Starling's own plugin interface: nothing to compare in Mosquitto

CC_LINE = ["cc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-fPIC", "-shared", "-Wl,-Bsymbolic", "-Iinclude"]


def build_plugin(source: str, out: Path) -> Path:
    """Builds plugins/<source> into `out` with plugins/Makefile's line, from the repository root."""
    subprocess.run(CC_LINE + ["-o", str(out), source], cwd=REPO, check=True, capture_output=True, text=True)
    return out


class Node:
    """A `starling start` process whose stderr is collected line by line."""

    def __init__(self, args: list[str], workdir: Path):
        binary = starling_binary()
        if not binary.exists():
            pytest.fail(f"Starling binary not found at {binary}", pytrace=False)
        self.proc = subprocess.Popen([str(binary), "start", "--bind", "127.0.0.1", "--port", "0", "--api-port", "0",
                                      "--log-level", "debug", *args], cwd=workdir, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                     start_new_session=True)
        self.lines: list[str] = []
        self.lock = threading.Lock()
        self.reader = threading.Thread(target=self._drain, daemon=True)
        self.reader.start()

    def _drain(self):
        for line in self.proc.stderr:
            with self.lock:
                self.lines.append(line.rstrip("\n"))

    @property
    def log(self) -> str:
        with self.lock:
            return "\n".join(self.lines)

    def port(self) -> int:
        found = wait_for(lambda: re.search(r"listening on 127\.0\.0\.1:(\d+)", self.log) or self.proc.poll() is not None,
                         timeout=20, message=lambda: f"'listening on' in:\n{self.log}")
        if not isinstance(found, re.Match):
            pytest.fail(f"starling exited with status {self.proc.returncode}:\n{self.log}", pytrace=False)
        return int(found.group(1))

    def wait_log(self, text: str, timeout: float = 5.0):
        wait_for(lambda: text in self.log, timeout=timeout, message=lambda: f"{text!r} in the log:\n{self.log}")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            status = self.proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            status = self.proc.wait(5)
        self.reader.join(5)
        return status


@pytest.fixture
def nodes(tmp_path):
    started: list[Node] = []

    def start(*args: str) -> Node:
        node = Node(list(args), tmp_path)
        started.append(node)
        return node

    yield start
    for node in started:
        node.stop()


def test_plugin_flag_loads_hello_without_options(tmp_path, nodes):
    hello = build_plugin("plugins/hello-c/hello.c", tmp_path / "hello-c.so")
    node = nodes("--plugin", str(hello))
    port = node.port()
    node.wait_log("hello from hello-c (broker ")
    client = mqttraw.RawClient("127.0.0.1", port)
    assert client.connect("py-hello").rc == 0
    node.wait_log("client py-hello connected (1 so far)")
    client.close()
    assert node.stop() == 0
    assert "goodbye from hello-c after 1 connections" in node.log
    assert list((tmp_path / "data" / "plugins").glob("*.so")) == [], "the copy is removed after unload"


def test_plugins_from_the_config_file_with_options(tmp_path, nodes):
    hello = build_plugin("plugins/hello-c/hello.c", tmp_path / "hello-c.so")
    acl = build_plugin("plugins/acl-deny-topic-c/acl_deny_topic.c", tmp_path / "acl.so")
    config = tmp_path / "plugins.toml"
    config.write_text(f"""
[[plugins]]
path = "{hello}"
options = {{ greeting = "bonjour" }}

[[plugins]]
path = "{acl}"
name = "acl"
options = {{ deny = "secret/#" }}

[[plugins]]
path = "{tmp_path / 'disabled.so'}"
enabled = false
""")
    node = nodes("--config", str(config), "--plugin", str(hello))
    # The same file twice is refused by name ("hello-c" is taken): start-up stops, exit 2.
    assert node.proc.wait(20) == 2, node.log
    assert "a plugin named hello-c is already loaded" in node.log

    node = nodes("--config", str(config))
    port = node.port()
    node.wait_log("bonjour from hello-c")
    client = mqttraw.RawClient("127.0.0.1", port)
    assert client.connect("py-acl").rc == 0
    client.send(mqttraw.publish("secret/x", "no", qos=1, pid=7))
    ack = client.expect(mqttraw.PUBACK)
    assert (ack.pid, ack.rc) == (7, 0x87)
    client.send(mqttraw.subscribe(8, [("secret/+", 1), ("open/#", 1)]))
    assert client.expect(mqttraw.SUBACK).codes == [0x87, 0x01]
    client.close()


@pytest.mark.parametrize("kind", ["missing", "text", "failing-init"])
def test_broken_plugin_stops_start_up_with_status_2_naming_its_path(tmp_path, nodes, kind):
    if kind == "missing":
        path, fault = tmp_path / "absent.so", "no such file"
        args = ["--plugin", str(path)]
    elif kind == "text":
        path, fault = tmp_path / "words.so", "not a loadable shared object"
        path.write_text("just words\n")
        args = ["--plugin", str(path)]
    else:
        path = build_plugin("plugins/acl-deny-topic-c/acl_deny_topic.c", tmp_path / "acl.so")
        fault = "starling_plugin_init returned 1"  # no deny option
        args = ["--plugin", str(path)]
    node = nodes(*args)
    status = node.proc.wait(20)
    node.reader.join(5)
    assert status == 2, node.log
    assert f"starling: cannot load plugin {path}: {fault}" in node.log


def test_broken_plugin_is_skipped_when_on_error_is_skip(tmp_path, nodes):
    config = tmp_path / "skip.toml"
    config.write_text(f'[plugin_loader]\non_error = "skip"\n\n[[plugins]]\npath = "{tmp_path / "absent.so"}"\n')
    node = nodes("--config", str(config))
    port = node.port()
    assert f"cannot load plugin {tmp_path / 'absent.so'}: no such file; skipped" in node.log
    client = mqttraw.RawClient("127.0.0.1", port)
    assert client.connect("py-skip").rc == 0
    client.close()
