"""plugins/auth-cert through the real binary, with certificates made by tlscerts.py: clients over
mutual TLS (paho-mqtt) allowed by their certificate's CN (`allow_cns`, `cn_equals_clientid`), other
certificates refused with CONNACK 0x87 (3.1.1: return code 5), clients without a certificate passed
on or refused (`no_certificate`), bad options stopping start-up; and what plugins see (ABI 1.4): the
test plugin of Tests/PluginTests/Fixtures logs the certificate fields of its events and writes the
PEM it got to a file, which must be the client's certificate file.
"""
import ssl
import subprocess

import paho.mqtt.client as paho
import pytest

import mqttraw
import tlscerts
from conftest import REPO, RawToml, run_to_exit, toml_value, wait_for
from test_plugins import CC_LINE, build_plugin
from test_tls import certs, connect, stop, tls_client, tls_config, tls_port  # noqa: F401  (certs is a fixture)
from test_tls_identity import subscribe

pytestmark = pytest.mark.starling_only  # Starling's plugin interface

SUBJECTS = {"alice": "/C=GB/O=Example/CN=alice", "mallory": "/O=Example/CN=mallory", "device-42": "/CN=device-42",
            "no-cn": "/O=Example/OU=devices"}
HOOKS = ["client_connect", "authenticate", "authorize_subscribe", "authorize_publish"]


@pytest.fixture(scope="module")
def clients(certs):  # noqa: F811
    """A client certificate and key, signed by the test CA, per name of SUBJECTS."""
    return {name: tlscerts.client_with_subject(certs, f"auth-cert-{name}", subject) for name, subject in SUBJECTS.items()}


def start(broker_factory, certs, tmp_path, kind="ssl", **options):  # noqa: F811
    """A broker with a KIND listener that asks for (but does not require) client certificates,
    anonymous clients allowed, and auth-cert with `options`."""
    plugin = build_plugin("plugins/auth-cert/auth_cert.c", tmp_path / "auth-cert.so")
    config = tls_config(certs, kind=kind, cacertfile=str(certs.ca), verify="verify_peer")
    config["mqtt"] = {"allow_anonymous": True}
    inline = ", ".join(f"{key} = {toml_value(value)}" for key, value in options.items())
    config["[plugins]"] = {"path": str(plugin), "options": RawToml(f"{{ {inline} }}")}
    b = broker_factory(config)
    return b, tls_port(b, kind)


def connack(certs, port, client_id, cert_key=None, protocol=paho.MQTTv5) -> int:  # noqa: F811
    """The reason code of the CONNACK paho gets over TLS, presenting `cert_key` (none when None)."""
    cert, key = cert_key or (None, None)
    c, _ = tls_client(certs, port, client_id, protocol, cert=cert, key=key)
    codes = []
    c.on_connect = lambda client, userdata, flags, reason, properties: codes.append(reason.value)
    c.connect("localhost", port, keepalive=30)
    c.loop_start()
    try:
        wait_for(lambda: codes, 5, message=f"{client_id} gets a CONNACK")
        return codes[0]
    finally:
        stop(c)


def raw_connack(certs, port, client_id, cert_key, version) -> int:  # noqa: F811
    """The CONNACK code a raw client gets over TLS: the 3.1.1 return code as sent (paho maps it)."""
    raw = mqttraw.RawClient("127.0.0.1", port, version)
    try:
        context = ssl.create_default_context(cafile=str(certs.ca))
        context.load_cert_chain(*map(str, cert_key))
        raw.sock = context.wrap_socket(raw.sock, server_hostname="localhost")
        return raw.connect(client_id).rc
    finally:
        raw.close()


def connected(certs, port, client_id, cert_key, protocol=paho.MQTTv5, transport="tcp"):  # noqa: F811
    """A paho client connected over TLS with `cert_key`; the caller stops it."""
    c, _ = tls_client(certs, port, client_id, protocol, cert=cert_key[0], key=cert_key[1], transport=transport)
    connect(c, port)
    return c


def test_a_listed_cn_connects_and_any_other_certificate_is_refused(broker_factory, raw_factory, certs,  # noqa: F811
                                                                   clients, tmp_path, uid):
    b, port = start(broker_factory, certs, tmp_path, allow_cns="client-good, alice")
    assert "allowing CNs [client-good, alice]; clients without a certificate: ignore" in b.log_text()
    for n, (cert_key, protocol) in enumerate([(clients["alice"], paho.MQTTv5), (clients["alice"], paho.MQTTv311),
                                              ((certs.client, certs.client_key), paho.MQTTv5)]):
        c = connected(certs, port, f"{uid}-any-{n}", cert_key, protocol)  # any client id: the CN decides
        try:
            assert subscribe(c, "t/#") == [1]
        finally:
            stop(c)
    # A trusted certificate whose CN is not listed, and one without a CN: not authorized.
    assert connack(certs, port, f"{uid}-mallory", clients["mallory"]) == 0x87
    assert connack(certs, port, f"{uid}-no-cn", clients["no-cn"]) == 0x87
    assert raw_connack(certs, port, f"{uid}-mallory-3", clients["mallory"], mqttraw.V311) == 5
    assert raw_connack(certs, port, f"{uid}-alice-3", clients["alice"], mqttraw.V311) == 0
    # No certificate: passed on (no_certificate = "ignore"), and mqtt.allow_anonymous lets it in.
    assert connack(certs, port, f"{uid}-tls-anonymous") == 0
    assert raw_factory(b).connect(f"{uid}-tcp").rc == 0


def test_cn_equal_to_the_client_id(broker_factory, certs, clients, tmp_path):  # noqa: F811
    b, port = start(broker_factory, certs, tmp_path, cn_equals_clientid=True)
    for client_id, name in [("device-42", "device-42"), ("alice", "alice")]:
        stop(connected(certs, port, client_id, clients[name]))
    assert connack(certs, port, "device-43", clients["device-42"]) == 0x87
    assert connack(certs, port, "device-42", clients["alice"]) == 0x87
    assert connack(certs, port, "alice", clients["no-cn"]) == 0x87
    assert raw_connack(certs, port, "device-42", clients["device-42"], mqttraw.V311) == 0
    assert raw_connack(certs, port, "Device-42", clients["device-42"], mqttraw.V311) == 5


def test_clients_without_a_certificate_are_refused_with_no_certificate_deny(broker_factory, raw_factory, certs,  # noqa: F811
                                                                            clients, tmp_path, uid):
    b, port = start(broker_factory, certs, tmp_path, allow_cns="alice", no_certificate="deny")
    assert connack(certs, port, f"{uid}-tls-anonymous") == 0x87
    assert raw_factory(b).connect(f"{uid}-tcp").rc == 0x87
    assert raw_factory(b, mqttraw.V311).connect(f"{uid}-tcp-3").rc == 5
    stop(connected(certs, port, f"{uid}-alice", clients["alice"]))


@pytest.mark.parametrize("options,message", [
    ('no_certificate = "maybe"', "option no_certificate must be ignore or deny"),
    ('allow_cns = " , "', "set allow_cns, cn_equals_clientid = true, or both"),
    ('allow_cns = "alice", cn_equals_clientid = "yes"', "option cn_equals_clientid must be true or false"),
    ('allow_cn = "alice"', "unknown option allow_cn; known: allow_cns, cn_equals_clientid, no_certificate"),
], ids=["no_certificate", "no-rule", "cn_equals_clientid", "unknown"])
def test_bad_options_stop_start_up(tmp_path, options, message):
    plugin = build_plugin("plugins/auth-cert/auth_cert.c", tmp_path / "auth-cert.so")
    status, stderr = run_to_exit(tmp_path, f'[[plugins]]\npath = "{plugin}"\noptions = {{ {options} }}\n')
    assert status == 2, stderr
    assert message in stderr
    assert f"cannot load plugin {plugin}: starling_plugin_init returned 2" in stderr


@pytest.mark.parametrize("kind,transport", [("ssl", "tcp"), ("wss", "websockets")])
def test_plugins_see_the_certificate_dn_cn_and_pem(broker_factory, client_factory, certs, clients, tmp_path,  # noqa: F811
                                                  uid, kind, transport):
    plugin = tmp_path / "test-plugin.so"
    subprocess.run(CC_LINE + ["-D_POSIX_C_SOURCE=200809L", "-o", str(plugin), "Tests/PluginTests/Fixtures/test_plugin.c"],
                   cwd=REPO, check=True, capture_output=True, text=True)
    seen = tmp_path / "seen"
    seen.mkdir()
    config = tls_config(certs, kind=kind, cacertfile=str(certs.ca), verify="verify_peer")
    config["mqtt"] = {"allow_anonymous": True}
    config["[plugins]"] = {"path": str(plugin), "options": RawToml(f'{{ log_certs = "{seen}" }}')}
    b = broker_factory(config)
    port = tls_port(b, kind)
    cert, _ = clients["alice"]

    tls_id, tcp_id = f"{uid}-tls", f"{uid}-tcp"  # client_factory names its client UID-NAME
    c = connected(certs, port, tls_id, clients["alice"], transport=transport)
    try:
        assert subscribe(c, "seen/#") == [1]
        published = c.publish("seen/x", b"x", qos=1)
        published.wait_for_publish(5)
        assert published.is_published(), "PUBACK"
    finally:
        stop(c)
    t = client_factory(b, "tcp")
    assert t.subscribe("seen/#", 1) == [1]
    t.publish("seen/x", b"x", qos=1)

    pem = cert.read_text() + certs.ca.read_text()  # the verified chain: the client's certificate, then the CA
    dn = tlscerts.rfc2253_subject(cert)
    assert dn == "CN=alice,O=Example,C=GB"
    for hook in HOOKS:
        line = f"{hook} {tls_id} cert cn alice (5) dn {dn} ({len(dn)}) pem {len(pem)}"
        wait_for(lambda: line in b.log_text(), 5, message=f"the test plugin logs '{line}'")
        assert (seen / f"{hook}-{tls_id}.pem").read_text() == pem, f"{hook}: the PEM is the client's certificate, then the CA's"
        wait_for(lambda: f"{hook} {tcp_id} cert none" in b.log_text(), 5, message=f"{hook}: nothing for the TCP client")
        assert not (seen / f"{hook}-{tcp_id}.pem").exists()
