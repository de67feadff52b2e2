"""Test certificates made with Debian's `openssl` CLI (OpenSSL 3.0): a CA, a server certificate for
localhost/127.0.0.1, client certificates (trusted, from another CA, expired), and the bad files the
start-up checks refuse (an expired server certificate, a key of another certificate, an encrypted key,
a CA file with no certificate).

`make_certs(directory)` makes them all once and returns a `Certs` with the paths. Expired certificates
come from `openssl ca` with `-startdate/-enddate` (`openssl x509 -days` cannot go negative, and
`-not_before/-not_after` only arrived in OpenSSL 3.4).
"""
import subprocess
from dataclasses import dataclass
from pathlib import Path

KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
PASSWORD = "s3cret-pass"


def openssl(*args, cwd: Path) -> None:
    done = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=30)
    if done.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)} failed:\n{done.stderr}")


@dataclass
class Certs:
    dir: Path
    ca: Path                # the CA that signs server and client certificates
    server: Path            # CN=localhost, SAN DNS:localhost, IP:127.0.0.1
    server_key: Path
    client: Path            # CN=client-good, signed by `ca`
    client_key: Path
    untrusted: Path         # CN=client-untrusted, signed by another CA
    untrusted_key: Path
    expired: Path           # CN=client-expired, signed by `ca`, valid in 2020 only
    expired_key: Path
    expired_server: Path    # a server certificate valid in 2020 only
    other_key: Path         # a key that matches none of the certificates
    encrypted_key: Path     # server_key encrypted with PASSWORD
    no_cert: Path           # a PEM file holding no certificate (a key)


def _ca(d: Path, name: str) -> tuple[Path, Path]:
    openssl("req", "-x509", *KEY, "-keyout", f"{name}.key", "-out", f"{name}.pem", "-days", "30",
            "-subj", f"/CN=Starling Test {name}", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
    return d / f"{name}.pem", d / f"{name}.key"


def _signed(d: Path, name: str, cn: str, ca: str, usage: str, san: str | None = None,
            subject: str | None = None) -> tuple[Path, Path]:
    openssl("req", "-new", *KEY, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", subject or f"/CN={cn}",
            cwd=d)
    ext = d / f"{name}.ext"
    ext.write_text(f"extendedKeyUsage={usage}\n" + (f"subjectAltName={san}\n" if san else ""))
    openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key", "-CAcreateserial",
            "-out", f"{name}.pem", "-days", "30", "-extfile", ext.name, cwd=d)
    return d / f"{name}.pem", d / f"{name}.key"


def _expired(d: Path, name: str, cn: str, usage: str) -> tuple[Path, Path]:
    """A certificate signed by `ca`, valid from 2020-01-01 to 2020-01-02."""
    ca_dir = d / "ca-db"
    (ca_dir / "new").mkdir(parents=True, exist_ok=True)
    (ca_dir / "index.txt").touch()
    if not (ca_dir / "serial").exists():
        (ca_dir / "serial").write_text("1000\n")
    (d / f"{name}.cnf").write_text(f"""
[ca]
default_ca = test_ca
[test_ca]
database = {ca_dir}/index.txt
new_certs_dir = {ca_dir}/new
serial = {ca_dir}/serial
default_md = sha256
policy = any
unique_subject = no
x509_extensions = ext
[any]
commonName = supplied
[ext]
extendedKeyUsage = {usage}
subjectAltName = DNS:localhost,IP:127.0.0.1
""")
    openssl("req", "-new", *KEY, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={cn}", cwd=d)
    openssl("ca", "-batch", "-notext", "-config", f"{name}.cnf", "-cert", "ca.pem", "-keyfile", "ca.key",
            "-in", f"{name}.csr", "-out", f"{name}.pem", "-startdate", "20200101000000Z", "-enddate", "20200102000000Z",
            cwd=d)
    return d / f"{name}.pem", d / f"{name}.key"


def make_certs(d: Path) -> Certs:
    d.mkdir(parents=True, exist_ok=True)
    ca, _ = _ca(d, "ca")
    _ca(d, "other-ca")
    server, server_key = _signed(d, "server", "localhost", "ca", "serverAuth", "DNS:localhost,IP:127.0.0.1")
    client, client_key = _signed(d, "client", "client-good", "ca", "clientAuth")
    untrusted, untrusted_key = _signed(d, "untrusted", "client-untrusted", "other-ca", "clientAuth")
    expired, expired_key = _expired(d, "expired", "client-expired", "clientAuth")
    expired_server, _ = _expired(d, "expired-server", "localhost", "serverAuth")
    openssl("genpkey", "-algorithm", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-out", "other.key", cwd=d)
    openssl("pkey", "-in", "server.key", "-aes256", "-passout", f"pass:{PASSWORD}", "-out", "server-encrypted.key", cwd=d)
    return Certs(dir=d, ca=ca, server=server, server_key=server_key, client=client, client_key=client_key,
                 untrusted=untrusted, untrusted_key=untrusted_key, expired=expired, expired_key=expired_key,
                 expired_server=expired_server, other_key=d / "other.key", encrypted_key=d / "server-encrypted.key",
                 no_cert=d / "other.key")


def server_certificate(certs: Certs, name: str) -> tuple[Path, Path]:
    """Another server certificate for localhost and 127.0.0.1 signed by `certs.ca`: NAME.pem, NAME.key."""
    return _signed(certs.dir, name, "localhost", "ca", "serverAuth", "DNS:localhost,IP:127.0.0.1")


def client_with_subject(certs: Certs, name: str, subject: str) -> tuple[Path, Path]:
    """A client certificate and its key signed by `certs.ca`, with `subject` in openssl's form
    ("/C=GB/O=Example/CN=alice")."""
    return _signed(certs.dir, name, "", "ca", "clientAuth", subject=subject)


def rfc2253_subject(cert: Path) -> str:
    """The certificate's subject as `openssl x509 -nameopt RFC2253` prints it (CN=alice,O=Example,C=GB)."""
    done = subprocess.run(["openssl", "x509", "-in", str(cert), "-noout", "-subject", "-nameopt", "RFC2253"],
                          capture_output=True, text=True, timeout=30, check=True)
    return done.stdout.strip().removeprefix("subject=")


@dataclass
class ClusterCerts:
    dir: Path
    ca: Path                           # the cluster's CA
    nodes: dict[str, tuple[Path, Path]]  # short name -> (certificate, key), signed by `ca`, SAN IP:127.0.0.1
    untrusted: tuple[Path, Path]       # a node certificate signed by another CA, SAN IP:127.0.0.1
    wrong_host: tuple[Path, Path]      # signed by `ca`, naming only DNS:elsewhere.invalid


def node_certificate(d: Path, name: str, ca: str = "ca", san: str = "IP:127.0.0.1") -> tuple[Path, Path]:
    """A cluster node's certificate and key, signed by the CA `ca` of `d`: good for a TLS server and
    client both (a node accepts and dials links), naming the host of the node's name in `san`."""
    return _signed(d, f"node-{name}", f"starling node {name}", ca, "serverAuth,clientAuth", san)


def make_cluster_certs(d: Path, names: tuple[str, ...] = ("n1", "n2")) -> ClusterCerts:
    """A cluster CA with a certificate for each node of `names` (nodes named NAME@127.0.0.1), and the
    certificates a node refuses: from another CA, and for another host."""
    d.mkdir(parents=True, exist_ok=True)
    ca, _ = _ca(d, "ca")
    _ca(d, "other-ca")
    return ClusterCerts(dir=d, ca=ca, nodes={name: node_certificate(d, name) for name in names},
                        untrusted=node_certificate(d, "untrusted", ca="other-ca"),
                        wrong_host=node_certificate(d, "wrong-host", san="DNS:elsewhere.invalid"))
