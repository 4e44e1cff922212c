"""Integration tests: every daemon's `--metrics HOST:PORT` (Prometheus text
format at /metrics) and `--log-format json`.

A director, two servers registered with it, a relay and a proxy, each with
--metrics on 127.0.0.1:0; a download by name through the director, one
through the relay and one through the proxy. Each endpoint is scraped,
checked by `promtool check metrics` (Debian's prometheus), and its counters
must match what the test did: bytes sent add up to the file, the director
counted the registrations and the look-up, the relay the route, the proxy
the request and its sources' bytes.
"""

import json
import os
import re
import shutil
import socket
import subprocess
import unittest
import urllib.request

import harness as h

SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$')


def scrape(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.read().decode()


def samples(text: str) -> dict[str, float]:
    """'name{labels}' -> value, for every sample line."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE_RE.match(line)
        if not m:
            raise AssertionError(f"not a sample line: {line!r}")
        out[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return out


def listening_port(pid: int) -> int | None:
    """The TCP port process `pid` listens on (its first listening socket),
    from /proc: for a program that cannot say which port 0 gave it."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            cols = line.split()
            if cols[3] == "0A" and cols[9] in inodes:  # LISTEN
                return int(cols[1].split(":")[1], 16)
    return None


def total(s: dict[str, float], name: str) -> float:
    """The sum of a metric over all its label sets."""
    return sum(v for k, v in s.items() if k == name or k.startswith(name + "{"))


class MetricsCase(unittest.TestCase):
    SIZE = 3 * h.MIB + 12345
    NAME = "data.bin"

    @classmethod
    def setUpClass(cls) -> None:
        h.braid_bin()
        if not shutil.which("promtool"):
            raise AssertionError("promtool is missing: run scripts/setup.sh")
        cls.tmp = h.make_temp_dir()
        cls.root = os.path.join(cls.tmp, "root")
        os.makedirs(cls.root)
        path = os.path.join(cls.root, cls.NAME)
        cls.digest = h.write_random_file(path, cls.SIZE)
        # Settled: a server registers only files not modified for a while.
        os.utime(path, (1e9, 1e9))
        metrics = ["--metrics", "127.0.0.1:0"]
        cls.director = h.start_director(os.path.join(cls.tmp, "catalog.db"),
                                        extra=metrics, log_dir=cls.tmp)
        cls.servers = [h.start_server(cls.root, log_dir=cls.tmp, extra=metrics + [
            "--director", cls.director.address]) for _ in range(2)]
        cls.relay = h.start_relay([cls.servers[0].address], extra=metrics, log_dir=cls.tmp)
        cls.proxy = h.start_proxy([s.address for s in cls.servers], extra=metrics,
                                  log_dir=cls.tmp)
        cls.daemons = [cls.director, *cls.servers, cls.relay, cls.proxy]

    @classmethod
    def tearDownClass(cls) -> None:
        for d in cls.daemons:
            d.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def scrape(self, daemon: h.Server) -> dict[str, float]:
        text = scrape(h.metrics_url(daemon))
        r = subprocess.run(["promtool", "check", "metrics"], input=text.encode(),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
        self.assertEqual(r.returncode, 0, r.stdout.decode() + "\n" + text)
        return samples(text)

    @staticmethod
    def peek(daemon: h.Server) -> dict[str, float]:
        """The samples alone (no promtool): for polling."""
        return samples(scrape(h.metrics_url(daemon)))

    def wait_registered(self) -> None:
        ok = h.wait_until(lambda: samples(scrape(h.metrics_url(self.director))).get(
            "braid_director_servers") == 2, 20)
        self.assertTrue(ok, self.director.stderr_text()[-2000:])

    def out(self, what: str) -> str:
        return os.path.join(self.tmp, what)

    def test_every_daemon_counts_what_it_did(self) -> None:
        self.wait_registered()
        before = [self.scrape(s) for s in self.servers]
        sent_before = sum(total(b, "braid_server_bytes_sent_total") for b in before)
        # By name through the director (both servers), then through the
        # relay (the first server), then through the proxy (both).
        r = h.run_braid(["get", self.NAME, "--director", self.director.address,
                         "-o", self.out("by-name"), "--quiet"])
        self.assertEqual(r.returncode, 0, (r.stderr, self.director.stderr_text()))
        self.assertEqual(h.sha256_file(self.out("by-name")), self.digest)
        r = h.run_braid(["get", self.NAME, "--origin", self.servers[0].address,
                         "--via", self.relay.address, "-o", self.out("via"), "--quiet"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(h.sha256_file(self.out("via")), self.digest)
        with urllib.request.urlopen(f"http://{self.proxy.address}/{self.NAME}",
                                    timeout=60) as resp:
            body = resp.read()
        self.assertEqual(h.sha256_bytes(body), self.digest)

        servers = [self.scrape(s) for s in self.servers]
        sent = sum(total(s, "braid_server_bytes_sent_total") for s in servers) - sent_before
        # Three whole downloads, and what a source sent twice at most a
        # small share more.
        self.assertGreaterEqual(sent, 3 * self.SIZE)
        self.assertLess(sent, 4 * self.SIZE)
        for s in servers:
            self.assertGreater(s[f'braid_server_bytes_sent_total{{content="{self.NAME}"}}'], 0)
            self.assertGreater(s["braid_server_blocks_sent_total"], 0)
            self.assertGreaterEqual(s["braid_server_opens_total"], 1)
            self.assertGreaterEqual(s["braid_server_connections_accepted_total"], 1)

        d = self.scrape(self.director)
        self.assertEqual(d["braid_director_servers"], 2)
        self.assertGreaterEqual(d["braid_director_registrations_total"], 2)
        self.assertGreaterEqual(d['braid_director_lookups_total{result="found"}'], 1)
        self.assertEqual(d["braid_director_store_stale"], 0)

        relay = self.scrape(self.relay)
        self.assertGreaterEqual(relay["braid_relay_routes_total"], 1)
        self.assertGreaterEqual(relay['braid_relay_bytes_total{direction="to_client"}'],
                                self.SIZE)
        # Every route and connection that ended is counted out again.
        self.assertTrue(h.wait_until(lambda: self.peek(self.relay).get(
            "braid_relay_connections_open") == 0, 10 * h.SLOW))
        self.assertEqual(self.scrape(self.relay)["braid_relay_routes_open"], 0)

        # The body is whole before the fetch reports: wait for the report.
        self.assertTrue(h.wait_until(lambda: self.peek(self.proxy).get(
            'braid_proxy_fetches_total{result="ok"}', 0) >= 1, 20 * h.SLOW))
        p = self.scrape(self.proxy)
        self.assertGreaterEqual(p['braid_proxy_http_requests_total{code="200"}'], 1)
        self.assertGreaterEqual(p["braid_proxy_http_response_bytes_total"], self.SIZE)
        self.assertGreaterEqual(p['braid_proxy_fetches_total{result="ok"}'], 1)
        self.assertGreaterEqual(total(p, "braid_proxy_source_bytes_total"), self.SIZE)
        self.assertGreater(p["braid_proxy_blocks_received_total"], 0)

    def test_refusals_are_counted_by_code(self) -> None:
        srv = self.servers[1]
        before = self.scrape(srv).get('braid_server_errors_total{code="unexpected_frame"}', 0)
        # OPEN before HELLO: an ERROR kBadState ("unexpected frame").
        with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as s:
            s.sendall(h.frame(h.OPEN, h.open_body(self.NAME)))
            s.settimeout(10)
            while s.recv(4096):
                pass
        self.assertTrue(h.wait_until(lambda: self.peek(srv).get(
            'braid_server_errors_total{code="unexpected_frame"}', 0) == before + 1, 10))
        relay_before = self.scrape(self.relay)
        r = h.run_braid(["get", self.NAME, "--origin", self.servers[1].address,
                         "--via", self.relay.address, "-o", self.out("refused"), "--quiet"],
                        timeout=60)
        self.assertNotEqual(r.returncode, 0)
        after = self.scrape(self.relay)
        key = 'braid_relay_routes_refused_total{code="forbidden_path"}'
        self.assertGreater(after.get(key, 0), relay_before.get(key, 0))
        self.assertTrue(self.servers[1].alive() and self.relay.alive())
        # A request naming another host (DNS rebinding) is refused at the
        # proxy's gate, and counted with the answers httplib gives.
        with socket.create_connection(("127.0.0.1", self.proxy.port), timeout=10) as s:
            s.sendall(f"GET /{self.NAME} HTTP/1.1\r\nHost: evil.example\r\n\r\n".encode())
            self.assertIn(b" 421 ", s.recv(4096))
        self.assertTrue(h.wait_until(lambda: self.peek(self.proxy).get(
            'braid_proxy_http_requests_total{code="421"}', 0) >= 1, 10))


class PrometheusCase(unittest.TestCase):
    """A real Prometheus server scrapes a server, a director and a relay
    with --metrics: every target is up, and a query sees the bytes sent."""

    def test_prometheus_scrapes_the_daemons(self) -> None:
        if not shutil.which("prometheus"):
            raise AssertionError("prometheus is missing: run scripts/setup.sh")
        tmp = h.make_temp_dir(self)
        root = os.path.join(tmp, "root")
        os.makedirs(root)
        h.write_random_file(os.path.join(root, "f.bin"), h.MIB)
        metrics = ["--metrics", "127.0.0.1:0"]
        d = h.start_director(os.path.join(tmp, "c.db"), extra=metrics, log_dir=tmp)
        self.addCleanup(d.stop)
        srv = h.start_server(root, log_dir=tmp, extra=metrics)
        self.addCleanup(srv.stop)
        relay = h.start_relay([srv.address], extra=metrics, log_dir=tmp)
        self.addCleanup(relay.stop)
        r = h.run_get("f.bin", [srv.address], os.path.join(tmp, "out"), quiet=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        targets = [h.metrics_url(x).split("/")[2] for x in (d, srv, relay)]
        config = os.path.join(tmp, "prometheus.yml")
        with open(config, "w") as f:
            f.write("global:\n  scrape_interval: 1s\nscrape_configs:\n"
                    "  - job_name: braid\n    static_configs:\n"
                    f"      - targets: {json.dumps(targets)}\n")
        log = open(os.path.join(tmp, "prometheus.log"), "wb")
        self.addCleanup(log.close)
        prom = subprocess.Popen(
            ["prometheus", f"--config.file={config}",
             f"--storage.tsdb.path={os.path.join(tmp, 'tsdb')}",
             "--web.listen-address=127.0.0.1:0"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, cwd=tmp)
        self.addCleanup(lambda: (prom.kill(), prom.wait()))
        port: list[int] = []

        def bound() -> bool:
            found = listening_port(prom.pid) if prom.poll() is None else None
            if found:
                port.append(found)
            return bool(found)

        self.assertTrue(h.wait_until(bound, 30), "prometheus did not listen")
        api = f"http://127.0.0.1:{port[0]}/api/v1"

        def query(path: str) -> dict:
            try:
                with urllib.request.urlopen(api + path, timeout=5) as resp:
                    return json.loads(resp.read())
            except OSError:
                return {}

        def all_up() -> bool:
            active = query("/targets").get("data", {}).get("activeTargets", [])
            return len(active) == 3 and all(t["health"] == "up" for t in active)

        self.assertTrue(h.wait_until(all_up, 60, interval=0.5),
                        json.dumps(query("/targets"))[:3000])

        def sent() -> float:
            result = query("/query?query=sum(braid_server_bytes_sent_total)").get(
                "data", {}).get("result", [])
            return float(result[0]["value"][1]) if result else 0

        self.assertTrue(h.wait_until(lambda: sent() >= h.MIB, 30, interval=0.5))


class MetricsFlagCase(unittest.TestCase):
    """A bad --metrics is refused before the daemon serves; a busy port too."""

    def test_bad_address_is_a_usage_error(self) -> None:
        for cmd in (["relay"], ["proxy", "--source", "127.0.0.1:1"]):
            for bad, why in (("nowhere", b"--metrics nowhere"),
                             ("[::1]:0", b"IPv4 only")):
                r = h.run_braid(cmd + ["--listen", "127.0.0.1:0", "--metrics", bad],
                                timeout=20)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn(why, r.stderr)

    def test_busy_port_fails(self) -> None:
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            tmp = h.make_temp_dir(self)
            r = h.run_braid(["director", "--listen", "127.0.0.1:0", "--db",
                             os.path.join(tmp, "c.db"), "--metrics", f"127.0.0.1:{port}"],
                            timeout=20)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(b"cannot listen", r.stderr)


class JsonLogsCase(unittest.TestCase):
    """--log-format json: one object a line, with time, level, daemon, and
    the peer and content of lines about one; names a peer chose (even
    invalid UTF-8) cannot break a line."""

    def test_server_lines_are_json_objects(self) -> None:
        tmp = h.make_temp_dir(self)
        root = os.path.join(tmp, "root")
        os.makedirs(root)
        digest = h.write_random_file(os.path.join(root, "f.bin"), h.MIB)
        srv = h.start_server(root, log_dir=tmp, extra=["--log-format", "json"])
        self.addCleanup(srv.stop)
        r = h.run_get("f.bin", [srv.address], os.path.join(tmp, "out"), quiet=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(h.sha256_file(os.path.join(tmp, "out")), digest)
        # A name that is not UTF-8, after HELLO: logged as a failed OPEN.
        with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as s:
            s.sendall(h.frame(h.HELLO, h.hello_body()) +
                      h.frame(h.OPEN, h.open_body(b"\xff\xfe\"}.bin")))
            s.settimeout(10)
            try:
                while s.recv(4096):
                    pass
            except socket.timeout:
                pass
        self.assertTrue(h.wait_until(lambda: srv.stderr_text().count("\n") >= 4, 10))
        srv.stop()
        lines = [json.loads(line) for line in h.nonempty_lines(srv.stderr_text())]
        for line in lines:
            self.assertEqual(line["daemon"], "serve")
            self.assertIn(line["level"], ("trace", "debug", "info", "warning", "error"))
            self.assertRegex(line["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
            self.assertIsInstance(line["msg"], str)
        opens = [l for l in lines if l["msg"].startswith("OPEN 'f.bin'")]
        self.assertEqual(len(opens), 1, lines)
        self.assertEqual(opens[0]["content"], "f.bin")
        self.assertRegex(opens[0]["peer"], r"^127\.0\.0\.1:\d+$")
        bad = [l for l in lines if l.get("content", "").endswith('"}.bin')]
        self.assertEqual(len(bad), 1, lines)

    def test_text_lines_keep_their_peer_prefix(self) -> None:
        tmp = h.make_temp_dir(self)
        root = os.path.join(tmp, "root")
        os.makedirs(root)
        h.write_random_file(os.path.join(root, "f.bin"), 1000)
        srv = h.start_server(root, log_dir=tmp)
        self.addCleanup(srv.stop)
        r = h.run_get("f.bin", [srv.address], os.path.join(tmp, "out"), quiet=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(srv.stderr_text(), r" info 127\.0\.0\.1:\d+: OPEN 'f\.bin'")

    def test_bad_format_is_a_usage_error(self) -> None:
        r = h.run_braid(["serve", "--root", ".", "--log-format", "xml"], timeout=20)
        self.assertEqual(r.returncode, 2, r.stderr)


if __name__ == "__main__":
    unittest.main()
