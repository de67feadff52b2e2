"""MQTT over WebSocket ([listeners.ws.NAME]) with paho-mqtt's websockets transport."""
import socket

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from conftest import wait_for

pytestmark = pytest.mark.starling_only  # the suite's Mosquitto config has no websockets listener

WS = {"listeners.ws.default": {"bind": "127.0.0.1", "port": 0, "path": "/mqtt"}}


def ws_client(port, client_id, protocol=paho.MQTTv5, path="/mqtt"):
    got = []
    c = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=protocol, transport="websockets")
    c.ws_set_options(path=path)
    c.on_message = lambda client, userdata, msg: got.append(msg)
    return c, got


def wait_ws_ready(broker):
    wait_for(lambda: "ws.default" in broker.listener_ports, 5, message="the ws listener logs its port")
    return broker.listener_ports["ws.default"]


@pytest.mark.parametrize("protocol", [paho.MQTTv311, paho.MQTTv5])
def test_websocket_client_talks_to_a_tcp_client(broker_factory, client_factory, uid, protocol):
    b = broker_factory(WS)
    port = wait_ws_ready(b)
    ws, got = ws_client(port, f"{uid}-ws", protocol)
    ws.connect("127.0.0.1", port, keepalive=30)
    ws.loop_start()
    try:
        wait_for(ws.is_connected, 5, message="the websocket client connects")
        ws.subscribe(f"{uid}/ws", qos=1)
        tcp = client_factory(b, "tcp")
        # Publish until the subscription is in place (paho's SUBACK arrives asynchronously here).
        def delivered():
            tcp.publish(f"{uid}/ws", b"over tcp", qos=1)
            return got
        wait_for(delivered, 5, interval=0.2, message="the websocket subscriber receives a message published over TCP")
        assert got[0].payload == b"over tcp" and got[0].qos == 1
        sub = client_factory(b, "tcp-sub")
        assert sub.subscribe(f"{uid}/back", 1) == [1]
        ws.publish(f"{uid}/back", b"over ws", qos=1).wait_for_publish(5)
        sub.wait_messages(1)
        assert sub.payloads() == [b"over ws"]
    finally:
        ws.disconnect()
        ws.loop_stop()


def test_wrong_path_is_refused_and_plain_http_gets_400(broker_factory, uid):
    b = broker_factory(WS)
    port = wait_ws_ready(b)
    ws, _ = ws_client(port, f"{uid}-bad", path="/elsewhere")
    with pytest.raises(Exception):
        ws.connect("127.0.0.1", port, keepalive=30)
        ws.loop_start()
        wait_for(ws.is_connected, 2, message="must not connect")
    ws.loop_stop()
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b"GET /mqtt HTTP/1.1\r\nHost: x\r\n\r\n")
    answer = s.recv(1024)
    s.close()
    assert answer.startswith(b"HTTP/1.1 400"), answer
