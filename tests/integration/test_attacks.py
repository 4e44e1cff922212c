"""Integration tests: attacks on the director, discovery, relay, HTTP mirrors
and the proxy (issue 13, findings 2, 4, 6, 7, 8, 11, 12, 13).

Each test reproduces one attack against the real binary and checks that the
daemon keeps serving and that a download made meanwhile is byte-identical.
Another machine is played by another loopback address (127.0.0.2), which
Linux routes to this host like 127.0.0.1; every daemon listens on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness as h  # noqa: E402
from test_http_mirrors import NGINX, free_tcp_port, port_open  # noqa: E402

MB = 1_000_000
OTHER_HOST = "127.0.0.2"  # another machine, as the daemons see it
REGISTER_TIMEOUT = 10.0


def read_cid(path: str) -> bytes:
    with open(path, "rb") as f:
        return bytes.fromhex(h.content_id(f.read()))


def parse_sources(body: bytes) -> list[dict]:
    """The rows of a SOURCES body."""
    r = h.Reader(body)
    r.str()  # the name asked
    rows = []
    for _ in range(r.u32()):
        rows.append({"server": r.str(), "path": r.str(), "size": r.u64(),
                     "content_id": r.take(32).hex()})
    r.done()
    return rows


def register_frame(advertise: str, entries: list[tuple[str, int, bytes]]) -> bytes:
    """A whole REGISTER frame, built in one join (fast for 100,000 entries)."""
    parts = [h.u8(h.REGISTER_FIRST | h.REGISTER_LAST), h.enc_str(advertise),
             h.u32(len(entries))]
    parts += [h.enc_str(n) + h.u64(size) + cid for n, size, cid in entries]
    return h.frame(h.REGISTER, b"".join(parts))


class AttackCase(unittest.TestCase):
    """Per-test temp dir; every daemon is stopped by the test's cleanup."""

    SIZE = 24 * MB
    NAME = "f.bin"

    @classmethod
    def setUpClass(cls) -> None:
        cls.digest = h.class_root(cls, cls.NAME, cls.SIZE)
        cls.cid = read_cid(os.path.join(cls.root, cls.NAME))

    def setUp(self) -> None:
        h.braid_bin()
        self.tmp = h.make_temp_dir(self)

    def daemon(self, srv: h.Server) -> h.Server:
        self.addCleanup(srv.stop)
        return srv

    def serve(self, root: str, *extra: str, rate: str | None = None) -> h.Server:
        return self.daemon(h.start_server(root, max_rate=rate, extra=list(extra),
                                          log_dir=self.tmp))

    def director(self, *extra: str, heartbeat_ms: int | None = None) -> h.Server:
        db = os.path.join(self.tmp, "catalog.db")
        return self.daemon(h.start_director(db, heartbeat_ms=heartbeat_ms, extra=list(extra),
                                            log_dir=self.tmp))

    def raw(self, port: int, source: str | None = None) -> h.RawConn:
        c = h.RawConn(port, source=source)
        self.addCleanup(c.close)
        return c

    def registrar(self, director: h.Server, source: str | None = None) -> h.RawConn:
        c = self.raw(director.port, source)
        c.hello(role=h.ROLE_SERVER)
        return c

    def lookup(self, director: h.Server, name: str) -> list[dict]:
        c = self.raw(director.port)
        c.hello()
        c.send_frame(h.LOOKUP, h.u8(0) + h.enc_str(name))
        rows = parse_sources(c.expect(h.SOURCES).body)
        c.close()
        return rows

    def wait_holders(self, director: h.Server, n: int) -> list[dict]:
        rows: list = []

        def check() -> bool:
            rows[:] = self.lookup(director, self.NAME)
            return len(rows) == n

        self.assertTrue(h.wait_until(check, REGISTER_TIMEOUT, interval=0.1),
                        f"not {n} holder(s) of {self.NAME}: {rows}")
        return rows

    def slow_get(self, sources: list[str], extra: list[str] | None = None) -> h.BackgroundGet:
        """A download that runs while the attack goes on; check_get checks it."""
        out = os.path.join(self.tmp, f"during-{len(os.listdir(self.tmp))}.bin")
        args = h.get_args(self.NAME, sources, out, quiet=True, extra=extra)
        return h.get_during(self, args, out, self.tmp)

    def check_get(self, bg: h.BackgroundGet) -> None:
        h.check_get_during(self, bg, self.digest)

    def assert_refused(self, c: h.RawConn, code: int, what: str) -> str:
        """The next frame is ERROR `code`, then a close; returns the message."""
        f = c.recv_frame()
        self.assertIsNotNone(f, f"{what}: closed without an ERROR")
        self.assertEqual(f.type, h.ERROR, f"{what}: accepted ({f!r})")
        got, msg = h.parse_error(f.body)
        self.assertEqual(got, code, f"{what}: ERROR {got} {msg!r}")
        self.assertTrue(c.wait_closed(), f"{what}: not closed after ERROR")
        return msg


class DirectorAttacks(AttackCase):
    def test_register_hijack(self) -> None:
        """#2: REGISTER of another server's address does not take it over,
        and a client never writes the attacker's file as verified."""
        d = self.director()
        good = self.serve(self.root, "--director", d.address, rate="60mbit")
        self.wait_holders(d, 1)
        during = self.slow_get([good.address])

        # The same address from the same IP, while the real server holds it.
        c = self.registrar(d)
        c.send_frame(h.REGISTER, h.register_body(good.address, []))
        msg = self.assert_refused(c, h.kBadState, "a second registration of a live address")
        self.assertIn("another connection", msg)
        # The real server's address from another machine.
        c = self.registrar(d, source=OTHER_HOST)
        c.send_frame(h.REGISTER, h.register_body(good.address, []))
        msg = self.assert_refused(c, h.kBadState, "an address that is not the sender's")
        self.assertIn("not an address of", msg)
        # The real server kept its registration.
        self.assertEqual(self.lookup(d, self.NAME)[0]["server"], good.address)

        # The attacker's own server, other content under the same name.
        evil_root = os.path.join(self.tmp, "evil")
        h.write_random_file(os.path.join(evil_root, self.NAME), self.SIZE)
        self.serve(evil_root, "--director", d.address)
        self.wait_holders(d, 2)
        out = os.path.join(self.tmp, "director.bin")
        r = h.run_get(self.NAME, [], out, extra=["--director", d.address], timeout=60)
        if r.returncode == 0:
            self.assertEqual(h.sha256_file(out), self.digest, "the attacker's file was written")
        else:
            self.assertIn("different contents", r.stderr.decode(errors="replace"))
            self.assertFalse(os.path.exists(out))
        r = h.run_get(self.NAME, [], out, timeout=60,
                      extra=["--director", d.address, "--content-id", self.cid.hex()])
        self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace"))
        self.assertEqual(h.sha256_file(out), self.digest)
        self.check_get(during)
        self.assertTrue(d.alive(), d.stderr_text())

    def test_six_spellings_of_one_address(self) -> None:
        """#8: six spellings of a victim's address are one registration, and
        a client opens one connection to it."""
        d = self.director(heartbeat_ms=10000)
        victim = self.serve(self.root)
        port = victim.port
        spellings = [f"127.1:{port}", f"2130706433:{port}", f"0x7f000001:{port}",
                     f"0177.0.0.1:{port}", f"127.0.1:{port}", f"[::ffff:127.0.0.1]:{port}"]
        accepted = []
        for s in spellings:
            c = self.registrar(d)
            c.send_frame(h.REGISTER, h.register_body(s, [(self.NAME, self.SIZE, self.cid)]))
            f = c.recv_frame()
            self.assertIsNotNone(f, s)
            if f.type == h.REGISTERED:
                accepted.append(c)
            else:
                self.assertEqual(h.parse_error(f.body)[0], h.kBadState, s)
        self.assertEqual(len(accepted), 1, "one victim registered under several spellings")
        rows = self.lookup(d, self.NAME)
        self.assertEqual([r["server"] for r in rows], [victim.address])

        out = os.path.join(self.tmp, "out.bin")
        stats = os.path.join(self.tmp, "stats.json")
        r = h.run_get(self.NAME, [], out, stats=stats, extra=["--director", d.address],
                      timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace"))
        self.assertEqual(h.sha256_file(out), self.digest)
        with open(stats) as f:
            st = json.load(f)
        self.assertEqual([s["address"] for s in st["sources"]], [victim.address])

    def test_silent_connections_from_one_address(self) -> None:
        """#6: one address holding many silent connections is refused past
        its share; everyone else is still served."""
        d = self.director("--max-connections", "100")
        flood, refused = [], 0
        for _ in range(150):
            try:
                s = socket.create_connection(("127.0.0.1", d.port), timeout=5,
                                             source_address=(OTHER_HOST, 0))
            except OSError:
                continue
            self.addCleanup(s.close)
            flood.append(s)
        for s in flood:  # the ones past the limit get ERROR kLimit at once
            s.settimeout(0.5 * h.SLOW)
            try:
                data = s.recv(4096)
            except OSError:
                continue
            if len(data) >= 5 and data[4] == h.ERROR:
                refused += h.parse_error(data[5:4 + int.from_bytes(data[:4], "big")])[0] == h.kLimit
        self.assertGreaterEqual(refused, 150 - 64, "no per-address limit")
        # A server and a client from 127.0.0.1 are served.
        good = self.serve(self.root, "--director", d.address)
        self.wait_holders(d, 1)
        out = os.path.join(self.tmp, "out.bin")
        r = h.run_get(self.NAME, [], out, extra=["--director", d.address], timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace"))
        self.assertEqual(h.sha256_file(out), self.digest)
        self.assertTrue(good.alive())

    def test_registration_of_100000_names(self) -> None:
        """#7: a registration larger than the per-server bound is refused;
        a look-up stops at its limit; a download goes on meanwhile."""
        d = self.director()
        good = self.serve(self.root, "--director", d.address, rate="60mbit")
        self.wait_holders(d, 1)
        during = self.slow_get([], extra=["--director", d.address])
        entries = [(f"n{i:06d}", self.SIZE, self.cid) for i in range(100_000)]
        c = self.registrar(d)
        c.send_raw(register_frame("127.0.0.1:9", entries))
        msg = self.assert_refused(c, h.kLimit, "100,000 names in one registration")
        self.assertIn("20000", msg)
        # At the bound it is accepted, and a look-up is cut at 4096 rows with
        # the holder of the name itself among them.
        c = self.registrar(d)
        c.send_raw(register_frame("127.0.0.1:9", entries[:20_000]))
        self.assertEqual(h.parse_registered(c.expect(h.REGISTERED).body)[0], 20_000)
        rows = self.lookup(d, self.NAME)
        self.assertEqual(len(rows), 4096)
        self.assertEqual(rows[0]["server"], good.address)
        self.check_get(during)
        self.assertTrue(d.alive(), d.stderr_text())


class LanResponder(threading.Thread):
    """A discovery responder on 127.0.0.1 that answers every DISCOVER with
    one HERE per host in `hosts`, all for `port` and one content."""

    def __init__(self, hosts: list[str], port: int, size: int, cid: bytes):
        super().__init__(daemon=True)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self.sock.getsockname()[1]}"
        self.answers = [(host, port, size, cid) for host in hosts]
        self.start()

    def run(self) -> None:
        while True:
            try:
                data, sender = self.sock.recvfrom(4096)
            except OSError:
                return
            if len(data) < 13 or data[4] != h.DISCOVER:
                continue
            nonce = data[5:13]
            for host, port, size, cid in self.answers:
                body = nonce + h.u16(port) + h.enc_str(host) + h.u64(size) + cid
                self.sock.sendto(h.frame(h.HERE, body), sender)

    def close(self) -> None:
        self.sock.close()


class DiscoveryAttacks(AttackCase):
    def discover_get(self, responder: LanResponder, named: list[str]) -> tuple[int, str, dict]:
        out = os.path.join(self.tmp, "out.bin")
        stats = os.path.join(self.tmp, "stats.json")
        r = h.run_get(self.NAME, named, out, stats=stats, timeout=60,
                      extra=["--discover", "--discover-to", responder.address,
                             "--discover-wait", "500"])
        err = r.stderr.decode(errors="replace")
        st = {}
        if r.returncode == 0:
            self.assertEqual(h.sha256_file(out), self.digest, "the wrong file was written")
            with open(stats) as f:
                st = json.load(f)
        return r.returncode, err, st

    def test_aliases_do_not_outvote_the_named_source(self) -> None:
        """#4: three spellings of one bad server answer discovery; the
        server the user named wins, the bad one is left out."""
        good = self.serve(self.root)
        evil_root = os.path.join(self.tmp, "evil")
        h.write_random_file(os.path.join(evil_root, self.NAME), self.SIZE)
        evil = self.serve(evil_root)
        evil_cid = read_cid(os.path.join(evil_root, self.NAME))
        lan = LanResponder(["127.0.0.1", "localhost", "127.1"], evil.port, self.SIZE, evil_cid)
        self.addCleanup(lan.close)
        rc, err, st = self.discover_get(lan, [good.address])
        self.assertEqual(rc, 0, err)
        self.assertIn("different content", err)  # the discovered one, left out
        self.assertTrue(good.alive() and evil.alive())

    def test_named_aliases_are_one_vote(self) -> None:
        """A server the user names twice (localhost:P and 127.0.0.1:P) is
        one voter: it does not outvote the other named server, so the client
        refuses to guess instead of writing its content."""
        good = self.serve(self.root)
        evil_root = os.path.join(self.tmp, "evil")
        h.write_random_file(os.path.join(evil_root, self.NAME), self.SIZE)
        evil = self.serve(evil_root)
        out = os.path.join(self.tmp, "out.bin")
        r = h.run_get(self.NAME, [f"localhost:{evil.port}", good.address, evil.address], out,
                      timeout=60)
        err = r.stderr.decode(errors="replace")
        self.assertNotEqual(r.returncode, 0, err)
        self.assertIn("--content-id", err)
        self.assertFalse(os.path.exists(out))
        # Two good servers against the two spellings of the bad one: 2 to 1.
        good2 = self.serve(self.root)
        r = h.run_get(self.NAME, [f"localhost:{evil.port}", evil.address, good.address,
                                  good2.address], out, timeout=60)
        err = r.stderr.decode(errors="replace")
        self.assertEqual(r.returncode, 0, err)
        self.assertEqual(h.sha256_file(out), self.digest)
        self.assertIn("different content", err)

    def test_six_spellings_answer_discovery(self) -> None:
        """#8 (client side): six spellings of one victim in discovery
        answers are one source, one connection."""
        victim = self.serve(self.root)
        port = victim.port
        lan = LanResponder(["127.0.0.1", "127.1", "2130706433", "0x7f000001", "0177.0.0.1",
                            "localhost"], port, self.SIZE, self.cid)
        self.addCleanup(lan.close)
        rc, err, st = self.discover_get(lan, [])
        self.assertEqual(rc, 0, err)
        self.assertEqual([s["address"] for s in st["sources"]], [victim.address], err)


class RelayAttacks(AttackCase):
    def route(self, relay: h.Server, origin: str) -> h.RawConn | None:
        """A route from another machine through `relay` to `origin`, holding a
        connection at the origin (its HELLO answered); None if refused."""
        try:
            c = self.raw(relay.port, source=OTHER_HOST)
            c.hello()
            c.send_frame(h.ROUTE, h.enc_str(origin))
            f = c.recv_frame()
            if f is None or f.type != h.ROUTED:
                return None
            c.hello()  # now the origin's
            return c
        except (OSError, AssertionError, h.Closed):
            return None

    def test_64_routes_from_one_address(self) -> None:
        """#13: one client address cannot use up, through a relay, the
        slots the origin gives the relay: the relay's other clients are served."""
        origin = self.serve(self.root, rate="60mbit")
        relay = self.daemon(h.start_relay([origin.address], log_dir=self.tmp))
        args = ["--origin", origin.address, "--via", relay.address]
        during = self.slow_get([], extra=args)
        routes = [c for c in (self.route(relay, origin.address) for _ in range(64)) if c]
        out = os.path.join(self.tmp, "after.bin")
        r = h.run_get(self.NAME, [], out, extra=args, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace"))
        self.assertEqual(h.sha256_file(out), self.digest)
        self.assertLessEqual(len(routes), 16, "no per-client route limit below the origin's")
        self.assertGreater(len(routes), 0)
        self.check_get(during)
        self.assertTrue(relay.alive() and origin.alive())


OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"

# An https mirror on TLS_PORT: /f.bin served, /down/f.bin redirected to the
# http server on PLAIN_PORT, whose every request is logged.
TLS_NGINX_CONF = """\
daemon off;
master_process off;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 64; }}
http {{
    default_type application/octet-stream;
    types {{ }}
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    server {{
        listen 127.0.0.1:{tls_port} ssl;
        ssl_certificate {tmp}/cert.pem;
        ssl_certificate_key {tmp}/key.pem;
        root {root};
        location /down/ {{ return 302 http://127.0.0.1:{plain_port}/f.bin; }}
    }}
    server {{
        listen 127.0.0.1:{plain_port};
        root {root};
        access_log {tmp}/plain.log;
    }}
}}
"""


@unittest.skipUnless(os.path.exists(NGINX) and os.path.exists(OPENSSL),
                     "nginx or openssl is not installed")
class MirrorAttacks(AttackCase):
    def tls_nginx(self) -> tuple[int, str]:
        """Starts the https + http nginx; (https port, path of the http log).
        The certificate (for IP 127.0.0.1) is trusted through SSL_CERT_FILE."""
        tmp = os.path.join(self.tmp, "nginx")
        os.makedirs(tmp)
        subprocess.run([OPENSSL, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-keyout", f"{tmp}/key.pem", "-out", f"{tmp}/cert.pem",
                        "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                       check=True, capture_output=True, timeout=60)
        old = os.environ.get("SSL_CERT_FILE")
        os.environ["SSL_CERT_FILE"] = f"{tmp}/cert.pem"
        self.addCleanup(lambda: os.environ.pop("SSL_CERT_FILE") if old is None
                        else os.environ.__setitem__("SSL_CERT_FILE", old))
        for _ in range(3):  # a port may be taken between choice and bind
            tls_port, plain_port = free_tcp_port(), free_tcp_port()
            conf = os.path.join(tmp, "nginx.conf")
            with open(conf, "w") as f:
                f.write(TLS_NGINX_CONF.format(tmp=tmp, root=self.root, tls_port=tls_port,
                                              plain_port=plain_port))
            proc = subprocess.Popen([NGINX, "-c", conf, "-p", tmp, "-e", f"{tmp}/error.log"],
                                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
            self.addCleanup(lambda p=proc: p.poll() is None and (p.kill(), p.wait(10)))
            up = lambda: (port_open(tls_port) and port_open(plain_port)) or proc.poll() is not None
            if h.wait_until(up, 10) and proc.poll() is None:
                return tls_port, f"{tmp}/plain.log"
        self.fail(f"nginx did not start; see {tmp}/error.log")

    def test_https_mirror_redirecting_to_http(self) -> None:
        """#11: a redirect from https to http is refused with a clear error;
        nothing is fetched in clear text; the other mirror serves the file."""
        tls_port, plain_log = self.tls_nginx()
        good = f"https://127.0.0.1:{tls_port}/f.bin"
        down = f"https://127.0.0.1:{tls_port}/down/f.bin"
        out = os.path.join(self.tmp, "out.bin")
        r = h.run_braid(["get", down, "-o", out], timeout=60)
        err = r.stderr.decode(errors="replace")
        self.assertNotEqual(r.returncode, 0, "followed a redirect from https to http")
        self.assertIn("https to http", err)
        self.assertFalse(os.path.exists(out))
        r = h.run_braid(["get", good, down, "-o", out], timeout=60)
        err = r.stderr.decode(errors="replace")
        self.assertEqual(r.returncode, 0, err)
        self.assertEqual(h.sha256_file(out), self.digest)
        self.assertIn("https to http", err)
        with open(plain_log) as f:
            self.assertEqual(f.read(), "", "a request went out in clear text")


class ProxyAttacks(AttackCase):
    def setUp(self) -> None:
        super().setUp()
        self.server = self.serve(self.root)
        self.proxy = self.daemon(h.start_proxy([self.server.address], log_dir=self.tmp))

    def request(self, head: bytes, timeout: float = 30) -> bytes:
        """Sends a raw request head; what the proxy answers, until it closes."""
        with socket.create_connection(("127.0.0.1", self.proxy.port), timeout=timeout) as s:
            try:
                s.sendall(head)
            except OSError:
                pass  # refused mid-head: the answer may still be there
            out = b""
            while True:
                try:
                    b = s.recv(1 << 16)
                except (ConnectionResetError, socket.timeout):
                    return out
                if not b:
                    return out
                out += b

    def status(self, head: bytes) -> int:
        answer = self.request(head)
        self.assertTrue(answer.startswith(b"HTTP/1.1 "), answer[:200])
        return int(answer[9:12])

    def get_body(self, host: str) -> bytes:
        answer = self.request(f"GET /{self.NAME} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode(),
                              timeout=30 * h.SLOW)
        head, _, body = answer.partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 200"), head[:200])
        return body

    def test_slow_heads_many_fields_and_a_foreign_host(self) -> None:
        """#12: 40 connections sending one header byte every 2 s do not stall
        the proxy (and are cut off at the head deadline); a head of 2,500
        fields is refused (431); a foreign Host is refused (421)."""
        stop = threading.Event()
        slow = [socket.create_connection(("127.0.0.1", self.proxy.port), timeout=5)
                for _ in range(40)]
        for s in slow:
            self.addCleanup(s.close)
        started = threading.Event()

        def trickle() -> None:
            head = b"GET /f.bin HTTP/1.1\r\nHost: localhost\r\nX-Slow: " + b"a" * 1000
            for i in range(len(head)):
                for s in slow:
                    try:
                        s.send(head[i:i + 1])
                    except OSError:
                        pass  # cut off
                started.set()
                if stop.wait(2):
                    return

        t = threading.Thread(target=trickle, daemon=True)
        t.start()
        self.addCleanup(t.join, 10)
        self.addCleanup(stop.set)
        self.assertTrue(started.wait(10), "the slow heads did not start")
        self.assertEqual(h.sha256_bytes(self.get_body(f"127.0.0.1:{self.proxy.port}")),
                         self.digest)
        self.assertEqual(h.sha256_bytes(self.get_body("localhost")), self.digest)

        fields = b"".join(b"X-Field-%d: %s\r\n" % (i, b"v" * 80) for i in range(2500))
        self.assertEqual(self.status(b"GET /f.bin HTTP/1.1\r\nHost: localhost\r\n" +
                                     fields + b"\r\n"), 431)
        self.assertEqual(self.status(b"GET /f.bin HTTP/1.1\r\nHost: attacker.example\r\n\r\n"),
                         421)

        # The slow heads are cut off at the head deadline (10 s).
        def all_cut() -> bool:
            for s in slow:
                s.settimeout(0.05)
                try:
                    if s.recv(4096) == b"":
                        continue
                except (ConnectionResetError, BrokenPipeError):
                    continue
                except socket.timeout:
                    return False
            return True

        self.assertTrue(h.wait_until(all_cut, 30, interval=0.5),
                        "connections sending their head slowly were not cut off")
        self.assertTrue(self.proxy.alive(), self.proxy.stderr_text())


if __name__ == "__main__":
    unittest.main()
