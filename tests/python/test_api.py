"""The HTTP management API (/api/v1) and `starling ctl`, against the real binary with real clients.

Every request goes through urllib (no client library of ours); MQTT clients are paho-mqtt and raw sockets.
"""
import base64
import json
import subprocess
import urllib.error
import urllib.parse
import urllib.request

import pytest

import mqttraw as m
from conftest import raw_connect_ok, raw_subscribe, starling_binary, wait_for

pytestmark = pytest.mark.starling_only  # Mosquitto has no HTTP API


def api(broker, method, path, body=None, auth=None, raw_query=None):
    """(status, parsed JSON or text) of one request; never raises for HTTP errors."""
    url = f"http://127.0.0.1:{broker.api_port}/api/v1{path}"
    if raw_query:
        url += "?" + raw_query
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if auth:
        req.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            status, text, ctype = resp.status, resp.read().decode(), resp.headers.get("Content-Type", "")
    except urllib.error.HTTPError as e:
        status, text, ctype = e.code, e.read().decode(), e.headers.get("Content-Type", "")
    if "json" in ctype and text:
        return status, json.loads(text)
    return status, text


def ctl(broker, *args, auth=None, timeout=20):
    cmd = [str(starling_binary()), "ctl", "--api", f"127.0.0.1:{broker.api_port}"]
    if auth:
        cmd += ["--key", auth]
    return subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=timeout)


def test_status_nodes_stats(broker, client_factory):
    client_factory(broker, "a")
    status, body = api(broker, "GET", "/status")
    assert status == 200 and body["node"] == "starling@127.0.0.1" and body["uptime_seconds"] >= 0, body
    status, body = api(broker, "GET", "/nodes")
    assert status == 200 and body["data"][0]["name"] == "starling@127.0.0.1", body
    ports = [listener["port"] for listener in body["data"][0]["listeners"]]
    assert broker.port in ports, body
    status, body = api(broker, "GET", "/stats")
    assert status == 200 and body["connections"]["current"] >= 1 and body["connections"]["max"] >= 1, body


def test_clients_list_filters_and_paging(broker, client_factory, uid):
    for i in range(5):
        client_factory(broker, f"v5-{i}")
    client_factory(broker, "old", protocol=4)
    status, body = api(broker, "GET", "/clients", raw_query=urllib.parse.urlencode({"clientid_prefix": f"{uid}-v5"}))
    assert status == 200 and body["meta"]["count"] == 5, body
    assert all(c["proto_ver"] == "5.0" and c["connected"] for c in body["data"]), body
    status, body = api(broker, "GET", "/clients", raw_query=f"proto_ver=3.1.1&clientid_prefix={uid}")
    assert [c["clientid"] for c in body["data"]] == [f"{uid}-old"], body
    status, page1 = api(broker, "GET", "/clients", raw_query=f"clientid_prefix={uid}&limit=4&page=1")
    status, page2 = api(broker, "GET", "/clients", raw_query=f"clientid_prefix={uid}&limit=4&page=2")
    assert len(page1["data"]) == 4 and len(page2["data"]) == 2 and page1["meta"]["count"] == 6
    assert not {c["clientid"] for c in page1["data"]} & {c["clientid"] for c in page2["data"]}


def test_client_show_and_404(broker, client_factory, uid):
    c = client_factory(broker, "shown")
    assert c.subscribe(f"{uid}/x/#", 1) == [1]
    status, body = api(broker, "GET", f"/clients/{urllib.parse.quote(c.client_id, safe='')}")
    assert status == 200 and body["client"]["clientid"] == c.client_id, body
    assert [s["topic"] for s in body["subscriptions"]] == [f"{uid}/x/#"], body
    status, body = api(broker, "GET", "/clients/nobody-here")
    assert status == 404 and body["code"] and body["message"], body


def test_kick_sends_disconnect_0x98(broker, raw_factory, uid):
    r = raw_factory(broker)
    raw_connect_ok(r, f"{uid}-kicked")
    status, _ = api(broker, "DELETE", f"/clients/{uid}-kicked")
    assert status == 204
    got = r.read_until_closed(5)
    assert [(p.type, p.rc) for p in got] == [(m.DISCONNECT, 0x98)], got
    wait_for(lambda: api(broker, "GET", f"/clients/{uid}-kicked")[0] == 404, 5, message="the kicked session is gone")


def test_http_publish_reaches_a_paho_subscriber(broker, client_factory, uid):
    sub = client_factory(broker, "sub")
    assert sub.subscribe(f"{uid}/http", 1) == [1]
    status, body = api(broker, "POST", "/publish", {
        "topic": f"{uid}/http", "payload": "from http", "qos": 1,
        "properties": {"user_properties": {"k": "v"}, "content_type": "text/plain"}})
    assert status == 200 and body["matched"] == 1, body
    sub.wait_messages(1)
    msg = sub.messages[0]
    assert msg.payload == b"from http" and msg.qos == 1
    assert msg.properties.ContentType == "text/plain" and ("k", "v") in msg.properties.UserProperty
    status, body = api(broker, "POST", "/publish/batch", [
        {"topic": f"{uid}/http", "payload": base64.b64encode(b"\x00\x01").decode(), "payload_encoding": "base64"},
        {"topic": f"{uid}/http", "payload": "two"}])
    assert status == 200 and [r["matched"] for r in body] == [1, 1], body
    sub.wait_messages(3)
    assert [m_.payload for m_ in sub.messages[1:]] == [b"\x00\x01", b"two"]


def test_retained_list_and_delete(broker, client_factory, uid):
    pub = client_factory(broker, "pub")
    pub.publish(f"{uid}/r/a", b"kept", qos=1, retain=True)
    topic = f"{uid}/r/a"
    status, body = api(broker, "GET", "/retained")
    mine = [r for r in body["data"] if r["topic"] == topic]
    assert status == 200 and mine and mine[0]["payload"] == "kept", body
    status, _ = api(broker, "DELETE", "/retained/" + urllib.parse.quote(topic, safe=""))
    assert status == 204
    status, body = api(broker, "GET", "/retained")
    assert not [r for r in body["data"] if r["topic"] == topic]
    status, _ = api(broker, "DELETE", "/retained/" + urllib.parse.quote(topic, safe=""))
    assert status == 404


def test_routes_and_subscriptions(broker, client_factory, uid):
    c = client_factory(broker, "routed")
    assert c.subscribe(f"{uid}/route/+", 0) == [0]
    status, body = api(broker, "GET", "/routes", raw_query="limit=10000")
    assert {"topic": f"{uid}/route/+", "nodes": ["starling@127.0.0.1"]} in body["data"], body
    status, body = api(broker, "GET", "/subscriptions", raw_query=f"clientid={urllib.parse.quote(c.client_id)}")
    assert status == 200 and [s["topic"] for s in body["data"]] == [f"{uid}/route/+"], body


@pytest.mark.parametrize("query,param", [("limit=0", "limit"), ("page=abc", "page"), ("bogus=1", "bogus"),
                                         ("proto_ver=6", "proto_ver"), ("connected=maybe", "connected")])
def test_bad_parameters_answer_400_naming_the_parameter(broker, query, param):
    status, body = api(broker, "GET", "/clients", raw_query=query)
    assert status == 400 and param in body["message"], body


@pytest.mark.parametrize("body,param", [({"payload": "x"}, "topic"), ({"topic": "a/+", "payload": "x"}, "topic"),
                                        ({"topic": "a", "payload": "x", "qos": 3}, "qos"),
                                        ({"topic": "a", "payload": "%%", "payload_encoding": "base64"}, "payload")])
def test_bad_publish_answers_400_naming_the_field(broker, body, param):
    status, answer = api(broker, "POST", "/publish", body)
    assert status == 400 and param in answer["message"], answer


def test_api_keys_guard_the_api_once_one_exists(broker):
    status, created = api(broker, "POST", "/api_keys", {"name": "ops"})
    assert status in (200, 201) and created["key"] and created["secret"], created
    good = f"{created['key']}:{created['secret']}"
    assert api(broker, "GET", "/status")[0] == 401
    assert api(broker, "GET", "/status", auth=f"{created['key']}:wrong")[0] == 401
    assert api(broker, "GET", "/status", auth=good)[0] == 200
    status, keys = api(broker, "GET", "/api_keys", auth=good)
    assert status == 200 and "secret" not in json.dumps(keys), keys
    done = ctl(broker, "status", auth=good)
    assert done.returncode == 0, done.stderr
    refused = ctl(broker, "status")
    assert refused.returncode != 0 and len(refused.stderr.strip().splitlines()) == 1, refused.stderr


def test_ctl_subcommands(broker, client_factory, raw_factory, uid):
    c = client_factory(broker, "ctl-sub")
    assert c.subscribe(f"{uid}/ctl", 1) == [1]
    out = ctl(broker, "status")
    assert out.returncode == 0 and "starling@127.0.0.1" in out.stdout, out.stderr
    out = ctl(broker, "clients", "list", "--json")
    assert out.returncode == 0 and c.client_id in [x["clientid"] for x in json.loads(out.stdout)["data"]]
    out = ctl(broker, "clients", "show", c.client_id)
    assert out.returncode == 0 and f"{uid}/ctl" in out.stdout
    out = ctl(broker, "publish", "--topic", f"{uid}/ctl", "--payload", "via ctl", "--qos", "1")
    assert out.returncode == 0, out.stderr
    c.wait_messages(1)
    assert c.messages[0].payload == b"via ctl"
    assert ctl(broker, "subscriptions", "list").returncode == 0
    assert f"{uid}/ctl" in ctl(broker, "routes", "list").stdout
    assert ctl(broker, "metrics").returncode == 0
    r = raw_factory(broker)
    raw_connect_ok(r, f"{uid}-to-kick")
    assert ctl(broker, "clients", "kick", f"{uid}-to-kick").returncode == 0
    assert [(p.type, p.rc) for p in r.read_until_closed(5)] == [(m.DISCONNECT, 0x98)]
    missing = ctl(broker, "clients", "show", "nobody")
    assert missing.returncode != 0


def test_ctl_unreachable_node_is_one_line(tmp_path):
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    out = subprocess.run([str(starling_binary()), "ctl", "--api", f"127.0.0.1:{port}", "status"],
                         capture_output=True, text=True, timeout=20)
    assert out.returncode != 0 and len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr


def test_ctl_options_after_the_subcommand(broker):
    out = subprocess.run([str(starling_binary()), "ctl", "status", "--api", f"127.0.0.1:{broker.api_port}", "--json"],
                         capture_output=True, text=True, timeout=20)
    assert out.returncode == 0 and json.loads(out.stdout)["node"] == "starling@127.0.0.1", out.stderr


def test_reload_applies_live_settings_and_names_restart_keys(broker_factory, raw_factory, uid):
    b = broker_factory({"mqtt": {"allow_anonymous": True}})
    assert raw_factory(b).connect(f"{uid}-before").rc == 0
    b.config_path.write_text('[mqtt]\nallow_anonymous = false\n\n[node]\nname = "renamed@127.0.0.1"\n')
    status, body = api(b, "POST", "/reload")
    assert status == 200 and {"key": "mqtt.allow_anonymous", "old": "true", "new": "false"} in body["changed"], body
    assert "node.name" in [change["key"] for change in body["restart_required"]], body
    assert raw_factory(b).connect(f"{uid}-anon").rc == 0x87
    b.config_path.write_text("this is [not toml")
    status, body = api(b, "POST", "/reload")
    assert status == 400 and "config" in body["message"], body
    assert raw_factory(b).connect(f"{uid}-anon2").rc == 0x87, "a bad config changes nothing"


def test_metrics_json_counts_packets_bytes_and_outcomes(broker, client_factory, uid):
    sub = client_factory(broker, "m-sub")
    assert sub.subscribe(f"{uid}/m", 1) == [1]
    pub = client_factory(broker, "m-pub")
    for i in range(3):
        pub.publish(f"{uid}/m", f"{i}", qos=1)
    pub.publish(f"{uid}/nobody", b"x", qos=1)
    sub.wait_messages(3)
    status, m_ = api(broker, "GET", "/metrics")
    assert status == 200, m_
    assert m_["packets.received.publish"] == 4 and m_["packets.sent.puback"] == 4, m_
    assert m_["packets.received.subscribe"] == 1 and m_["packets.sent.suback"] == 1, m_
    assert m_["messages.received"] == 4 and m_["messages.dropped.no_subscribers"] == 1, m_
    assert m_["bytes.received"] > 0 and m_["bytes.sent"] > 0 and m_["client.connects"] == 2, m_
    assert m_["authentication.anonymous"] == 2 and "authorization.publish.deny" in m_, m_
