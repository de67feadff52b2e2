"""Black-box integration tests for the Starling MQTT broker.

STARLING_TEST_BROKER=starling (default): runs `$STARLING_TEST_BIN` (or <repo>/.build/debug/starling)
    as `starling start --bind 127.0.0.1 --port 0 --api-port 0 --log-level debug --config <file>`.
STARLING_TEST_BROKER=mosquitto: runs Debian's /usr/sbin/mosquitto with the same settings translated;
    tests marked `starling_only` are deselected (and counted) in that mode only.
"""

from __future__ import annotations

import atexit
import itertools
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any, Callable

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import mqttraw  # noqa: E402

import paho.mqtt.client as paho  # noqa: E402
from paho.mqtt.enums import CallbackAPIVersion  # noqa: E402
from paho.mqtt.properties import Properties  # noqa: E402
from paho.mqtt.packettypes import PacketTypes  # noqa: E402
from paho.mqtt.subscribeoptions import SubscribeOptions  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
MODE = os.environ.get("STARLING_TEST_BROKER", "starling").strip().lower() or "starling"
if MODE not in ("starling", "mosquitto"):
    raise pytest.UsageError(f"STARLING_TEST_BROKER must be 'starling' or 'mosquitto', not {MODE!r}")
MOSQUITTO = MODE == "mosquitto"
HOST = "127.0.0.1"
STARTUP_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0

# Starling's documented configuration with its defaults (the config file is a contract).
STARLING_DEFAULTS: dict[str, dict[str, Any]] = {
    "mqtt": {
        "allow_anonymous": True,
        "max_packet_size": 1048576,
        "max_clientid_len": 65535,
        "max_topic_levels": 128,
        "max_topic_length": 65535,
        "max_qos_allowed": 2,
        "retain_available": True,
        "wildcard_subscription": True,
        "shared_subscription": True,
        "subscription_identifiers": True,
        "max_topic_alias": 65535,
        "server_keepalive": 0,
        "keepalive_multiplier": 1.5,
        "shared_subscription_strategy": "round_robin",
    },
    "session": {
        "receive_maximum": 65535,
        "max_session_expiry": 604800,
        "max_queued_messages": 1000,
        "max_queued_bytes": 0,
        "queue_qos0_offline": True,
        "max_awaiting_rel": 65535,
    },
    "node": {
        "max_connections": 1000000,
    },
    "sys": {
        "interval": 30,
        "client_events": True,
    },
}


# ====================================================================== pytest hooks

def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "starling_only: expected behaviour Starling has and Mosquitto 2.0.11 does not; "
        "deselected only when STARLING_TEST_BROKER=mosquitto")


def pytest_collection_modifyitems(config, items):
    if not MOSQUITTO:
        return
    keep, dropped = [], []
    for item in items:
        (dropped if item.get_closest_marker("starling_only") else keep).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep
    config._starling_only_deselected = len(dropped)


def pytest_report_header(config):
    if MOSQUITTO:
        return ["broker under test: mosquitto (/usr/sbin/mosquitto), starling_only tests deselected"]
    return [f"broker under test: starling ({starling_binary()})"]


def pytest_report_collectionfinish(config, start_path, items):
    n = getattr(config, "_starling_only_deselected", None)
    if n is not None:
        return [f"mosquitto mode: deselected {n} starling_only tests"]
    return []


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    n = getattr(config, "_starling_only_deselected", None)
    if n is not None:
        terminalreporter.write_line(f"mosquitto mode: {n} starling_only tests were deselected")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed:
        for b in getattr(item, "_brokers", []):
            rep.sections.append((f"broker log tail ({b.kind}, port {b.port}, {b.log_path})", b.tail()))


# ====================================================================== helpers

def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def wait_for(predicate: Callable[[], Any], timeout: float = 5.0, interval: float = 0.01,
             message: str | Callable[[], str] = "condition") -> Any:
    """Poll `predicate` until it returns a truthy value; AssertionError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            msg = message() if callable(message) else message
            raise AssertionError(f"timed out after {timeout}s waiting for: {msg}")
        time.sleep(interval)  # the suite's one polling pause: between two looks at the condition


def starling_binary() -> Path:
    env = os.environ.get("STARLING_TEST_BIN")
    p = Path(env) if env else REPO / ".build" / "debug" / "starling"
    if not p.is_absolute():
        p = (REPO / p) if not p.exists() else p.resolve()
    return p


def run_to_exit(tmp_path: Path, text: str, command: str = "start", timeout: float = 10) -> tuple[int, str]:
    """Runs `starling COMMAND` with config file `text` (start: on free ports) until it exits; fails the
    test if it keeps running. Returns (exit status, stderr)."""
    cfg = tmp_path / "bad.toml"
    cfg.write_text(text)
    binary = starling_binary()
    if not binary.exists():
        pytest.fail(f"Starling binary not found at {binary}", pytrace=False)
    flags = ["--bind", "127.0.0.1", "--port", "0", "--api-port", "0", "--log-level", "debug"] if command == "start" else []
    proc = subprocess.Popen([str(binary), command, *flags, "--config", str(cfg)], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
                            start_new_session=True)
    try:
        _, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        _, stderr = proc.communicate()
        pytest.fail(f"starling kept running with a bad config:\n{text}\nstderr:\n{stderr}", pytrace=False)
    return proc.returncode, stderr


def merged_config(config: dict | None) -> dict[str, dict[str, Any]]:
    """Accepts {"mqtt": {...}} or {"mqtt.key": value}; returns sections -> keys (only those given)."""
    out: dict[str, dict[str, Any]] = {}
    for key, value in (config or {}).items():
        if isinstance(value, dict):
            out.setdefault(key, {}).update(value)
        else:
            section, _, name = key.partition(".")
            if not name:
                raise ValueError(f"config key {key!r} needs a section: 'mqtt.{key}'")
            out.setdefault(section, {})[name] = value
    return out


def toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    raise TypeError(f"cannot write {v!r} as TOML")


def to_toml(sections: dict[str, dict[str, Any]]) -> str:
    lines = []
    for section, values in sections.items():
        lines.append(f"[{section}]")
        for k, v in values.items():
            lines.append(f"{k} = {v if isinstance(v, RawToml) else toml_value(v)}")
        lines.append("")
    return "\n".join(lines)


class RawToml(str):
    """A value written into the TOML file verbatim (to test bad values)."""


# Starling key -> (mosquitto option, converter). Keys not listed here have no Mosquitto
# equivalent: a test that sets them to a non-default value must be marked starling_only.
def _b(v):
    return "true" if v else "false"


MOSQUITTO_EQUIVALENTS: dict[tuple[str, str], tuple[str, Callable[[Any], str]] | None] = {
    ("mqtt", "allow_anonymous"): ("allow_anonymous", _b),
    ("mqtt", "max_packet_size"): ("max_packet_size", str),
    ("mqtt", "max_qos_allowed"): ("max_qos", str),
    ("mqtt", "retain_available"): ("retain_available", _b),
    ("mqtt", "max_topic_alias"): ("max_topic_alias", str),
    ("mqtt", "server_keepalive"): ("max_keepalive", str),
    ("session", "receive_maximum"): ("max_inflight_messages", str),
    ("session", "max_queued_messages"): ("max_queued_messages", str),
    ("session", "max_queued_bytes"): ("max_queued_bytes", str),
    ("session", "queue_qos0_offline"): ("queue_qos0_messages", _b),
    ("node", "max_connections"): ("max_connections", str),
}
# Starling defaults that differ from Mosquitto's and matter to the tests: always written.
MOSQUITTO_BASE = {
    ("mqtt", "allow_anonymous"): True,
    ("mqtt", "max_packet_size"): 1048576,
    ("mqtt", "max_topic_alias"): 65535,
    ("session", "queue_qos0_offline"): True,
}


def mosquitto_conf(port: int, sections: dict[str, dict[str, Any]]) -> str:
    settings = dict(MOSQUITTO_BASE)
    for section, values in sections.items():
        for k, v in values.items():
            settings[(section, k)] = v
    lines = [
        f"listener {port} {HOST}",
        "persistence false",
        "log_dest stderr",
        "log_type all",
        "log_timestamp true",
        "log_timestamp_format %H:%M:%S",
        "sys_interval 1",
    ]
    for (section, k), v in settings.items():
        if section not in STARLING_DEFAULTS or k not in STARLING_DEFAULTS[section]:
            pytest.fail(f"unknown Starling config key [{section}] {k}", pytrace=False)
        equiv = MOSQUITTO_EQUIVALENTS.get((section, k))
        if equiv is None:
            if v != STARLING_DEFAULTS[section][k]:
                pytest.fail(f"[{section}] {k} = {v!r} has no Mosquitto equivalent: mark the test "
                            f"starling_only", pytrace=False)
            continue
        if (section, k) == ("mqtt", "server_keepalive") and v == 0:
            continue
        name, conv = equiv
        lines.append(f"{name} {conv(v)}")
    return "\n".join(lines) + "\n"


# ====================================================================== broker processes

_ALL_PROCS: list[subprocess.Popen] = []
_broker_counter = itertools.count(1)


def _kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL whatever is left of a broker's process group (it runs in a session of its own)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _kill_leftovers():
    for p in _ALL_PROCS:
        if p.poll() is None:
            _kill_group(p)
            try:
                p.wait(5)
            except Exception:
                pass


atexit.register(_kill_leftovers)


class Broker:
    """One broker process: Starling or Mosquitto."""

    def __init__(self, kind: str, config: dict | None, workdir: Path, port: int | None = None):
        self.kind = kind
        self.fixed_port = port  # Starling: listen here (a restart keeps the port) instead of on a free one
        self.sections = merged_config(config)
        self.workdir = workdir
        n = next(_broker_counter)
        self.log_path = workdir / f"broker-{n}-{kind}.log"
        self.config_path = workdir / (f"starling-{n}.toml" if kind == "starling" else f"mosquitto-{n}.conf")
        self.host = HOST
        self.port: int | None = None
        self.api_port: int | None = None  # Starling's HTTP API (started with --api-port 0)
        self.proc: subprocess.Popen | None = None
        self._log_lock = threading.Lock()
        self._lines: deque[str] = deque(maxlen=400)
        self._all_lines: list[str] = []
        self._line_cv = threading.Condition(self._log_lock)
        self._threads: list[threading.Thread] = []
        self.stopped_by_test = False
        self.returncode: int | None = None

    # -- log draining
    def _drain(self, stream, tag: str):
        with open(self.log_path, "a", buffering=1, encoding="utf-8", errors="replace") as f:
            for raw in iter(stream.readline, b""):
                line = raw.decode("utf-8", "replace").rstrip("\n")
                f.write(f"{tag}{line}\n")
                with self._line_cv:
                    self._lines.append(tag + line)
                    if len(self._all_lines) < 20000:
                        self._all_lines.append(line)
                    self._line_cv.notify_all()
        stream.close()

    def tail(self, n: int = 80) -> str:
        with self._log_lock:
            return "\n".join(list(self._lines)[-n:])

    def log_text(self) -> str:
        with self._log_lock:
            return "\n".join(self._all_lines)

    def _start_drains(self):
        for stream, tag in ((self.proc.stderr, ""), (self.proc.stdout, "[stdout] ")):
            t = threading.Thread(target=self._drain, args=(stream, tag), daemon=True)
            t.start()
            self._threads.append(t)

    # -- start
    def start(self) -> "Broker":
        if self.kind == "starling":
            self._start_starling()
        else:
            self._start_mosquitto()
        return self

    def _start_starling(self):
        binary = starling_binary()
        if not binary.exists():
            pytest.fail(f"Starling binary not found at {binary}: build it (swift build) or set "
                        f"STARLING_TEST_BIN, or run with STARLING_TEST_BROKER=mosquitto", pytrace=False)
        self.config_path.write_text(to_toml(self.sections))
        cmd = [str(binary), "start", "--bind", HOST, "--port", str(self.fixed_port or 0), "--api-port", "0", "--log-level", "debug",
               "--config", str(self.config_path)]
        self.proc = self._spawn(cmd)
        found = self._wait_for_line(re.compile(r"listening on 127\.0\.0\.1:(\d+).*listener=tcp\.default"),
                                    STARTUP_TIMEOUT)
        if found:
            self.port = int(found.group(1))
        api = self._wait_for_line(re.compile(r"api listening on 127\.0\.0\.1:(\d+)"), STARTUP_TIMEOUT)
        self.api_port = int(api.group(1)) if api else None
        # Other listeners (e.g. ws.default) log their own line; record their ports by name.
        self.listener_ports = {
            m_.group(2): int(m_.group(1))
            for m_ in re.finditer(r"listening on 127\.0\.0\.1:(\d+).*listener=([a-z]+\.[A-Za-z0-9_-]+)", self.log_text())
        }
        if self.port is None or self.port == 0:
            self.stop()
            pytest.fail(f"Starling did not report 'listening on 127.0.0.1:PORT' within "
                        f"{STARTUP_TIMEOUT}s (exit status {self.proc.returncode}); command: "
                        f"{' '.join(cmd)}\nconfig:\n{self.config_path.read_text()}\nlog:\n{self.log_text()}",
                        pytrace=False)

    def _start_mosquitto(self):
        self.port = free_port()
        self.config_path.write_text(mosquitto_conf(self.port, self.sections))
        self.proc = self._spawn(["/usr/sbin/mosquitto", "-c", str(self.config_path)])
        # Wait for its "running" log line rather than probing the port: a probe connection
        # would count against max_connections in Mosquitto 2.0.11 (its count goes wrong).
        if not self._wait_for_line(re.compile(r"mosquitto version \S+ running"), STARTUP_TIMEOUT):
            self.stop()
            pytest.fail(f"mosquitto did not start (status {self.proc.returncode}):\n{self.log_text()}\n"
                        f"config:\n{self.config_path.read_text()}", pytrace=False)

    def _wait_for_line(self, pattern: "re.Pattern", timeout: float) -> "re.Match | None":
        deadline = time.monotonic() + timeout
        with self._line_cv:
            while True:
                for line in self._all_lines:
                    found = pattern.search(line)
                    if found:
                        return found
                if self.proc.poll() is not None and all(not t.is_alive() for t in self._threads):
                    return None
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._line_cv.wait(min(left, 0.2))

    def _spawn(self, cmd: list[str]) -> subprocess.Popen:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, cwd=self.workdir, start_new_session=True)
        _ALL_PROCS.append(proc)
        self.proc = proc
        self._start_drains()
        return proc

    # -- state & stop
    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig: int) -> None:
        self.stopped_by_test = True
        if self.alive:
            self.proc.send_signal(sig)

    def wait(self, timeout: float) -> int | None:
        try:
            self.returncode = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        self._join_drains()
        return self.returncode

    def stop(self, timeout: float = STOP_TIMEOUT) -> int | None:
        """SIGTERM, then SIGKILL after `timeout`. Returns the exit status."""
        self.stopped_by_test = True
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGTERM)
                self.returncode = self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                _kill_group(self.proc)
                self.returncode = self.proc.wait(5)
        else:
            self.returncode = self.proc.returncode
        _kill_group(self.proc)  # any child it left behind
        self._join_drains()
        return self.returncode

    def _join_drains(self):
        for t in self._threads:
            t.join(2)

    def raw(self, version: int = mqttraw.V5, timeout: float = 5.0) -> mqttraw.RawClient:
        return mqttraw.RawClient(self.host, self.port, version=version, timeout=timeout)


@pytest.fixture
def broker_factory(request, tmp_path):
    """broker_factory(config: dict | None = None, port=None) -> a started Broker; stopped at teardown.
    `port`: Starling listens there (so clients reconnect to a restarted broker) instead of on a free port."""
    started: list[Broker] = []
    request.node._brokers = started

    def make(config: dict | None = None, port: int | None = None) -> Broker:
        b = Broker(MODE, config, tmp_path, port)
        started.append(b)
        b.start()
        return b

    yield make

    died = []
    for b in started:
        if b.proc is not None and b.proc.poll() is not None and not b.stopped_by_test:
            died.append(f"{b.kind} on port {b.port} exited unexpectedly with status "
                        f"{b.proc.returncode}:\n{b.tail()}")
        b.stop()
    if died:
        pytest.fail("\n".join(died), pytrace=False)


@pytest.fixture
def broker(broker_factory) -> Broker:
    return broker_factory()


# ====================================================================== naming

@pytest.fixture
def uid(request) -> str:
    """A short unique id for this test's topics and client ids."""
    name = re.sub(r"[^A-Za-z0-9]+", "-", request.node.name)[-24:].strip("-")
    return f"{name}-{secrets.token_hex(3)}"


# ====================================================================== paho clients

def props(packet_type: int, **values) -> Properties:
    """props(PacketTypes.PUBLISH, ContentType="x", UserProperty=[("a", "b")])"""
    p = Properties(packet_type)
    for k, v in values.items():
        setattr(p, k, v)
    return p


class Client:
    """A paho-mqtt 2.x client with its network loop in a thread and bounded, blocking helpers."""

    def __init__(self, broker: Broker, client_id: str, protocol: int = 5, clean: bool = True,
                 manual_ack: bool = False, reconnect: bool = False):
        self.broker = broker
        self.protocol = {5: paho.MQTTv5, 4: paho.MQTTv311, 311: paho.MQTTv311, 3: paho.MQTTv31,
                         31: paho.MQTTv31}[protocol]
        self.v5 = self.protocol == paho.MQTTv5
        self.client_id = client_id
        self.clean = clean
        self.c = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                             clean_session=None if self.v5 else clean, protocol=self.protocol,
                             reconnect_on_failure=reconnect, manual_ack=manual_ack)
        self.lock = threading.Lock()
        self.messages: list[paho.MQTTMessage] = []
        self.connack: tuple | None = None  # (reason_code, session_present, properties)
        self.disconnected: tuple | None = None  # (reason_code, properties)
        self.subacks: dict[int, tuple[list, Any]] = {}
        self.unsubacks: dict[int, tuple[list, Any]] = {}
        self.pubacks: dict[int, Any] = {}
        self.c.on_connect = self._on_connect
        self.c.on_disconnect = self._on_disconnect
        self.c.on_message = self._on_message
        self.c.on_subscribe = self._on_subscribe
        self.c.on_unsubscribe = self._on_unsubscribe
        self.c.on_publish = self._on_publish
        self.c.max_inflight_messages_set(100)
        self.c.max_queued_messages_set(0)
        self._loop_started = False

    # callbacks
    def _on_connect(self, c, userdata, flags, rc, properties):
        with self.lock:
            self.connack = (rc, bool(flags.session_present), properties)

    def _on_disconnect(self, c, userdata, flags, rc, properties):
        with self.lock:
            self.disconnected = (rc, properties)

    def _on_message(self, c, userdata, msg):
        with self.lock:
            self.messages.append(msg)

    def _on_subscribe(self, c, userdata, mid, rcs, properties):
        with self.lock:
            self.subacks[mid] = (rcs, properties)

    def _on_unsubscribe(self, c, userdata, mid, rcs, properties):
        with self.lock:
            self.unsubacks[mid] = (rcs, properties)

    def _on_publish(self, c, userdata, mid, rc, properties):
        with self.lock:
            self.pubacks[mid] = rc

    # actions
    def will_set(self, topic, payload=None, qos=0, retain=False, properties=None):
        self.c.will_set(topic, payload, qos, retain, properties)

    def connect(self, keepalive: int = 60, properties: Properties | None = None,
                timeout: float = 5.0, expect_success: bool = True, bind_address: str = ""):
        """Connect and wait for the CONNACK; returns (reason_code_int, session_present, properties).
        `bind_address` picks the local address (any 127.x.y.z works on Linux's loopback)."""
        with self.lock:  # a reconnect waits for its own CONNACK
            self.connack = None
            self.disconnected = None
        kw = {}
        if self.v5:
            kw["clean_start"] = self.clean
            kw["properties"] = properties
        self.c.connect(self.broker.host, self.broker.port, keepalive=keepalive, bind_address=bind_address, **kw)
        if not self._loop_started:
            self.c.loop_start()
            self._loop_started = True
        wait_for(lambda: self.connack or self.disconnected, timeout,
                 message=f"CONNACK for {self.client_id}")
        if self.connack is None:
            raise AssertionError(f"{self.client_id}: connection closed before CONNACK: {self.disconnected}")
        rc, sp, p = self.connack
        if expect_success:
            assert not rc.is_failure, f"{self.client_id}: CONNACK refused: {rc} ({rc.value})"
        return rc.value, sp, p

    @property
    def session_present(self) -> bool:
        return self.connack[1]

    def subscribe(self, topic: str | list, qos: int = 0, options: SubscribeOptions | None = None,
                  properties: Properties | None = None, timeout: float = 5.0) -> list[int]:
        """Subscribe and wait for the SUBACK; returns its codes as ints."""
        if isinstance(topic, list):
            result, mid = self.c.subscribe(topic, properties=properties)
        elif options is not None:
            result, mid = self.c.subscribe(topic, options=options, properties=properties)
        else:
            result, mid = self.c.subscribe(topic, qos, properties=properties)
        assert result == paho.MQTT_ERR_SUCCESS, f"subscribe failed locally: {result}"
        wait_for(lambda: mid in self.subacks or self.disconnected, timeout, message=f"SUBACK for {topic}")
        if mid not in self.subacks:
            raise AssertionError(f"disconnected before SUBACK: {self.disconnected}")
        return [rc.value for rc in self.subacks[mid][0]]

    def unsubscribe(self, topic: str | list, timeout: float = 5.0) -> list[int]:
        result, mid = self.c.unsubscribe(topic)
        assert result == paho.MQTT_ERR_SUCCESS
        wait_for(lambda: mid in self.unsubacks, timeout, message=f"UNSUBACK for {topic}")
        return [rc.value if hasattr(rc, "value") else rc for rc in self.unsubacks[mid][0]]

    def publish(self, topic: str, payload: bytes | str = b"", qos: int = 0, retain: bool = False,
                properties: Properties | None = None, wait: bool = True, timeout: float = 5.0):
        info = self.c.publish(topic, payload, qos, retain, properties)
        if wait:
            info.wait_for_publish(timeout)
            assert info.is_published(), f"publish to {topic} not completed in {timeout}s"
            if qos:
                wait_for(lambda: info.mid in self.pubacks, timeout, message="publish acknowledged")
        return info

    def puback_code(self, mid: int) -> int:
        rc = self.pubacks.get(mid)
        return getattr(rc, "value", rc)

    def wait_messages(self, n: int, timeout: float = 5.0, topic: str | None = None) -> list[paho.MQTTMessage]:
        """Wait until at least n messages (on `topic`, if given) arrived; returns them."""
        def got():
            with self.lock:
                msgs = [m for m in self.messages if topic is None or m.topic == topic]
            return msgs if len(msgs) >= n else None
        wait_for(got, timeout, message=lambda: f"{n} messages at {self.client_id}"
                 f"{' on ' + topic if topic else ''}; have {self.summary()}")
        return got()

    def received(self, topic: str | None = None) -> list[paho.MQTTMessage]:
        with self.lock:
            return [m for m in self.messages if topic is None or m.topic == topic]

    def payloads(self, topic: str | None = None) -> list[bytes]:
        return [m.payload for m in self.received(topic)]

    def summary(self) -> str:
        with self.lock:
            return str([(m.topic, m.payload[:30], m.qos) for m in self.messages][:40])

    def clear(self):
        with self.lock:
            self.messages.clear()

    def wait_disconnected(self, timeout: float = 5.0):
        wait_for(lambda: self.disconnected, timeout, message=f"{self.client_id} disconnected")
        return self.disconnected

    def disconnect(self, properties: Properties | None = None, reasoncode=None):
        if self.c.is_connected():
            self.c.disconnect(reasoncode=reasoncode, properties=properties)
            try:
                wait_for(lambda: self.disconnected, 3, message="disconnect")
            except AssertionError:
                pass
        self.stop()

    def stop(self):
        if self._loop_started:
            self.c.loop_stop()
            self._loop_started = False
        try:
            self.c.socket() and self.c.socket().close()
        except Exception:
            pass


@pytest.fixture
def client_factory(uid):
    """client_factory(broker, name="x", protocol=5, clean=True, connect=True, **connect_kw) -> Client.
    `reconnect`: paho reconnects on its own when the connection drops (a broker restarted on its port)."""
    made: list[Client] = []
    counter = itertools.count(1)

    def make(broker: Broker, name: str | None = None, protocol: int = 5, clean: bool = True,
             connect: bool = True, manual_ack: bool = False, client_id: str | None = None,
             reconnect: bool = False, **connect_kw) -> Client:
        cid = client_id if client_id is not None else f"{uid}-{name or next(counter)}"
        c = Client(broker, cid, protocol=protocol, clean=clean, manual_ack=manual_ack, reconnect=reconnect)
        made.append(c)
        if connect:
            c.connect(**connect_kw)
        return c

    yield make
    for c in made:
        try:
            c.c.disconnect()
        except Exception:
            pass
        try:
            c.stop()
        except Exception:
            pass


@pytest.fixture
def raw_factory():
    """raw_factory(broker, version=5) -> an open mqttraw.RawClient, closed at teardown."""
    made: list[mqttraw.RawClient] = []

    def make(broker: Broker, version: int = mqttraw.V5, timeout: float = 5.0) -> mqttraw.RawClient:
        r = broker.raw(version, timeout)
        made.append(r)
        return r

    yield make
    for r in made:
        r.close()


def assert_broker_serves(broker: Broker, tag: str = "alive", protocol: int = 5) -> None:
    """A fresh client connects, subscribes and receives its own QoS 1 publish."""
    cid = f"probe-{tag}-{secrets.token_hex(3)}"
    c = Client(broker, cid, protocol=protocol)
    try:
        c.connect(timeout=5)
        topic = f"probe/{cid}"
        assert c.subscribe(topic, 1) == [1]
        c.publish(topic, b"ping", qos=1)
        msgs = c.wait_messages(1, 5)
        assert msgs[0].payload == b"ping"
    finally:
        c.disconnect()


def raw_connect_ok(raw: mqttraw.RawClient, client_id: str, **kw) -> mqttraw.Packet:
    ack = raw.connect(client_id, **kw)
    assert ack.rc == 0, f"CONNACK refused: {ack!r}"
    return ack


def raw_subscribe(raw: mqttraw.RawClient, filters: list[tuple[str, int]], pid: int = 1,
                  props: dict | None = None) -> list[int]:
    raw.send(mqttraw.subscribe(pid, filters, props=props, version=raw.version))
    ack = raw.expect(mqttraw.SUBACK)
    assert ack.pid == pid
    return ack.codes


def sub_opts(qos=0, no_local=False, retain_as_published=False, retain_handling=0) -> SubscribeOptions:
    return SubscribeOptions(qos=qos, noLocal=no_local, retainAsPublished=retain_as_published,
                            retainHandling=retain_handling)


__all__ = [
    "MOSQUITTO", "Broker", "Client", "PacketTypes", "Properties", "assert_broker_serves", "free_port",
    "props", "raw_connect_ok", "raw_subscribe", "sub_opts", "wait_for", "RawToml",
]
