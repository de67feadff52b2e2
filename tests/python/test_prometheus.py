"""GET /api/v1/prometheus: the node's metrics in the Prometheus text format (StarlingMetrics'
MetricsExporter behind the HTTP API).

The broker fixture starts Starling with `--api-port 0`; `broker.api_port` is the port it reports.
"""

from __future__ import annotations

import re
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

import conftest
from conftest import wait_for

pytestmark = pytest.mark.starling_only

def scrape(b) -> tuple[str, dict]:
    """(content type, {family name: family}) of one GET /api/v1/prometheus."""
    with urllib.request.urlopen(f"http://127.0.0.1:{b.api_port}/api/v1/prometheus", timeout=5) as response:
        assert response.status == 200
        content_type = response.headers.get("Content-Type", "")
        text = response.read().decode("utf-8")
    return content_type, {family.name: family for family in text_string_to_metric_families(text)}


def value(families: dict, name: str, **labels) -> float:
    """The value of the sample `name` (a counter's `_total` sample included) with exactly `labels`."""
    for family in families.values():
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return sample.value
    raise AssertionError(f"no sample {name}{labels}")


def test_prometheus_endpoint_reports_clients_and_traffic(broker, client_factory):
    subscriber = client_factory(broker, "sub")
    assert subscriber.subscribe("prom/#", 1) == [1]
    publisher = client_factory(broker, "pub")
    for i in range(5):
        publisher.publish(f"prom/{i}", f"message {i}", qos=1)
    for _ in range(2):
        publisher.publish("nobody/here", b"x", qos=1)
    subscriber.wait_messages(5)

    content_type, families = scrape(broker)
    assert content_type.startswith("text/plain")

    # prometheus_client names a counter family without its _total suffix.
    counters = {"starling_connects", "starling_disconnects", "starling_packets_received", "starling_packets_sent",
                "starling_bytes_received", "starling_bytes_sent", "starling_messages_received",
                "starling_messages_sent", "starling_messages_dropped", "starling_authentications",
                "starling_authorizations", "starling_plugins_pending_timeouts"}
    gauges = {"starling_connections", "starling_connections_max", "starling_sessions", "starling_subscriptions",
              "starling_retained_messages", "starling_uptime_seconds", "starling_plugins_pending_open"}
    for name in counters:
        assert families[name].type == "counter", name
    for name in gauges:
        assert families[name].type == "gauge", name
    assert all(name.startswith("starling_") for name in families if not name.startswith(("process_", "python_")))

    assert value(families, "starling_connections") == 2
    assert value(families, "starling_sessions") == 2
    assert value(families, "starling_subscriptions") == 1
    assert value(families, "starling_connects_total") == 2
    assert value(families, "starling_messages_received_total") >= 7
    assert value(families, "starling_packets_received_total", type="publish") == 7
    assert value(families, "starling_packets_sent_total", type="puback") == 7
    wait_for(lambda: value(scrape(broker)[1], "starling_messages_sent_total") >= 5, 5,
             message="five deliveries counted")
    assert value(families, "starling_messages_dropped_total", reason="no_subscribers") == 2
    assert value(families, "starling_messages_dropped_total", reason="queue_full") == 0
    assert value(families, "starling_bytes_received_total") > 0
    assert value(families, "starling_bytes_sent_total") > 0
    assert value(families, "starling_authentications_total", result="anonymous") == 2
    assert value(families, "starling_authorizations_total", action="publish", result="deny") == 0
    reasons = {s.labels["reason"] for s in families["starling_disconnects"].samples}
    assert reasons == {"normal", "keepalive_timeout", "takeover", "kicked", "protocol_error", "socket_error",
                       "server_shutdown"}


def test_disconnects_by_reason_and_gauges_follow(broker, client_factory):
    c = client_factory(broker, "leaving")
    c.disconnect()
    wait_for(lambda: value(scrape(broker)[1], "starling_disconnects_total", reason="normal") == 1, 5,
             message="the normal disconnect counted")
    families = scrape(broker)[1]
    assert value(families, "starling_connections") == 0
    assert value(families, "starling_connects_total") == 1
    assert value(families, "starling_uptime_seconds") >= 0
