"""Debian's mosquitto_pub / mosquitto_sub against the broker under test."""

import subprocess
import threading
import time

import pytest

from conftest import wait_for

PUB, SUB = "/usr/bin/mosquitto_pub", "/usr/bin/mosquitto_sub"
FMT = "MSG|%t|%q|%r|%p"  # a message line, told apart from -d debug lines ("@" is an escape in -F)


class Sub:
    """A running mosquitto_sub whose stdout is read in a thread."""

    def __init__(self, broker, args):
        self.proc = subprocess.Popen(
            # stdbuf: mosquitto_sub's stdout is block-buffered on a pipe
            ["stdbuf", "-oL", SUB, "-h", broker.host, "-p", str(broker.port), "-d", "-F", FMT, *args],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def wait_suback(self):
        wait_for(lambda: any("SUBACK" in x for x in self.lines) or self.proc.poll() is not None, 10,
                 message=lambda: f"mosquitto_sub SUBACK; output: {self.lines}")
        assert self.proc.poll() is None, self.lines

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def finish(self, timeout=10) -> tuple[int, list[tuple[str, int, int, str]]]:
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"mosquitto_sub did not exit in {timeout}s; output: {self.lines}")
        self.thread.join(5)
        msgs = []
        for x in self.lines:
            if x.startswith("MSG|"):
                t, q, r, p = x[4:].split("|", 3)
                msgs.append((t, int(q), int(r), p))
        return rc, msgs

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def subs():
    made = []

    def make(broker, args, wait_suback=True):
        s = Sub(broker, args)
        made.append(s)  # registered first: killed at teardown even if the wait fails
        if wait_suback:
            s.wait_suback()
        return s
    yield make
    for s in made:
        s.kill()


def pub(broker, args, stdin=None, timeout=10):
    res = subprocess.run([PUB, "-h", broker.host, "-p", str(broker.port), *args], input=stdin,
                         capture_output=True, text=True, timeout=timeout)
    assert res.returncode == 0, f"mosquitto_pub {args} failed ({res.returncode}): {res.stdout}{res.stderr}"
    return res


@pytest.mark.parametrize("version", ["5", "311", "31"])
@pytest.mark.parametrize("qos", [0, 1, 2])
def test_pub_sub(broker, subs, uid, version, qos):
    topic = f"cli/{uid}"
    s = subs(broker, ["-V", version, "-q", str(qos), "-t", topic, "-C", "3", "-i", f"{uid}-s"])
    for i in range(3):
        pub(broker, ["-V", version, "-q", str(qos), "-t", topic, "-m", f"hello {i}"])
    rc, msgs = s.finish()
    assert rc == 0
    assert msgs == [(topic, qos, 0, f"hello {i}") for i in range(3)]


@pytest.mark.parametrize("version", ["5", "311"])
def test_retained(broker, subs, uid, version):
    topic = f"cli/{uid}/r"
    pub(broker, ["-V", version, "-q", "1", "-r", "-t", topic, "-m", "kept"])
    rc, msgs = subs(broker, ["-V", version, "-q", "1", "-t", topic, "-C", "1"], wait_suback=False).finish()
    assert rc == 0 and msgs == [(topic, 1, 1, "kept")]
    pub(broker, ["-V", version, "-r", "-n", "-t", topic])  # clear it
    t0 = time.monotonic()
    rc, msgs = subs(broker, ["-V", version, "-t", topic, "-C", "1", "-W", "2"], wait_suback=False).finish()
    assert msgs == [] and time.monotonic() - t0 >= 1.5


@pytest.mark.parametrize("version", ["5", "311"])
def test_lines_from_stdin(broker, subs, uid, version):
    topic = f"cli/{uid}/lines"
    s = subs(broker, ["-V", version, "-q", "1", "-t", topic, "-C", "4"])
    pub(broker, ["-V", version, "-q", "1", "-t", topic, "-l"], stdin="one\ntwo\nthree words\nfour\n")
    rc, msgs = s.finish()
    assert rc == 0
    assert [x[3] for x in msgs] == ["one", "two", "three words", "four"]


def test_sub_timeout_bounds(broker, subs, uid):
    """`mosquitto_sub -W 2` on a silent topic exits after about 2 s."""
    t0 = time.monotonic()
    s = subs(broker, ["-V", "5", "-t", f"cli/{uid}/silent", "-W", "2"], wait_suback=False)
    rc, msgs = s.finish(timeout=10)
    elapsed = time.monotonic() - t0
    assert msgs == []
    assert rc == 27  # mosquitto_sub's exit status for -W timing out
    assert 1.5 <= elapsed <= 6, f"exited after {elapsed:.2f}s"


def test_v5_properties_through_the_cli(broker, subs, uid):
    topic = f"cli/{uid}/props"
    s = subs(broker, ["-V", "5", "-t", topic, "-C", "1", "-F", "%C|%R|%D|%P|%p"])
    pub(broker, ["-V", "5", "-t", topic, "-m", "body", "-D", "publish", "content-type", "text/x",
                 "-D", "publish", "response-topic", f"reply/{uid}", "-D", "publish", "correlation-data", "c1",
                 "-D", "publish", "user-property", "k", "v"])
    s.proc.wait(10)
    s.thread.join(5)
    out = [x for x in s.lines if x.startswith("text/x|")]
    assert out == [f"text/x|reply/{uid}|c1|k:v|body"], s.lines


def test_sub_wildcard_and_verbose(broker, subs, uid):
    s = subs(broker, ["-V", "311", "-t", f"cli/{uid}/#", "-C", "2"])
    pub(broker, ["-V", "311", "-t", f"cli/{uid}/a", "-m", "A"])
    pub(broker, ["-V", "311", "-t", f"cli/{uid}/b/c", "-m", "BC"])
    rc, msgs = s.finish()
    assert rc == 0 and [(t, p) for t, _, _, p in msgs] == [(f"cli/{uid}/a", "A"), (f"cli/{uid}/b/c", "BC")]
