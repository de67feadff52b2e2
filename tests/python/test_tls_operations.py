"""TLS in operation, against the real binary: certificates rotated by `starling ctl reload`, SIGHUP and
POST /api/v1/reload while a TLS client stays connected, a bad new certificate that keeps the old one in
force, and the HTTP API served over TLS ([api.ssl_options]) and reached by `starling ctl --api https://`.
"""
import hashlib
import json
import shutil
import signal
import socket
import ssl
import subprocess
import urllib.error
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

import tlscerts
from conftest import starling_binary, wait_for
from test_tls import connect, stop, tls_client, tls_port

# Mosquitto has neither this reload nor this API.
pytestmark = pytest.mark.starling_only


@pytest.fixture(scope="module")
def certs(tmp_path_factory) -> tlscerts.Certs:
    certs = tlscerts.make_certs(tmp_path_factory.mktemp("certs"))
    # A second server certificate from the same CA: the one rotated in.
    tlscerts.server_certificate(certs, "server2")
    return certs


def fingerprint(port: int, ca, server_name="localhost") -> str:
    """The SHA-256 of the certificate a new TLS connection to `port` is shown."""
    context = ssl.create_default_context(cafile=str(ca))
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname=server_name) as tls:
            return hashlib.sha256(tls.getpeercert(binary_form=True)).hexdigest()


def file_fingerprint(cert) -> str:
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(cert.read_text())).hexdigest()


def install(certs, workdir, name):
    """Copies certificate NAME and its key over the files the broker's config names."""
    shutil.copyfile(certs.dir / f"{name}.pem", workdir / "live.pem")
    shutil.copyfile(certs.dir / f"{name}.key", workdir / "live.key")


def ctl(*args, timeout=20) -> subprocess.CompletedProcess:
    return subprocess.run([str(starling_binary()), "ctl", *args], capture_output=True, text=True, timeout=timeout)


def https_get(port, path, ca, cert=None, key=None):
    context = ssl.create_default_context(cafile=str(ca))
    if cert:
        context.load_cert_chain(str(cert), str(key))
    with urllib.request.urlopen(f"https://127.0.0.1:{port}{path}", context=context, timeout=5) as response:
        return json.loads(response.read())


def api_failures(port, ca) -> dict[str, float]:
    """starling_tls_handshake_failures_total{listener="api"} by reason, read over HTTPS."""
    context = ssl.create_default_context(cafile=str(ca))
    with urllib.request.urlopen(f"https://127.0.0.1:{port}/api/v1/prometheus", context=context, timeout=5) as response:
        text = response.read().decode()
    return {sample.labels["reason"]: sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples
            if sample.name == "starling_tls_handshake_failures_total" and sample.labels["listener"] == "api"}


def https_reload(port, ca):
    context = ssl.create_default_context(cafile=str(ca))
    request = urllib.request.Request(f"https://127.0.0.1:{port}/api/v1/reload", method="POST")
    try:
        with urllib.request.urlopen(request, context=context, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def plain_reload(b):
    request = urllib.request.Request(f"http://127.0.0.1:{b.api_port}/api/v1/reload", method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def rotating_broker(broker_factory, certs, tmp_path):
    install(certs, tmp_path, "server")
    return broker_factory({
        "listeners.ssl.default": {"bind": "127.0.0.1", "port": 0},
        "listeners.ssl.default.ssl_options": {"certfile": str(tmp_path / "live.pem"), "keyfile": str(tmp_path / "live.key")},
    })


def test_reload_rotates_the_certificate_and_open_connections_stay(broker_factory, client_factory, certs, tmp_path, uid):
    b = rotating_broker(broker_factory, certs, tmp_path)
    port = tls_port(b)
    first, second = file_fingerprint(certs.server), file_fingerprint(certs.dir / "server2.pem")
    assert fingerprint(port, certs.ca) == first
    c, got = tls_client(certs, port, f"{uid}-stays")
    connect(c, port)
    try:
        c.subscribe(f"{uid}/t", qos=1)
        install(certs, tmp_path, "server2")
        done = ctl("--api", f"127.0.0.1:{b.api_port}", "reload")
        assert done.returncode == 0, done.stderr
        assert "certificates read again" in done.stdout and "listeners.ssl.default.ssl_options" in done.stdout
        assert fingerprint(port, certs.ca) == second, "a new connection gets the new certificate"

        # The connection made before the reload carries on.
        publisher = client_factory(b, "tcp")

        def delivered():
            publisher.publish(f"{uid}/t", b"after rotation", qos=1)
            return got
        wait_for(delivered, 5, interval=0.2, message="the TLS client connected before the reload still receives")
        assert c.is_connected() and got[0].payload == b"after rotation"

        # SIGHUP rotates back.
        install(certs, tmp_path, "server")
        b.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: fingerprint(port, certs.ca) == first, 5, message="SIGHUP puts the first certificate back")
        assert c.is_connected()
    finally:
        stop(c)


@pytest.mark.parametrize("bad,fault", [
    ("expired", "the certificate expired on 2020-01-02"),
    ("garbage", "holds no PEM certificate"),
    ("mismatch", "the key does not match the certificate"),
])
def test_a_bad_new_certificate_keeps_the_old_one(broker_factory, certs, tmp_path, bad, fault):
    b = rotating_broker(broker_factory, certs, tmp_path)
    port = tls_port(b)
    in_force = file_fingerprint(certs.server)
    if bad == "expired":
        shutil.copyfile(certs.expired_server, tmp_path / "live.pem")
        shutil.copyfile(certs.server_key, tmp_path / "live.key")  # any key: the date is checked first
    elif bad == "garbage":
        (tmp_path / "live.pem").write_text("not a certificate\n")
    else:
        shutil.copyfile(certs.other_key, tmp_path / "live.key")
    status, answer = plain_reload(b)
    assert status == 400, answer
    key, file = ("keyfile", "live.key") if bad == "mismatch" else ("certfile", "live.pem")
    assert f'listeners.ssl.default.ssl_options.{key} = "{tmp_path / file}": ' in answer["message"], answer
    assert fault in answer["message"], answer
    assert fingerprint(port, certs.ca) == in_force, "the certificate in force stays"
    wait_for(lambda: "reload failed, nothing changed" in b.log_text(), 5, message="the failed reload is logged")
    done = ctl("--api", f"127.0.0.1:{b.api_port}", "reload")
    assert done.returncode == 1 and fault in done.stderr, done


def test_a_changed_certificate_path_waits_for_a_restart(broker_factory, certs, tmp_path):
    b = rotating_broker(broker_factory, certs, tmp_path)
    port = tls_port(b)
    text = b.config_path.read_text().replace(str(tmp_path / "live.pem"), str(certs.dir / "server2.pem"))
    b.config_path.write_text(text.replace(str(tmp_path / "live.key"), str(certs.dir / "server2.key")))
    status, answer = plain_reload(b)
    assert status == 200, answer
    assert {c["key"] for c in answer["restart_required"]} == {
        "listeners.ssl.default.ssl_options.certfile", "listeners.ssl.default.ssl_options.keyfile"}
    assert answer["certificates_reloaded"] == []
    assert fingerprint(port, certs.ca) == file_fingerprint(certs.server)


# -- the HTTP API over TLS


def api_tls_broker(broker_factory, certs, tmp_path, **options):
    install(certs, tmp_path, "server")
    ssl_options = {"certfile": str(tmp_path / "live.pem"), "keyfile": str(tmp_path / "live.key")}
    ssl_options.update(options)
    return broker_factory({"api.ssl_options": ssl_options})


def test_the_api_over_tls_with_ctl(broker_factory, certs, tmp_path):
    b = api_tls_broker(broker_factory, certs, tmp_path)
    wait_for(lambda: "scheme=https" in b.log_text(), 5, message="the API logs that it serves https")
    port = b.api_port
    assert https_get(port, "/api/v1/status", certs.ca)["status"] == "running"
    api = f"https://127.0.0.1:{port}"

    done = ctl("--api", api, "--cacert", str(certs.ca), "status")
    assert done.returncode == 0 and "running" in done.stdout, done
    done = ctl("--api", api, "status")  # no --cacert: the system's trust store knows no test CA
    assert done.returncode == 1 and "TLS: the handshake failed: CERTIFICATE_VERIFY_FAILED" in done.stderr, done
    done = ctl("--api", api, "--cacert", str(certs.dir / "other-ca.pem"), "status")
    assert done.returncode == 1 and "CERTIFICATE_VERIFY_FAILED" in done.stderr, done
    done = ctl("--api", f"127.0.0.1:{port}", "status")  # plain HTTP to the TLS port
    assert done.returncode == 1 and "does its API serve HTTPS? then use --api https://HOST:PORT" in done.stderr, done
    done = ctl("--api", api, "--cacert", str(tmp_path / "missing.pem"), "status")
    assert done.returncode == 1 and f"--cacert {tmp_path / 'missing.pem'}: cannot read the file" in done.stderr, done
    done = ctl("--api", f"127.0.0.1:{port}", "--cacert", str(certs.ca), "status")
    assert done.returncode == 1 and "give --api https://HOST:PORT" in done.stderr, done

    # A plain HTTP request to the API's port is a refused handshake, counted under listener "api"
    # (ctl's plain attempt above was one already).
    before = api_failures(port, certs.ca)["not_tls"]
    assert before >= 1
    with pytest.raises((urllib.error.URLError, ConnectionError)):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/status", timeout=5)
    wait_for(lambda: api_failures(port, certs.ca)["not_tls"] == before + 1, 5,
             message=lambda: f"one more not_tls failure counted for listener api: {api_failures(port, certs.ca)}")

    # The API's certificate rotates with the listeners'.
    install(certs, tmp_path, "server2")
    status, answer = https_reload(port, certs.ca)
    assert status == 200 and answer["certificates_reloaded"] == ["api.ssl_options"], answer
    assert fingerprint(port, certs.ca) == file_fingerprint(certs.dir / "server2.pem")


def test_the_api_asking_for_client_certificates(broker_factory, certs, tmp_path):
    b = api_tls_broker(broker_factory, certs, tmp_path, cacertfile=str(certs.ca), verify="verify_peer",
                       fail_if_no_peer_cert=True)
    api = f"https://127.0.0.1:{b.api_port}"
    done = ctl("--api", api, "--cacert", str(certs.ca), "--certfile", str(certs.client), "--keyfile",
               str(certs.client_key), "status")
    assert done.returncode == 0 and "running" in done.stdout, done
    done = ctl("--api", api, "--cacert", str(certs.ca), "status")
    assert done.returncode == 1 and "TLS" in done.stderr, done
    done = ctl("--api", api, "--cacert", str(certs.ca), "--certfile", str(certs.client), "status")
    assert done.returncode == 1 and "--certfile and --keyfile go together" in done.stderr, done
    assert https_get(b.api_port, "/api/v1/status", certs.ca, certs.client, certs.client_key)["status"] == "running"


def test_bad_api_certificate_files_stop_start_up(tmp_path, certs):
    from conftest import run_to_exit
    status, stderr = run_to_exit(tmp_path, f'[api.ssl_options]\ncertfile = "{certs.server}"\nkeyfile = "{certs.other_key}"\n')
    assert status == 2, stderr
    assert f'api.ssl_options.keyfile = "{certs.other_key}": the key does not match the certificate' in stderr
    status, stderr = run_to_exit(tmp_path, f'[api.ssl_options]\ncertfile = "{certs.server}"\n')
    assert status == 2 and "api.ssl_options.keyfile: not set" in stderr, stderr
