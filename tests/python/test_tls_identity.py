"""Identity from the client certificate: `mqtt.peer_cert_as_username` and `mqtt.peer_cert_as_clientid`
("cn", "dn") on an ssl listener, with plugins/acl-file rules for the certificate's user; the TLS fields
of GET /api/v1/clients/{id}; and a tcp listener, where the settings do nothing.
"""
import json
import threading
import urllib.error
import urllib.request

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

import tlscerts
from conftest import RawToml, wait_for
from test_plugins import build_plugin
from test_tls import certs, connect, stop, tls_client, tls_config, tls_port  # noqa: F401  (certs is a fixture)

pytestmark = pytest.mark.starling_only  # Starling's plugin interface and API

SUBJECT = "/C=GB/O=Example/CN=alice"
DN = "CN=alice,O=Example,C=GB"

ACL = """\
topic read public/#

user {user}
topic readwrite alice/#
"""


@pytest.fixture(scope="module")
def alice(certs):  # noqa: F811
    """A client certificate with subject C=GB, O=Example, CN=alice, and one with no CN at all."""
    cert, key = tlscerts.client_with_subject(certs, "alice", SUBJECT)
    no_cn, no_cn_key = tlscerts.client_with_subject(certs, "no-cn", "/O=Example/OU=devices")
    return {"cert": cert, "key": key, "no_cn": no_cn, "no_cn_key": no_cn_key}


def start(broker_factory, certs, tmp_path, acl_user="alice", kind="ssl", **mqtt):  # noqa: F811
    """A broker with an ssl (or wss) listener that asks for (but does not require) client
    certificates, the acl-file plugin with a `user` block for `acl_user`, and `mqtt` settings."""
    plugin = build_plugin("plugins/acl-file/acl_file.c", tmp_path / "acl-file.so")
    acl = tmp_path / "acl"
    acl.write_text(ACL.format(user=acl_user))
    config = tls_config(certs, kind=kind, cacertfile=str(certs.ca), verify="verify_peer")
    config["authentication"] = {"no_match": "allow"}
    config["mqtt"] = dict(mqtt)
    config["[plugins]"] = {"path": str(plugin), "options": RawToml(f'{{ acl_file = "{acl}" }}')}
    b = broker_factory(config)
    return b, tls_port(b, kind)


def subscribe(c, *filters) -> list[int]:
    """The SUBACK's codes for `filters` at QoS 1."""
    done, codes = threading.Event(), []

    def on_subscribe(client, userdata, mid, reason_codes, properties):
        codes.extend(code.value for code in reason_codes)
        done.set()
    c.on_subscribe = on_subscribe
    c.subscribe([(f, 1) for f in filters])
    assert done.wait(5), "SUBACK"
    return codes


def client_json(b, client_id) -> dict | None:
    """The `client` object of GET /api/v1/clients/{id}, or None for 404."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{b.api_port}/api/v1/clients/{client_id}", timeout=5) as response:
            return json.loads(response.read())["client"]
    except urllib.error.HTTPError as error:
        if error.code == 404:
            return None
        raise


def tls_connected(certs, port, client_id, username=None, cert=None, key=None, protocol=paho.MQTTv5,  # noqa: F811
                  transport="tcp"):
    c, _ = tls_client(certs, port, client_id, protocol, cert=cert, key=key, transport=transport)
    if username is not None:
        c.username_pw_set(username, "any")
    connect(c, port)
    return c


def tcp_connected(b, client_id, username):
    c = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv5)
    c.username_pw_set(username, "any")
    c.connect("127.0.0.1", b.port, keepalive=30)
    c.loop_start()
    wait_for(c.is_connected, 5, message="the TCP client connects")
    return c


def test_cn_as_username_gets_that_users_acl(broker_factory, certs, alice, tmp_path, uid):  # noqa: F811
    b, port = start(broker_factory, certs, tmp_path, peer_cert_as_username="cn")
    # A different user name, and none at all: the certificate's CN replaces it, and alice's rules apply.
    for n, username in enumerate(["mallory", None], 1):
        c = tls_connected(certs, port, f"{uid}-{n}", username, cert=alice["cert"], key=alice["key"],
                          protocol=paho.MQTTv5 if n == 1 else paho.MQTTv311)
        try:
            assert subscribe(c, "alice/#", "public/#") == ([1, 0x87] if n == 1 else [1, 0x80])
            info = client_json(b, f"{uid}-{n}")
            assert info["username"] == "alice"
            assert info["peer_cert_cn"] == "alice"
            assert info["tls_version"] in ("tlsv1.2", "tlsv1.3")
            assert "tls_cipher" not in info
        finally:
            stop(c)
    wait_for(lambda: "identity from the client certificate: username \"mallory\" -> \"alice\"" in b.log_text(), 5,
             message="the replacement is logged at debug")

    # No certificate, or one without a CN: the client's own user name stays (mallory has no rules).
    c = tls_connected(certs, port, f"{uid}-none", "mallory")
    try:
        assert subscribe(c, "alice/#") == [0x87]
        info = client_json(b, f"{uid}-none")
        assert info["username"] == "mallory" and "peer_cert_cn" not in info and "tls_version" in info
    finally:
        stop(c)
    c = tls_connected(certs, port, f"{uid}-nocn", "mallory", cert=alice["no_cn"], key=alice["no_cn_key"])
    try:
        assert subscribe(c, "alice/#") == [0x87]
        assert client_json(b, f"{uid}-nocn")["username"] == "mallory"
    finally:
        stop(c)


def test_dn_as_username(broker_factory, certs, alice, tmp_path, uid):  # noqa: F811
    assert tlscerts.rfc2253_subject(alice["cert"]) == DN, "the DN is written as openssl's RFC 2253 form prints it"
    b, port = start(broker_factory, certs, tmp_path, acl_user=DN, peer_cert_as_username="dn")
    c = tls_connected(certs, port, f"{uid}-dn", "alice", cert=alice["cert"], key=alice["key"])
    try:
        assert subscribe(c, "alice/#") == [1]
        assert client_json(b, f"{uid}-dn")["username"] == DN
    finally:
        stop(c)


def test_cn_as_client_id_and_nothing_on_tcp(broker_factory, certs, alice, tmp_path, uid):  # noqa: F811
    b, port = start(broker_factory, certs, tmp_path, peer_cert_as_clientid="cn", peer_cert_as_username="cn")
    c = tls_connected(certs, port, f"{uid}-own", "bob", cert=alice["cert"], key=alice["key"])
    try:
        wait_for(lambda: client_json(b, "alice") is not None, 5, message="the session is listed under the CN")
        info = client_json(b, "alice")
        assert info["connected"] and info["username"] == "alice" and info["peer_cert_cn"] == "alice"
        assert client_json(b, f"{uid}-own") is None
    finally:
        stop(c)

    # An empty client id (5.0): CONNACK assigns the certificate's CN.
    assigned = []
    c, _ = tls_client(certs, port, "", paho.MQTTv5, cert=alice["cert"], key=alice["key"])
    c.on_connect = lambda client, userdata, flags, reason, properties: assigned.append(
        getattr(properties, "AssignedClientIdentifier", None))
    connect(c, port)
    try:
        wait_for(lambda: assigned, 5, message="CONNACK")
        assert assigned == ["alice"]
    finally:
        stop(c)

    # On the tcp listener the settings do nothing, and the client has no TLS fields.
    t = tcp_connected(b, f"{uid}-tcp", "mallory")
    try:
        info = client_json(b, f"{uid}-tcp")
        assert info["username"] == "mallory"
        assert "tls_version" not in info and "peer_cert_cn" not in info
    finally:
        t.disconnect()
        t.loop_stop()


def test_cn_as_username_over_wss(broker_factory, certs, alice, tmp_path, uid):  # noqa: F811
    """Over WebSocket the MQTT handler is added after the upgrade, and is given what TLS knows then."""
    b, port = start(broker_factory, certs, tmp_path, kind="wss", peer_cert_as_username="cn")
    c = tls_connected(certs, port, f"{uid}-wss", "mallory", cert=alice["cert"], key=alice["key"], transport="websockets")
    try:
        assert subscribe(c, "alice/#", "public/#") == [1, 0x87]
        info = client_json(b, f"{uid}-wss")
        assert info["username"] == "alice" and info["peer_cert_cn"] == "alice" and "tls_version" in info
    finally:
        stop(c)
