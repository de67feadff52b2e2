"""Cluster links over TLS (issue 14, between nodes): nodes with [cluster.ssl_options] link over mutual
TLS with the cookie handshake inside, route and forward as over plain links; a node with TLS and one
without refuse each other with a warning on both sides; certificates the other node cannot verify are
refused; bad cluster certificate files stop start-up. Certificates come from tlscerts.py, nodes from
clusternodes.py; every wait is bounded and every process stopped by broker_factory.
"""

from __future__ import annotations

import re
import shutil
import socket
import ssl
import threading

import pytest

import tlscerts
from clusternodes import COOKIE, Node, join, wait_mesh, wait_routes
from conftest import assert_broker_serves, free_port, run_to_exit, to_toml, wait_for

pytestmark = pytest.mark.starling_only

BOTH_OR_NONE = "(set it on every node or on none)"


@pytest.fixture(scope="module")
def certs(tmp_path_factory) -> tlscerts.ClusterCerts:
    return tlscerts.make_cluster_certs(tmp_path_factory.mktemp("cluster-certs"))


def tls_options(certs: tlscerts.ClusterCerts, pair: tuple) -> dict:
    cert, key = pair
    return {"certfile": str(cert), "keyfile": str(key), "cacertfile": str(certs.ca)}


def tls_node(broker_factory, tmp_path, certs, short: str, pair: tuple | None = None) -> Node:
    return Node(broker_factory, tmp_path, short, ssl_options=tls_options(certs, pair or certs.nodes[short]))


def warning_line(node: Node, text: str) -> str:
    """Waits for the warning line of `node` that contains `text` (regular-expression escaped) and returns it."""
    pattern = re.compile(r"\bwarning\b.*" + re.escape(text))
    return wait_for(lambda: next((line for line in node.broker.log_text().splitlines() if pattern.search(line)), None),
                    timeout=5, message=lambda: f"a warning with {text!r} from {node.name}:\n{node.broker.log_text()[-3000:]}")


def assert_join_refused(dialer: Node, acceptor: Node, says: str, dialer_line: str, acceptor_reason: str | None):
    """`dialer` fails to join `acceptor`, ctl saying `says`; `dialer` logs the warning `dialer_line` and
    `acceptor` (unless `acceptor_reason` is None) its first `cluster: refused a link from 127.0.0.1:PORT:
    ACCEPTOR_REASON`."""
    done = dialer.ctl("cluster", "join", acceptor.address, "--timeout", "5")
    assert done.returncode != 0, f"{dialer.name} joined {acceptor.name}: {done.stdout}"
    assert says in done.stderr, done.stderr
    warning_line(dialer, dialer_line)
    if acceptor_reason is not None:
        line = warning_line(acceptor, "cluster: refused a link from 127.0.0.1:")
        assert re.search(r"refused a link from 127\.0\.0\.1:\d+: " + re.escape(acceptor_reason), line), line


def assert_strangers(*nodes: Node):
    for node in nodes:
        assert node.status()["members"] == [], f"{node.name} counts a member: {node.status()}"


class CapturingProxy:
    """Forwards one TCP connection at a time from a free port of 127.0.0.1 to `target_port`, keeping
    every byte each way (`to_target`, `from_target`)."""

    def __init__(self, target_port: int):
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)
        self.port = self.listener.getsockname()[1]
        self.to_target, self.from_target = bytearray(), bytearray()
        self.stopping = threading.Event()
        self.sockets: list[socket.socket] = []
        self.threads = [threading.Thread(target=self._accept, daemon=True)]
        self.threads[0].start()

    def _accept(self):
        while not self.stopping.is_set():
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
            self.sockets += [client, upstream]
            for source, sink, kept in ((client, upstream, self.to_target), (upstream, client, self.from_target)):
                thread = threading.Thread(target=self._pump, args=(source, sink, kept), daemon=True)
                thread.start()
                self.threads.append(thread)

    def _pump(self, source: socket.socket, sink: socket.socket, kept: bytearray):
        source.settimeout(0.2)
        while not self.stopping.is_set():
            try:
                data = source.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                break
            if not data:
                break
            kept += data
            try:
                sink.sendall(data)
            except OSError:
                break
        for s in (source, sink):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def stop(self):
        self.stopping.set()
        self.listener.close()
        for thread in self.threads:
            thread.join(2)
        for s in self.sockets:
            s.close()


def forward_through_proxy(client_factory, uid, dialer: Node, acceptor: Node, marker: str) -> CapturingProxy:
    """`dialer` joins `acceptor` through a capturing proxy; a message published on `dialer` with `marker`
    in its payload reaches a subscriber on `acceptor` over that one link. Returns the stopped proxy."""
    proxy = CapturingProxy(acceptor.cluster_port)
    try:
        done = dialer.ctl("cluster", "join", f"{acceptor.name}:{proxy.port}", "--timeout", "10")
        assert done.returncode == 0, f"join through the proxy failed: {done.stderr}"
        wait_mesh([dialer, acceptor])
        sub = client_factory(acceptor.broker, "sub")
        sub.subscribe(f"{uid}/wire", qos=1)
        wait_routes([dialer], f"{uid}/wire", [acceptor.name])
        client_factory(dialer.broker, "pub").publish(f"{uid}/wire", marker, qos=1)
        assert [m.payload for m in sub.wait_messages(1, timeout=5)] == [marker.encode()]
    finally:
        proxy.stop()
    return proxy


# -- two nodes over TLS


def test_two_nodes_over_tls_replicate_routes_and_forward_each_way(broker_factory, tmp_path, certs, client_factory, uid):
    n1, n2 = (tls_node(broker_factory, tmp_path, certs, short) for short in ("n1", "n2"))
    for node in (n1, n2):
        assert re.search(rf"cluster listening on 127\.0\.0\.1:{node.cluster_port}.*tls=true", node.broker.log_text())
    join(n2, n1)
    wait_mesh([n1, n2])
    links = {n.name: [m["link"] for m in n.status()["members"]] for n in (n1, n2)}
    assert links[n2.name][0].startswith("dialled") and links[n1.name][0].startswith("accepted"), links
    # Routes both ways, visible on both nodes.
    sub1 = client_factory(n1.broker, "sub1")
    sub1.subscribe(f"{uid}/to-n1/#", qos=1)
    sub2 = client_factory(n2.broker, "sub2")
    sub2.subscribe(f"{uid}/to-n2", qos=1)
    wait_routes([n1, n2], f"{uid}/to-n1/#", [n1.name])
    wait_routes([n1, n2], f"{uid}/to-n2", [n2.name])
    # QoS 0 and 1 forwarded from n2 to n1, and back.
    pub2 = client_factory(n2.broker, "pub2")
    pub2.publish(f"{uid}/to-n1/q0", "zero", qos=0)
    pub2.publish(f"{uid}/to-n1/q1", "one", qos=1)
    got = sub1.wait_messages(2, timeout=5)
    assert sorted((m.topic, m.payload, m.qos) for m in got) == [
        (f"{uid}/to-n1/q0", b"zero", 0), (f"{uid}/to-n1/q1", b"one", 1)]
    client_factory(n1.broker, "pub1").publish(f"{uid}/to-n2", "back", qos=1)
    assert [(m.payload, m.qos) for m in sub2.wait_messages(1, timeout=5)] == [(b"back", 1)]
    wait_for(lambda: n1.metrics().get(f"cluster.forwarded.in.{n2.name}") == 2, timeout=5,
             message=lambda: f"n1 counts the two forwards from n2: {n1.metrics()}")
    assert n2.metrics()[f"cluster.forwarded.out.{n1.name}"] == 2
    assert n1.metrics()[f"cluster.forwarded.out.{n2.name}"] == 1


def test_links_are_tls_on_the_wire_and_need_a_client_certificate(broker_factory, tmp_path, certs, client_factory, uid):
    n1, n2 = (tls_node(broker_factory, tmp_path, certs, short) for short in ("n1", "n2"))
    marker = f"{uid}-payload-in-clear"
    proxy = forward_through_proxy(client_factory, uid, n2, n1, marker)
    for direction, data in (("n2 -> n1", proxy.to_target), ("n1 -> n2", proxy.from_target)):
        assert data[:2] == b"\x16\x03", f"{direction} does not begin with a TLS handshake record: {bytes(data[:16])!r}"
        for secret in (marker, COOKIE, n1.name, n2.name):
            assert secret.encode() not in data, f"{secret!r} crosses {direction} in clear"
    # The same capture of plain links shows what TLS hides.
    p1, p2 = Node(broker_factory, tmp_path, "p1"), Node(broker_factory, tmp_path, "p2")
    plain = forward_through_proxy(client_factory, uid, p2, p1, marker)
    assert marker.encode() in plain.to_target and p2.name.encode() in plain.to_target
    assert COOKIE.encode() not in plain.to_target + plain.from_target, "the cookie never crosses, even in clear"

    # A connection that closes before any TLS (a port check) is no refusal; a TLS client without a
    # certificate is refused.
    socket.create_connection(("127.0.0.1", n1.cluster_port), timeout=5).close()
    context = ssl.create_default_context(cafile=str(certs.ca))
    with socket.create_connection(("127.0.0.1", n1.cluster_port), timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            assert tls.getpeercert()["subject"] == ((("commonName", "starling node n1"),),)
            # TLS 1.3: the client's handshake is done before the server has checked its certificate.
            with pytest.raises(ssl.SSLError, match="CERTIFICATE_REQUIRED"):
                tls.recv(1)
    warning_line(n1, "it sent no certificate (every node presents one on the cluster links)")
    assert len(re.findall("refused a link from", n1.broker.log_text())) == 1, n1.broker.log_text()[-2000:]


# -- TLS against plain


def test_a_node_with_tls_and_one_without_refuse_each_other_and_keep_serving(broker_factory, tmp_path, certs):
    secure = tls_node(broker_factory, tmp_path, certs, "n1")
    plain = Node(broker_factory, tmp_path, "n2")
    # The plain node dials the TLS node, then the other way round.
    assert_join_refused(
        plain, secure, "the peer speaks TLS",
        f"cluster: link to {secure.address} refused: the peer speaks TLS and this node has no [cluster.ssl_options] {BOTH_OR_NONE}",
        f"it does not speak TLS and this node has [cluster.ssl_options] {BOTH_OR_NONE}")
    assert_join_refused(
        secure, plain, "the peer does not speak TLS",
        f"cluster: link to {plain.address} failed its TLS handshake: the peer does not speak TLS (has it [cluster.ssl_options]?)",
        f"it speaks TLS and this node has no [cluster.ssl_options] {BOTH_OR_NONE}")
    assert_strangers(secure, plain)
    for node in (secure, plain):
        assert node.broker.alive
        assert_broker_serves(node.broker, tag=node.name.split("@")[0])


# -- certificates the other node cannot verify


def test_certificates_the_other_node_cannot_verify_are_refused_with_the_reason(broker_factory, tmp_path, certs):
    n1 = tls_node(broker_factory, tmp_path, certs, "n1")
    # Its certificate is signed by another CA; it trusts the cluster's CA, so only n1 refuses.
    rogue = tls_node(broker_factory, tmp_path, certs, "rogue", pair=certs.untrusted)
    untrusted = "certificate is not trusted (CERTIFICATE_VERIFY_FAILED): it is not signed by a CA in cluster.ssl_options.cacertfile"
    assert_join_refused(rogue, n1, "refused this node's certificate",
                        f"cluster: link to {n1.address} failed its TLS handshake: the peer refused this node's certificate",
                        f"its {untrusted}")
    assert_join_refused(n1, rogue, "certificate is not trusted",
                        f"cluster: link to {rogue.address} failed its TLS handshake: the peer's {untrusted}",
                        "it refused this node's certificate")
    # Signed by the cluster's CA but for another host than the one n1 dials; that node just sees n1 hang up.
    elsewhere = tls_node(broker_factory, tmp_path, certs, "elsewhere", pair=certs.wrong_host)
    assert_join_refused(n1, elsewhere, "does not name 127.0.0.1",
                        f"cluster: link to {elsewhere.address} failed its TLS handshake: the peer's certificate does not name 127.0.0.1",
                        None)
    assert_strangers(n1, rogue, elsewhere)
    assert_broker_serves(n1.broker, tag="n1")


# -- start-up checks


def bad_cases(certs: tlscerts.ClusterCerts):
    """(id, ssl_options changes, text of the one error line)."""
    missing = str(certs.dir / "nowhere.pem")
    return {
        "missing-cert": ({"certfile": missing}, f'cluster.ssl_options.certfile = "{missing}": cannot read the file: No such file'),
        "key-of-another-cert": ({"keyfile": str(certs.nodes["n2"][1])},
                                f'cluster.ssl_options.keyfile = "{certs.nodes["n2"][1]}": the key does not match the certificate'),
        "no-cacertfile": ({"cacertfile": None}, "cluster.ssl_options.cacertfile: not set"),
        "no-keyfile": ({"keyfile": None}, "cluster.ssl_options.keyfile: not set"),
        "verify-none": ({"verify": "verify_none"}, 'cluster.ssl_options.verify = "verify_none": cluster links always verify'),
    }


@pytest.mark.parametrize("case", ["missing-cert", "key-of-another-cert", "no-cacertfile", "no-keyfile", "verify-none"])
def test_bad_cluster_tls_settings_stop_start_up(tmp_path, certs, case):
    changes, text = bad_cases(certs)[case]
    options = tls_options(certs, certs.nodes["n1"])
    for key, value in changes.items():
        if value is None:
            del options[key]
        else:
            options[key] = value
    sections = {"node": {"name": "n1@127.0.0.1", "data_dir": str(tmp_path / "data")},
                "cluster": {"cookie": COOKIE, "port": free_port()}, "cluster.ssl_options": options}
    status, stderr = run_to_exit(tmp_path, to_toml(sections), timeout=15)
    assert status == 2, f"exit status {status}; stderr:\n{stderr}"
    lines = [x for x in stderr.splitlines() if x.startswith("starling: ")]
    assert len(lines) == 1 and text in lines[0], stderr
    assert "listening on" not in stderr, "something opened before the files were checked"
    status, check = run_to_exit(tmp_path, to_toml(sections), command="check-config", timeout=15)
    assert status == 1 and lines[0] in check, check
    # Without a cookie there is no cluster, and its TLS settings are not checked.
    del sections["cluster"]["cookie"]
    status, check = run_to_exit(tmp_path, to_toml(sections), command="check-config", timeout=15)
    assert status == 0, check


# -- rotation


def peer_certificate_cn(port: int, certs: tlscerts.ClusterCerts, client: tuple) -> str:
    """The subject CN of the certificate a new TLS connection to the cluster `port` is shown."""
    context = ssl.create_default_context(cafile=str(certs.ca))
    context.load_cert_chain(str(client[0]), str(client[1]))
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            return dict(field[0] for field in tls.getpeercert()["subject"])["commonName"]


def test_reload_rotates_the_node_certificate_and_links_stay(broker_factory, tmp_path, certs, client_factory, uid):
    live = (tmp_path / "live-node.pem", tmp_path / "live-node.key")

    def install(pair):
        for source, target in zip(pair, live):
            shutil.copyfile(source, target)
    install(certs.nodes["n1"])
    n1 = tls_node(broker_factory, tmp_path, certs, "n1", pair=live)
    n2 = tls_node(broker_factory, tmp_path, certs, "n2")
    join(n2, n1)
    wait_mesh([n1, n2])
    assert peer_certificate_cn(n1.cluster_port, certs, certs.nodes["n2"]) == "starling node n1"

    install(tlscerts.node_certificate(certs.dir, "n1-rotated"))
    status, answer = n1.api("POST", "/reload")
    assert status == 200 and answer["certificates_reloaded"] == ["cluster.ssl_options"], answer
    assert peer_certificate_cn(n1.cluster_port, certs, certs.nodes["n2"]) == "starling node n1-rotated"
    # The link made before the rotation still forwards.
    sub = client_factory(n1.broker, "sub")
    sub.subscribe(f"{uid}/after", qos=1)
    wait_routes([n2], f"{uid}/after", [n1.name])
    client_factory(n2.broker, "pub").publish(f"{uid}/after", "rotated", qos=1)
    assert [m.payload for m in sub.wait_messages(1, timeout=5)] == [b"rotated"]

    # A key that does not match keeps the rotated certificate in force.
    shutil.copyfile(certs.nodes["n2"][1], live[1])
    status, answer = n1.api("POST", "/reload")
    assert status == 400 and "cluster.ssl_options.keyfile" in answer["message"] and "does not match" in answer["message"], answer
    assert peer_certificate_cn(n1.cluster_port, certs, certs.nodes["n2"]) == "starling node n1-rotated"
