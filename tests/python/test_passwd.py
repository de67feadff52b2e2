"""`starling passwd` and plugins/auth-password-file through the real binaries: files written by
`starling passwd` are accepted by Mosquitto 2.0's password_file, files written by Debian's
mosquitto_passwd by Starling with the plugin, in both directions with the right and a wrong password."""

from __future__ import annotations

import base64
import hashlib
import subprocess
from pathlib import Path

import pytest

import mqttraw
from conftest import HOST, free_port, starling_binary, wait_for
from test_plugins import build_plugin, nodes  # noqa: F401  (the nodes fixture)

pytestmark = pytest.mark.starling_only  # Starling's own command and plugin


def passwd(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    """Runs `starling passwd ARGS`, feeding `stdin` (the prompted passwords) when given."""
    return subprocess.run([str(starling_binary()), "passwd", *args], input=stdin if stdin is not None else "",
                          capture_output=True, text=True, timeout=30)


def users(path: Path) -> list[str]:
    return [line.split(":", 1)[0] for line in path.read_text().splitlines() if ":" in line]


def test_creates_updates_and_deletes_in_mosquittos_format(tmp_path):
    path = tmp_path / "passwd"
    assert passwd("-c", str(path), "alice", "secret").returncode == 0
    assert (path.stat().st_mode & 0o777) == 0o600
    line = path.read_text().strip()
    user, _, algorithm, iterations, salt, digest = line.replace(":", "$", 1).split("$")
    assert (user, algorithm, iterations) == ("alice", "7", "101")
    assert len(base64.b64decode(salt)) == 12 and len(base64.b64decode(digest)) == 64
    assert hashlib.pbkdf2_hmac("sha512", b"secret", base64.b64decode(salt), 101, 64) == base64.b64decode(digest)

    done = passwd(str(path), "bob", stdin="b0b\nb0b\n")  # asked twice (stdin is not a terminal: no echo to hide)
    assert done.returncode == 0, done.stderr
    assert "Password: " in done.stderr and "Reenter password: " in done.stderr
    assert passwd(str(path), "alice", "changed").returncode == 0
    assert users(path) == ["alice", "bob"]
    assert path.read_text().splitlines()[0] != line, "alice's line replaced in place"
    assert passwd("-D", str(path), "bob").returncode == 0
    assert users(path) == ["alice"]


@pytest.mark.parametrize("args,stdin,message", [
    (["{dir}/absent", "alice", "pw"], None, "{dir}/absent does not exist (use -c to create it)"),
    (["{dir}", "alice", "pw"], None, "cannot read {dir}"),
    (["-D", "{file}", "nobody"], None, "{file}: no user nobody"),
    (["{file}", "al:ice", "pw"], None, "invalid user name"),
    (["{file}", "carol"], "one\ntwo\n", "the passwords do not match"),
    (["-c", "-D", "{file}", "alice"], None, "-c and -D cannot be used together"),
])
def test_errors_exit_1_with_a_clear_message(tmp_path, args, stdin, message):
    file = tmp_path / "passwd"
    assert passwd("-c", str(file), "alice", "pw").returncode == 0
    before = file.read_text()
    fill = {"dir": str(tmp_path), "file": str(file)}
    done = passwd(*[a.format(**fill) for a in args], stdin=stdin)
    assert done.returncode == 1, done
    assert message.format(**fill) in done.stderr
    assert file.read_text() == before


def test_mosquitto_accepts_a_file_written_by_starling_passwd(tmp_path):
    path = tmp_path / "passwd"
    assert passwd("-c", str(path), "alice", "secret").returncode == 0
    subprocess.run(["mosquitto_passwd", "-b", str(path), "bob", "b0b"], check=True)  # edits our file
    assert passwd(str(path), "carol", "c4rol").returncode == 0  # and we edit its
    assert users(path) == ["alice", "bob", "carol"]
    port = free_port()
    conf = tmp_path / "mosquitto.conf"
    # `user root`: as root, Mosquitto would otherwise drop to its own user before reading the 0600 file.
    conf.write_text(f"listener {port} {HOST}\nallow_anonymous false\npassword_file {path}\nlog_dest stderr\n"
                    "user root\n")
    broker = subprocess.Popen(["/usr/sbin/mosquitto", "-c", str(conf)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
    try:
        for line in broker.stderr:
            if "running" in line:
                break

        def pub(user: str, password: str) -> int:
            return subprocess.run(["mosquitto_pub", "-h", HOST, "-p", str(port), "-V", "mqttv311", "-i", f"py-{user}",
                                   "-u", user, "-P", password, "-t", "t", "-m", "x"],
                                  capture_output=True, timeout=10).returncode

        assert pub("alice", "secret") == 0
        assert pub("bob", "b0b") == 0
        assert pub("carol", "c4rol") == 0
        assert pub("alice", "wrong") == 5  # Mosquitto 2.0.11 answers 5 (not authorised) to a wrong password
    finally:
        broker.terminate()
        broker.wait(10)


def test_starling_with_the_plugin_accepts_mosquitto_passwd_and_starling_passwd_files(tmp_path, nodes):  # noqa: F811
    path = tmp_path / "passwd"
    subprocess.run(["mosquitto_passwd", "-c", "-b", str(path), "alice", "secret"], check=True)
    assert passwd(str(path), "bob", "b0b").returncode == 0
    plugin = build_plugin("plugins/auth-password-file/auth_password_file.c", tmp_path / "auth-password-file.so")
    config = tmp_path / "starling.toml"
    # No HTTP API: its default port 18083 may be taken, and a node that cannot bind it stops.
    config.write_text(f'[mqtt]\nallow_anonymous = false\n\n[api]\nenabled = false\n\n[[plugins]]\npath = "{plugin}"\n'
                      f'options = {{ password_file = "{path}" }}\n')
    node = nodes("--config", str(config))
    port = node.port()

    def rc(version: int, user: str | None, password: bytes | None) -> int:
        client = mqttraw.RawClient(HOST, port, version=version)
        try:
            return client.connect(f"py-{user}", username=user, password=password).rc
        finally:
            client.close()

    assert rc(mqttraw.V5, "alice", b"secret") == 0
    assert rc(mqttraw.V311, "bob", b"b0b") == 0
    assert rc(mqttraw.V5, "alice", b"b0b") == 0x86
    assert rc(mqttraw.V311, "bob", b"secret") == 4
    assert rc(mqttraw.V311, "nobody", b"x") == 4, "unknown user: no_match (deny) decides"
    assert rc(mqttraw.V5, None, None) == 0x87, "anonymous: allow_anonymous = false"
    assert rc(mqttraw.V311, None, None) == 5


def test_prompts_twice_on_a_terminal_without_echo(tmp_path):
    """With a terminal on stdin, the typed password is not echoed back to it."""
    import os
    import pty
    import select
    import termios

    path = tmp_path / "passwd"
    master, slave = pty.openpty()
    proc = subprocess.Popen([str(starling_binary()), "passwd", "-c", str(path), "dora"], stdin=slave,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    os.close(slave)
    echoed = b""
    prompts = ""

    def asking(n: int) -> bool:
        # It writes its n-th prompt, then turns echo off (discarding what was typed before): type then.
        nonlocal prompts
        while select.select([proc.stderr], [], [], 0)[0]:
            chunk = os.read(proc.stderr.fileno(), 1024)
            if not chunk:
                break
            prompts += chunk.decode()
        return prompts.count("assword: ") >= n and not termios.tcgetattr(master)[3] & termios.ECHO

    try:
        for n in (1, 2):
            wait_for(lambda: asking(n), timeout=10, message=lambda: f"prompt {n} with echo off: {prompts!r}")
            os.write(master, b"typed-secret\n")
        assert proc.wait(10) == 0, prompts + proc.stderr.read()
        while select.select([master], [], [], 0.2)[0]:
            try:
                chunk = os.read(master, 1024)
            except OSError:
                break
            if not chunk:
                break
            echoed += chunk
    finally:
        os.close(master)
    assert b"typed-secret" not in echoed
    assert (prompts + proc.stderr.read()).count("assword: ") == 2
    line = path.read_text().strip()
    salt, digest = line.split("$")[3:5]
    assert hashlib.pbkdf2_hmac("sha512", b"typed-secret", base64.b64decode(salt), 101, 64) == base64.b64decode(digest)
