"""MQTT over TLS ([listeners.ssl.NAME]) and over WebSocket over TLS ([listeners.wss.NAME]), with
certificates made by tlscerts.py: paho-mqtt, mosquitto_pub/mosquitto_sub and openssl s_client against
the real binary; refused handshakes counted in /api/v1/prometheus; start-up refusals of bad files.
"""
import re
import socket
import ssl
import subprocess
import time
import urllib.request

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from prometheus_client.parser import text_string_to_metric_families

import mqttraw
import tlscerts
from conftest import RawToml, run_to_exit, to_toml, wait_for

# The suite's Mosquitto configuration has no TLS listener: these are Starling's listeners and counters.
pytestmark = pytest.mark.starling_only

PUB, SUB = "/usr/bin/mosquitto_pub", "/usr/bin/mosquitto_sub"


@pytest.fixture(scope="session")
def certs(tmp_path_factory) -> tlscerts.Certs:
    return tlscerts.make_certs(tmp_path_factory.mktemp("certs"))


def tls_config(certs, kind="ssl", **options) -> dict:
    """A config with listener KIND.default on a free port of 127.0.0.1 (tcp.default comes from the flags)."""
    ssl_options = {"certfile": str(certs.server), "keyfile": str(certs.server_key)}
    ssl_options.update(options)
    return {f"listeners.{kind}.default": {"bind": "127.0.0.1", "port": 0},
            f"listeners.{kind}.default.ssl_options": ssl_options}


MTLS = {"verify": "verify_peer", "fail_if_no_peer_cert": True}


def tls_port(b, kind="ssl") -> int:
    wait_for(lambda: f"{kind}.default" in b.listener_ports, 5, message=f"the {kind} listener logs its port")
    return b.listener_ports[f"{kind}.default"]


def tls_client(certs, port, client_id, protocol=paho.MQTTv5, cert=None, key=None, transport="tcp"):
    got = []
    c = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=protocol, transport=transport)
    c.tls_set(ca_certs=str(certs.ca), certfile=cert and str(cert), keyfile=key and str(key))
    if transport == "websockets":
        c.ws_set_options(path="/mqtt")
    c.on_message = lambda client, userdata, msg: got.append(msg)
    return c, got


def connect(c, port):
    c.connect("localhost", port, keepalive=30)
    c.loop_start()
    wait_for(c.is_connected, 5, message="the TLS client connects")


def stop(c):
    try:
        c.disconnect()
    finally:
        c.loop_stop()


def round_trip(c, got, topic, tcp):
    """`c` (subscribed to `topic`) receives what the plain TCP client `tcp` publishes, and the other way."""
    c.subscribe(topic, qos=1)

    def delivered():  # until the subscription is in place (paho's SUBACK arrives asynchronously)
        tcp.publish(topic, b"from tcp", qos=1)
        return got
    wait_for(delivered, 5, interval=0.2, message="the TLS subscriber receives a message published over TCP")
    assert got[0].payload == b"from tcp"
    assert tcp.subscribe(f"{topic}/back", 1) == [1]
    c.publish(f"{topic}/back", b"over tls", qos=1).wait_for_publish(5)
    tcp.wait_messages(1)
    assert tcp.payloads() == [b"over tls"]


def failures(b) -> dict[tuple[str, str], float]:
    """starling_tls_handshake_failures_total by (listener, reason)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{b.api_port}/api/v1/prometheus", timeout=5) as response:
        text = response.read().decode()
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "starling_tls_handshake_failures_total":
                out[(sample.labels["listener"], sample.labels["reason"])] = sample.value
    return out


def wait_failure(b, reason, count=1, listener="ssl.default"):
    wait_for(lambda: failures(b).get((listener, reason)) == count, 5,
             message=lambda: f"{reason} counted {count}x: {failures(b)}")
    wait_for(lambda: re.search(rf"TLS handshake failed.*peer=.*reason={reason}", b.log_text()), 5,
             message=f"an info line 'TLS handshake failed' with the peer and reason={reason}")


# -- clients that get in


@pytest.mark.parametrize("kind,transport,protocol", [
    ("ssl", "tcp", paho.MQTTv311), ("ssl", "tcp", paho.MQTTv5), ("wss", "websockets", paho.MQTTv5),
], ids=["ssl-3.1.1", "ssl-5.0", "wss-5.0"])
def test_paho_over_tls_and_wss(broker_factory, client_factory, certs, uid, kind, transport, protocol):
    b = broker_factory(tls_config(certs, kind=kind))
    port = tls_port(b, kind)
    assert re.search(rf"listening on 127\.0\.0\.1:{port}.*listener={kind}\.default", b.log_text())
    c, got = tls_client(certs, port, f"{uid}-{kind}", protocol, transport=transport)
    connect(c, port)
    try:
        round_trip(c, got, f"{uid}/t", client_factory(b, "tcp"))
    finally:
        stop(c)


def test_tls_listener_keeps_its_own_max_connections(broker_factory, client_factory, certs, uid):
    config = tls_config(certs)
    config["listeners.ssl.default"]["max_connections"] = 1
    b = broker_factory(config)
    port = tls_port(b)
    first, _ = tls_client(certs, port, f"{uid}-first")
    connect(first, port)
    second, _ = tls_client(certs, port, f"{uid}-second")
    codes = []
    second.on_connect = lambda client, userdata, flags, rc, properties: codes.append(rc)
    second.connect("localhost", port, keepalive=30)
    second.loop_start()
    try:
        wait_for(lambda: codes, 5, message="the second TLS client gets its CONNACK")
        assert codes[0] == 0x97, codes  # quota exceeded
        # The plain TCP listener has its own limit.
        assert client_factory(b, "tcp").c.is_connected()
    finally:
        second.loop_stop()
        stop(first)


def test_encrypted_key_with_password_and_mutual_tls(broker_factory, client_factory, certs, uid):
    b = broker_factory(tls_config(certs, keyfile=str(certs.encrypted_key), password=tlscerts.PASSWORD,
                                  cacertfile=str(certs.ca), **MTLS))
    port = tls_port(b)
    c, got = tls_client(certs, port, f"{uid}-mtls", cert=certs.client, key=certs.client_key)
    connect(c, port)
    try:
        round_trip(c, got, f"{uid}/m", client_factory(b, "tcp"))
    finally:
        stop(c)


def mosquitto_pair(port, topic, tls_args):
    sub = subprocess.Popen(["stdbuf", "-oL", SUB, "-h", "localhost", "-p", str(port), "-t", topic, "-C", "1", "-d",
                            "-q", "1", *tls_args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
    lines = []
    try:
        while True:  # until its SUBACK (or its end)
            line = sub.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "SUBACK" in line:
                break
        assert any("SUBACK" in x for x in lines), lines
        pub = subprocess.run([PUB, "-h", "localhost", "-p", str(port), "-t", topic, "-m", "hello tls", "-q", "1",
                              *tls_args], capture_output=True, text=True, timeout=10)
        assert pub.returncode == 0, pub.stderr
        out, _ = sub.communicate(timeout=10)
        assert sub.returncode == 0, lines + [out]
        assert "hello tls" in out
    finally:
        if sub.poll() is None:
            sub.kill()
            sub.wait()


def test_mosquitto_clients_with_cafile(broker_factory, certs, uid):
    b = broker_factory(tls_config(certs))
    mosquitto_pair(tls_port(b), f"{uid}/mosq", ["--cafile", str(certs.ca)])


def test_mosquitto_clients_with_client_certificates_on_verify_peer(broker_factory, certs, uid):
    b = broker_factory(tls_config(certs, cacertfile=str(certs.ca), **MTLS))
    port = tls_port(b)
    mosquitto_pair(port, f"{uid}/mosq", ["--cafile", str(certs.ca), "--cert", str(certs.client),
                                         "--key", str(certs.client_key)])
    # Without a certificate, the same client is refused.
    pub = subprocess.run([PUB, "-h", "localhost", "-p", str(port), "-t", f"{uid}/x", "-m", "x", "--cafile",
                          str(certs.ca)], capture_output=True, text=True, timeout=10)
    assert pub.returncode != 0
    wait_failure(b, "no_certificate")


# -- handshakes refused


def attempt(certs, port, cert=None, key=None):
    """A paho client trying to get in; the caller waits for the server's verdict (the counter)."""
    c, _ = tls_client(certs, port, "refused", cert=cert, key=key)
    try:
        c.connect("localhost", port, keepalive=30)
        # TLS 1.3: the client's side of the handshake ends before the server judges its
        # certificate; the refusal shows on its next read, and no CONNACK ever comes.
        c.loop_start()
    except (ssl.SSLError, OSError):
        pass
    return c


def assert_refused(b, c, reason):
    wait_failure(b, reason)
    assert not c.is_connected()
    c.loop_stop()


def test_refused_client_certificates_leave_other_clients_connected(broker_factory, certs, uid):
    b = broker_factory(tls_config(certs, cacertfile=str(certs.ca), **MTLS))
    port = tls_port(b)
    good, got = tls_client(certs, port, f"{uid}-good", cert=certs.client, key=certs.client_key)
    connect(good, port)
    try:
        good.subscribe(f"{uid}/alive", qos=1)
        assert_refused(b, attempt(certs, port, certs.untrusted, certs.untrusted_key), "untrusted")
        assert_refused(b, attempt(certs, port, certs.expired, certs.expired_key), "expired")
        assert_refused(b, attempt(certs, port), "no_certificate")
        counts = failures(b)
        assert counts[("ssl.default", "untrusted")] == 1 and counts[("ssl.default", "expired")] == 1
        assert counts[("ssl.default", "other")] == 0, counts
        # The trusted client stayed connected throughout.
        assert good.is_connected()

        def delivered():
            good.publish(f"{uid}/alive", b"still here", qos=1)
            return got
        wait_for(delivered, 5, interval=0.2, message="the connected client still receives")
    finally:
        stop(good)


def test_tls11_only_client_is_refused(broker_factory, certs):
    b = broker_factory(tls_config(certs))
    port = tls_port(b)
    # Debian's openssl.cnf allows nothing below TLS 1.2: @SECLEVEL=0 lets s_client offer TLS 1.1.
    done = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-tls1_1",
                           "-cipher", "DEFAULT:@SECLEVEL=0", "-CAfile", str(certs.ca)],
                          input="", capture_output=True, text=True, timeout=15)
    assert done.returncode != 0, done.stdout
    wait_failure(b, "version")
    # A TLS 1.2 client still gets in.
    ok = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-tls1_2", "-CAfile", str(certs.ca)],
                        input="", capture_output=True, text=True, timeout=15)
    assert "Protocol  : TLSv1.2" in ok.stdout, ok.stdout + ok.stderr


def test_plain_mqtt_to_the_tls_port_is_refused(broker_factory, certs):
    b = broker_factory(tls_config(certs))
    port = tls_port(b)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(mqttraw.connect("plain", version=mqttraw.V5))
        data = b""
        while True:  # an alert at most, then the close
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        assert not data.startswith(b"\x20"), "a CONNACK came back"
    wait_failure(b, "not_tls")


def test_silent_connection_is_closed_after_handshake_timeout(broker_factory, certs):
    b = broker_factory(tls_config(certs, handshake_timeout="700ms"))
    port = tls_port(b)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        started = time.monotonic()
        assert s.recv(1) == b""
        waited = time.monotonic() - started
    assert 0.5 <= waited < 3, waited
    wait_failure(b, "timeout")


# -- start-up refusals


def bad_cases(c: tlscerts.Certs):
    """(id, ssl_options changes, key named, file named, fault words)."""
    missing = str(c.dir / "nowhere.pem")
    return [
        ("missing-cert", {"certfile": missing}, "certfile", missing, "No such file"),
        ("missing-key", {"keyfile": missing}, "keyfile", missing, "No such file"),
        ("key-mismatch", {"keyfile": str(c.other_key)}, "keyfile", str(c.other_key), "does not match"),
        ("expired-cert", {"certfile": str(c.expired_server)}, "certfile", str(c.expired_server), "expired"),
        ("ca-without-cert", {"cacertfile": str(c.no_cert)}, "cacertfile", str(c.no_cert), "no PEM certificate"),
        ("encrypted-key-no-password", {"keyfile": str(c.encrypted_key)}, "keyfile", str(c.encrypted_key), "password"),
        ("no-certfile", {"certfile": None}, "certfile", None, "not set"),
    ]


CASES = ["missing-cert", "missing-key", "key-mismatch", "expired-cert", "ca-without-cert",
         "encrypted-key-no-password", "no-certfile"]


@pytest.mark.parametrize("case", CASES)
def test_bad_tls_files_stop_start_up(tmp_path, certs, case):
    _, changes, key, path, fault = next(x for x in bad_cases(certs) if x[0] == case)
    sections = tls_config(certs, **{k: v for k, v in changes.items() if v is not None})
    for k, v in changes.items():
        if v is None:
            del sections["listeners.ssl.default.ssl_options"][k]
    rc, stderr = run_to_exit(tmp_path, to_toml(sections), timeout=15)
    assert rc == 2, f"exit status {rc}; stderr:\n{stderr}"
    lines = [x for x in stderr.splitlines() if x.startswith("starling: ")]
    assert len(lines) == 1, stderr
    line = lines[0]
    assert f"listeners.ssl.default.ssl_options.{key}" in line and fault in line, line
    if path:
        assert path in line, line
    assert "listening on" not in stderr, "a listener opened before the files were checked"
    # check-config reports the same line (its exit status for any config error is 1).
    rc, check = run_to_exit(tmp_path, to_toml(sections), command="check-config", timeout=15)
    assert rc == 1 and line in check, check


def test_versions_and_ciphers_limit_what_is_negotiated(broker_factory, certs):
    b = broker_factory(tls_config(certs, versions=RawToml('["tlsv1.2"]'),
                                  ciphers=RawToml('["ECDHE-ECDSA-AES256-GCM-SHA384"]')))
    port = tls_port(b)

    def s_client(*args):
        return subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-CAfile", str(certs.ca), *args],
                              input="", capture_output=True, text=True, timeout=15)
    ok = s_client()
    assert "Protocol  : TLSv1.2" in ok.stdout and "Cipher    : ECDHE-ECDSA-AES256-GCM-SHA384" in ok.stdout, ok.stdout
    assert s_client("-tls1_3").returncode != 0
    wait_failure(b, "version")
    assert s_client("-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256").returncode != 0
    wait_failure(b, "other")
