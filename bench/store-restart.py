#!/usr/bin/env python3
"""bench/store-restart.py STARLING_BINARY [--sessions 100000] [--per-session 10] [--out DIR]

Restart time with many stored sessions and queued messages, Starling (durability batch and sync)
against Debian's Mosquitto 2.0.11 with `persistence true`: SESSIONS persistent sessions (3.1.1,
clean session 0; 5.0 has no role here) each subscribe at QoS 1 to one of SESSIONS/10 topics and
leave; PER-SESSION messages are published to every topic (QoS 1, 16 bytes), so that every session
holds PER-SESSION queued messages (SESSIONS x PER-SESSION in all, each message stored once per
topic). The broker is stopped (SIGTERM: Mosquitto writes its database then) and started again; the
figure is the time from exec to the first CONNACK of a client that resumes one of the sessions,
which must then receive its PER-SESSION messages. Raw sockets, one process, no client library.
"""
import argparse, os, shutil, signal, socket, struct, subprocess, sys, time

def varint(n):
    out = b""
    while True:
        b = n % 128; n //= 128
        out += bytes([b | (128 if n else 0)])
        if not n: return out

def pkt(t, flags, body): return bytes([(t << 4) | flags]) + varint(len(body)) + body
def s(x): x = x.encode(); return struct.pack(">H", len(x)) + x
def connect(cid, clean): return pkt(1, 0, s("MQTT") + bytes([4, 0x02 if clean else 0]) + struct.pack(">H", 600) + s(cid))
def subscribe(pid, f): return pkt(8, 2, struct.pack(">H", pid) + s(f) + b"\x01")
def publish(topic, payload, pid): return pkt(3, 2, s(topic) + struct.pack(">H", pid) + payload)

def read_packet(sock, buf):
    while True:
        if len(buf) >= 2:
            n, mul, i = 0, 1, 1
            while i < len(buf) and i <= 4:
                n += (buf[i] & 127) * mul; mul *= 128
                if buf[i] < 128: break
                i += 1
            else:
                i = None
            if i is not None and i < len(buf) and len(buf) >= i + 1 + n:
                p = bytes(buf[:i + 1 + n]); del buf[:i + 1 + n]; return p
        chunk = sock.recv(1 << 16)
        if not chunk: raise ConnectionError("closed")
        buf += chunk

def dial(port, timeout=30):
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock

def make_sessions(port, sessions, topics, at_once=500):
    """`at_once` clients at a time connect and subscribe, so that a broker that commits each
    SUBSCRIBE before its SUBACK can group them."""
    for first in range(0, sessions, at_once):
        batch = []
        for i in range(first, min(first + at_once, sessions)):
            sock = dial(port)
            sock.sendall(connect(f"rs-{i}", False) + subscribe(1, f"rs/{i % topics}"))
            batch.append(sock)
        for sock in batch:
            buf = bytearray()
            read_packet(sock, buf); read_packet(sock, buf)  # CONNACK, SUBACK
            sock.sendall(pkt(14, 0, b"")); sock.close()

def publish_all(port, topics, per_topic, window=500):
    sock = dial(port); buf = bytearray()
    sock.sendall(connect("rs-publisher", True)); read_packet(sock, buf)
    sent = acked = 0; total = topics * per_topic; pid = 0
    while acked < total:
        while sent < total and sent - acked < window:
            pid = pid % 65535 + 1
            sock.sendall(publish(f"rs/{sent % topics}", b"0123456789abcdef", pid)); sent += 1
        p = read_packet(sock, buf)
        if p[0] >> 4 == 4: acked += 1
    sock.sendall(pkt(14, 0, b"")); sock.close()

def first_connack(port, deadline):
    while time.monotonic() < deadline:
        try:
            sock = dial(port, timeout=60); buf = bytearray()
            sock.sendall(connect("rs-0", False))
            p = read_packet(sock, buf)
            return sock, buf, p
        except OSError:
            time.sleep(0.005)
    raise TimeoutError("no CONNACK")

def start(cmd, cwd, log):
    return subprocess.Popen(cmd, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

def stop(proc, timeout=600):
    proc.send_signal(signal.SIGTERM)
    t = time.monotonic(); proc.wait(timeout); return time.monotonic() - t

def run(label, cmd, cwd, port, args, out):
    log = open(os.path.join(out, f"{label}.log"), "ab")
    started = []  # every broker process of this run, killed at the end whatever happens
    try:
        measure(label, lambda: started.append(start(cmd, cwd, log)) or started[-1], port, args, out)
    finally:
        for proc in started:
            if proc.poll() is None:
                proc.kill()


def measure(label, launch, port, args, out):
    proc = launch()
    first_connack(port, time.monotonic() + 60)[0].close()
    if proc.poll() is not None:  # another process answered on the port
        sys.exit(f"{label} exited at start-up (status {proc.returncode}); see {out}/{label}.log")
    t = time.monotonic(); make_sessions(port, args.sessions, args.sessions // 10); made = time.monotonic() - t
    t = time.monotonic(); publish_all(port, args.sessions // 10, args.per_session); published = time.monotonic() - t
    time.sleep(1)
    stopped = stop(proc)
    t0 = time.monotonic()
    proc = launch()
    sock, buf, connack = first_connack(port, t0 + 300)
    restart_s = time.monotonic() - t0
    if proc.poll() is not None:
        sys.exit(f"{label} exited at restart (status {proc.returncode}); see {out}/{label}.log")
    got = 0
    sock.settimeout(30)
    while got < args.per_session:
        p = read_packet(sock, buf)
        if p[0] >> 4 == 3:
            got += 1
            pid = struct.unpack(">H", p[2 + 2 + struct.unpack(">H", p[2:4])[0]:][:2])[0] if p[1] < 128 else None
            if pid is not None: sock.sendall(pkt(4, 0, struct.pack(">H", pid)))
    sock.close()
    rss = int(open(f"/proc/{proc.pid}/status").read().split("VmRSS:")[1].split()[0])
    stop(proc)
    print(f"RESULT label={label} sessions={args.sessions} queued={args.sessions * args.per_session} "
          f"make_s={made:.1f} publish_s={published:.1f} stop_s={stopped:.1f} restart_s={restart_s:.2f} "
          f"session_present={connack[2] & 1} resumed_msgs={got} rss_after_restart_kb={rss}", flush=True)

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("starling"); ap.add_argument("--sessions", type=int, default=100000)
    ap.add_argument("--per-session", type=int, default=10); ap.add_argument("--out", default=f"/tmp/store-restart-{int(time.time())}")
    ap.add_argument("--brokers", default="mosquitto,starling-batch,starling-sync")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    for label in args.brokers.split(","):
        data = os.path.join(args.out, "data-" + label); shutil.rmtree(data, ignore_errors=True); os.makedirs(data)
        if label == "mosquitto":
            port = 18940
            conf = os.path.join(args.out, "mosquitto.conf")
            open(conf, "w").write(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
                                  f"persistence_location {data}/\nmax_queued_messages 1000000\n")
            cmd = ["mosquitto", "-c", conf]
            # Started as root, Mosquitto runs as its own user: its directory must be writable by it.
            import pwd
            user = pwd.getpwnam("mosquitto")
            os.chown(data, user.pw_uid, user.pw_gid)
        else:
            port = 18941
            conf = os.path.join(args.out, label + ".toml")
            open(conf, "w").write(f'[node]\ndata_dir = "{data}"\n[listeners.tcp.default]\nbind = "127.0.0.1"\nport = {port}\n'
                                  f'[session]\nmax_queued_messages = 1000000\n[storage]\ndurability = "{label.split("-")[1]}"\n'
                                  f'[api]\nenabled = false\n[log]\nlevel = "info"\n')
            cmd = [args.starling, "start", "--config", conf]
        run(label, cmd, data, port, args, args.out)

if __name__ == "__main__":
    main()
