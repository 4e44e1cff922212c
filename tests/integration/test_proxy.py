"""Integration tests: `braid proxy`, a local HTTP/1.1 server in front of
parallel transfers.

Three `braid serve` hold the files; one `braid proxy --source ...` serves
them over HTTP on 127.0.0.1. Bodies are compared by sha256 with the files;
curl, ffprobe and ffmpeg are used unchanged. Everything runs on 127.0.0.1
and every wait is bounded.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness as h  # noqa: E402

BS = h.DEFAULT_BLOCK_SIZE
HTTP_TIMEOUT = 60.0


class ProxyCase(unittest.TestCase):
    """A file whose size is not a multiple of the block size, a 256 MiB one
    for memory and disconnects, and (when ffmpeg is installed) a short mp4."""

    NAME = "data.bin"
    SIZE = 20 * BS + 123
    BIG = "big.bin"
    BIG_SIZE = 256 * h.MIB
    CLIP = "clip.mp4"

    @classmethod
    def setUpClass(cls) -> None:
        h.braid_bin()
        cls.digest = h.class_root(cls, cls.NAME, cls.SIZE)
        with open(os.path.join(cls.root, cls.NAME), "rb") as f:
            cls.data = f.read()
        cls.big_digest = h.write_random_file(os.path.join(cls.root, cls.BIG), cls.BIG_SIZE)
        cls.has_ffmpeg = bool(shutil.which("ffmpeg") and shutil.which("ffprobe"))
        if cls.has_ffmpeg:
            make_clip(os.path.join(cls.root, cls.CLIP))
        cls.servers = [h.start_server(cls.root, log_dir=cls.tmp) for _ in range(3)]
        for s in cls.servers:
            cls.addClassCleanup(s.stop)
        cls.proxy = h.start_proxy([s.address for s in cls.servers], log_dir=cls.tmp,
                                  extra=["--max-buffer", "8MiB", "--queue", "4MiB"])
        cls.addClassCleanup(cls.proxy.stop)
        # The servers hash their files after they start listening; an OPEN
        # waits for that, so wait (bounded) until the big file is described.
        ready = h.wait_until(lambda: head_status(cls.proxy.port, cls.BIG) == 200, 120, 0.5)
        assert ready, cls.proxy.stderr_text()[-4000:]

    def setUp(self) -> None:
        self.tmp = h.make_temp_dir(self)
        self.assertTrue(self.proxy.alive(), self.proxy.stderr_text())

    # -- helpers

    def url(self, name: str) -> str:
        return f"http://{self.proxy.address}/{name}"

    def request(self, method: str, path: str, headers: dict | None = None):
        """One request on a fresh connection: (status, headers, body)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.proxy.port, timeout=HTTP_TIMEOUT)
        try:
            conn.request(method, path, headers=headers or {})
            resp = conn.getresponse()
            body = resp.read()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, body
        finally:
            conn.close()

    def get_range(self, spec: str):
        return self.request("GET", "/" + self.NAME, {"Range": spec})

    def curl(self, args: list[str], timeout: float = 120.0) -> subprocess.CompletedProcess:
        return h.run_cmd(["curl", "-sS", "-f", "--max-time", str(int(timeout))] + args,
                         timeout=timeout + 10)

    # -- whole bodies

    def test_curl_full_get_matches_sha256(self):
        out = os.path.join(self.tmp, "out.bin")
        r = self.curl(["-o", out, "-w", "%{http_code}", self.url(self.NAME)])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.strip(), b"200")
        self.assertEqual(h.sha256_file(out), self.digest)

    def test_head_answers_the_headers_without_a_body(self):
        status, hdr, body = self.request("HEAD", "/" + self.NAME)
        self.assertEqual(status, 200)
        self.assertEqual(body, b"")
        self.assertEqual(int(hdr["content-length"]), self.SIZE)
        self.assertEqual(hdr["accept-ranges"], "bytes")
        self.assertEqual(hdr["content-type"], "application/octet-stream")
        self.assertRegex(hdr["etag"], r'^"[0-9a-f]{64}"$')
        # The same ETag on a GET, and a Range on HEAD gives the range's length.
        _, ghdr, _ = self.get_range("bytes=0-0")
        self.assertEqual(ghdr["etag"], hdr["etag"])
        status, rhdr, _ = self.request("HEAD", "/" + self.NAME, {"Range": "bytes=10-19"})
        self.assertEqual(status, 206)
        self.assertEqual(int(rhdr["content-length"]), 10)
        self.assertEqual(rhdr["content-range"], f"bytes 10-19/{self.SIZE}")

    # -- ranges

    def check_range(self, spec: str, first: int, last: int):
        status, hdr, body = self.get_range(spec)
        self.assertEqual(status, 206, spec)
        self.assertEqual(hdr["content-range"], f"bytes {first}-{last}/{self.SIZE}", spec)
        self.assertEqual(int(hdr["content-length"]), last - first + 1, spec)
        self.assertEqual(h.sha256_bytes(body), h.sha256_bytes(self.data[first:last + 1]), spec)

    def test_ranges(self):
        n = self.SIZE
        cases = [
            ("bytes=0-0", 0, 0),                          # first byte
            (f"bytes={n - 1}-{n - 1}", n - 1, n - 1),     # last byte
            (f"bytes={BS - 1}-{BS}", BS - 1, BS),         # across a block boundary
            (f"bytes={BS}-{2 * BS - 1}", BS, 2 * BS - 1),  # exactly one block
            (f"bytes={BS // 2}-{5 * BS + 7}", BS // 2, 5 * BS + 7),
            ("bytes=-100", n - 100, n - 1),               # suffix
            (f"bytes=-{n + 5000}", 0, n - 1),             # suffix longer than the file
            (f"bytes={3 * BS + 5}-", 3 * BS + 5, n - 1),  # open end
            (f"bytes={n - 10}-{n + 1000}", n - 10, n - 1),  # end clamped
        ]
        for spec, first, last in cases:
            with self.subTest(spec=spec):
                self.check_range(spec, first, last)

    def test_curl_range_option(self):
        out = os.path.join(self.tmp, "part.bin")
        r = self.curl(["-r", f"{BS - 3}-{3 * BS}", "-o", out, "-w", "%{http_code}",
                       self.url(self.NAME)])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.strip(), b"206")
        with open(out, "rb") as f:
            self.assertEqual(f.read(), self.data[BS - 3:3 * BS + 1])

    def test_braid_get_range(self):
        sources = [s.address for s in self.servers]
        for first, last in ((0, 0), (BS - 1, BS), (self.SIZE - 77, self.SIZE - 1)):
            with self.subTest(first=first, last=last):
                out = os.path.join(self.tmp, f"r{first}.bin")
                r = h.run_get(self.NAME, sources, out, extra=["--range", f"{first}-{last}"])
                self.assertEqual(r.returncode, 0, r.stderr)
                with open(out, "rb") as f:
                    self.assertEqual(f.read(), self.data[first:last + 1])
        # As HTTP's Range: the last byte is clamped to the end, FIRST- runs
        # to the end, -COUNT is the last COUNT bytes.
        for spec, want in ((f"10-{self.SIZE + 5}", self.data[10:]),
                           (f"{self.SIZE - 3}-", self.data[-3:]),
                           ("-5", self.data[-5:])):
            with self.subTest(spec=spec):
                out = os.path.join(self.tmp, f"s{len(want)}.bin")
                r = h.run_get(self.NAME, sources, out, extra=["--range", spec])
                self.assertEqual(r.returncode, 0, r.stderr)
                with open(out, "rb") as f:
                    self.assertEqual(f.read(), want)
        out = os.path.join(self.tmp, "past.bin")
        for spec in (f"{self.SIZE}-", "-0", "5-4", "x"):
            with self.subTest(spec=spec):
                r = h.run_get(self.NAME, sources, out, extra=["--range", spec])
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn(b"--range", r.stderr)
                self.assertFalse(os.path.exists(out))

    def test_several_or_invalid_ranges_answer_the_whole_body(self):
        for spec in ("bytes=0-1,10-20", "bytes=abc", "items=0-5", "bytes=5-1", "bytes=-"):
            with self.subTest(spec=spec):
                status, hdr, body = self.get_range(spec)
                self.assertEqual(status, 200)
                self.assertNotIn("content-range", hdr)
                self.assertEqual(h.sha256_bytes(body), self.digest)

    def test_unsatisfiable_range_is_416(self):
        for spec in (f"bytes={self.SIZE}-", f"bytes={self.SIZE + 10}-{self.SIZE + 20}",
                     "bytes=-0"):
            with self.subTest(spec=spec):
                status, hdr, body = self.get_range(spec)
                self.assertEqual(status, 416)
                self.assertEqual(hdr["content-range"], f"bytes */{self.SIZE}")
                self.assertEqual(body, b"")

    # -- errors

    def test_unknown_name_is_404(self):
        status, _, _ = self.request("GET", "/no-such-file.bin")
        self.assertEqual(status, 404)
        status, _, _ = self.request("HEAD", "/no-such-file.bin")
        self.assertEqual(status, 404)

    def test_bad_names_are_400(self):
        for path in ("/../etc/passwd", "/%2e%2e/etc/passwd", "/a/../../x", "//etc/passwd",
                     "/a%01b", "/a%00b", "/a%7fb", "/"):
            with self.subTest(path=path):
                status, _, _ = self.request("GET", path)
                self.assertEqual(status, 400)

    def test_other_methods_are_405(self):
        for method in ("POST", "PUT", "DELETE", "OPTIONS", "PATCH"):
            with self.subTest(method=method):
                status, hdr, _ = self.request(method, "/" + self.NAME)
                self.assertEqual(status, 405)
                self.assertEqual(hdr.get("allow"), "GET, HEAD")

    # -- big file: disconnects and back-pressure

    def threads(self) -> int:
        with open(f"/proc/{self.proxy.proc.pid}/status") as f:
            for line in f:
                if line.startswith("Threads:"):
                    return int(line.split()[1])
        return 0

    def test_client_disconnect_mid_body_then_full_download(self):
        # Idle: main, the listener and httplib's pool. A body adds its
        # transfer's threads, which must end soon after the client leaves.
        idle = self.threads()
        for _ in range(3):
            s = socket.create_connection(("127.0.0.1", self.proxy.port), timeout=HTTP_TIMEOUT)
            s.sendall(f"GET /{self.BIG} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
            got = 0
            while got < 4 * h.MIB:
                b = s.recv(1 << 16)
                self.assertTrue(b, "proxy closed early")
                got += len(b)
            self.assertGreater(self.threads(), idle)
            s.close()
            self.assertTrue(h.wait_until(lambda: self.threads() == idle, 10),
                            f"transfer threads still running: {self.threads()} > {idle}")
        self.assertTrue(self.proxy.alive())
        r = self.curl([self.url(self.BIG)], timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(hashlib.sha256(r.stdout).hexdigest(), self.big_digest)

    def test_slow_reader_gets_all_bytes_with_bounded_memory(self):
        out = os.path.join(self.tmp, "slow.bin")
        err = os.path.join(self.tmp, "curl.stderr")
        with open(err, "wb") as errf:
            curl = subprocess.Popen(["curl", "-sS", "-f", "--max-time", "120", "--limit-rate", "48M",
                                     "-o", out, self.url(self.BIG)],
                                    stdout=subprocess.DEVNULL, stderr=errf)
        peak = 0
        try:
            deadline = time.monotonic() + 130
            while curl.poll() is None and time.monotonic() < deadline:
                peak = max(peak, h.vm_rss_bytes(self.proxy.proc.pid))
                time.sleep(0.1)
        finally:
            if curl.poll() is None:
                curl.kill()
            curl.wait(timeout=10)
        with open(err, "rb") as f:
            self.assertEqual(curl.returncode, 0, (f.read(), self.proxy.stderr_text()[-4000:]))
        self.assertEqual(h.sha256_file(out), self.big_digest)
        self.assertGreater(peak, 0)
        # ASan's quarantine keeps freed memory resident: no bound there.
        if not h.SANITIZED:
            self.assertLess(peak, 200 * h.MIB, f"proxy RSS peaked at {peak} bytes")

    # -- media tools

    def test_ffprobe_and_ffmpeg_through_the_proxy(self):
        if not self.has_ffmpeg:
            self.skipTest("ffmpeg/ffprobe not installed")
        r = h.run_cmd(["ffprobe", "-v", "error", "-show_entries",
                       "format=duration:stream=codec_type", "-of", "json",
                       self.url(self.CLIP)], timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        info = json.loads(r.stdout)
        self.assertAlmostEqual(float(info["format"]["duration"]), 4.0, delta=0.2)
        kinds = sorted(s["codec_type"] for s in info["streams"])
        self.assertEqual(kinds, ["audio", "video"])
        # A stream copy reads the whole file through seeks (Range requests).
        copy = os.path.join(self.tmp, "copy.mp4")
        r = h.run_cmd(["ffmpeg", "-v", "error", "-y", "-i", self.url(self.CLIP), "-c", "copy",
                       "-f", "mp4", copy], timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertGreater(os.path.getsize(copy), 0)
        # Decoding from a seek point.
        r = h.run_cmd(["ffmpeg", "-v", "error", "-ss", "2", "-i", self.url(self.CLIP),
                       "-f", "null", "-"], timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        # The bytes curl gets are the file's.
        r = self.curl([self.url(self.CLIP)])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(hashlib.sha256(r.stdout).hexdigest(),
                         h.sha256_file(os.path.join(self.root, self.CLIP)))
        status, hdr, _ = self.request("HEAD", "/" + self.CLIP)
        self.assertEqual(hdr["content-type"], "video/mp4")
        log = self.proxy.stderr_text()
        self.assertTrue(re.search(r"GET /clip\.mp4 -> 206", log), "ffmpeg sent no Range")


class ProxyKeepsConnectionsCase(unittest.TestCase):
    """A session per name keeps its connections between requests
    (docs/library.md "Sessions"): a run of range requests re-OPENs on the
    connections the first one made; a source that dies meanwhile is
    connected anew, or left out, and no byte is wrong."""

    NAME = "kept.bin"
    SIZE = 48 * BS + 77

    @classmethod
    def setUpClass(cls) -> None:
        h.braid_bin()
        cls.digest = h.class_root(cls, cls.NAME, cls.SIZE)
        with open(os.path.join(cls.root, cls.NAME), "rb") as f:
            cls.data = f.read()

    def setUp(self) -> None:
        self.servers = [h.start_server(self.root, log_dir=self.tmp) for _ in range(3)]
        for s in self.servers:
            self.addCleanup(s.stop)
        self.proxy = h.start_proxy([s.address for s in self.servers], log_dir=self.tmp)
        self.addCleanup(self.proxy.stop)

    def get(self, first: int | None = None, last: int | None = None) -> bytes:
        conn = http.client.HTTPConnection("127.0.0.1", self.proxy.port, timeout=HTTP_TIMEOUT)
        try:
            headers = {} if first is None else {"Range": f"bytes={first}-{last}"}
            conn.request("GET", "/" + self.NAME, headers=headers)
            resp = conn.getresponse()
            body = resp.read()
            self.assertEqual(resp.status, 200 if first is None else 206,
                             self.proxy.stderr_text()[-3000:])
            return body
        finally:
            conn.close()

    def check(self, first: int, last: int) -> None:
        self.assertEqual(h.sha256_bytes(self.get(first, last)),
                         h.sha256_bytes(self.data[first:last + 1]), f"{first}-{last}")

    def opens_by_peer(self, server: h.Server) -> dict[str, int]:
        return h.opens_by_peer(server, self.NAME)

    def test_a_run_of_requests_reopens_on_the_first_connections(self):
        spans = [(0, BS - 1), (5 * BS + 3, 9 * BS), (self.SIZE - 10, self.SIZE - 1),
                 (17 * BS, 17 * BS), (BS // 2, 30 * BS + 5)]
        for first, last in spans:
            self.check(first, last)
        self.assertEqual(h.sha256_bytes(self.get()), self.digest)
        for server in self.servers:
            peers = self.opens_by_peer(server)
            # The first request opens the session (Describe), then each of
            # the six fetches re-OPENs on that same connection. (On a busy
            # machine a source still answering when the next request starts
            # may be connected anew once; without kept connections every
            # fetch would be a connection.)
            self.assertLessEqual(len(peers), 2, f"{server}: {peers}")
            self.assertGreaterEqual(max(peers.values()), 4, f"{server}: {peers}")
            self.assertEqual(sum(peers.values()), 1 + len(spans) + 1, f"{server}: {peers}")

    def test_requests_at_once_take_their_own_connections(self):
        spans = [(0, BS - 1), (3 * BS, 20 * BS + 9), (self.SIZE - 5, self.SIZE - 1),
                 (BS + 1, BS + 2), (0, self.SIZE - 1), (40 * BS, 44 * BS)]
        with concurrent.futures.ThreadPoolExecutor(len(spans)) as pool:
            for _ in range(3):
                bodies = list(pool.map(lambda span: self.get(*span), spans))
                for (first, last), body in zip(spans, bodies):
                    self.assertEqual(h.sha256_bytes(body),
                                     h.sha256_bytes(self.data[first:last + 1]), f"{first}-{last}")
        for server in self.servers:
            # At most the session's two kept connections were reused; the
            # others were made for requests that found none free.
            self.assertLessEqual(len(self.opens_by_peer(server)), 3 * len(spans))

    def test_a_restarted_source_is_connected_anew(self):
        self.check(0, 3 * BS)
        old = self.servers[0]
        old.stop()
        # The same address again: the kept connection is dead, a new one works.
        again = h.start_server(self.root, listen=f"127.0.0.1:{old.port}", log_dir=self.tmp)
        self.addCleanup(again.stop)
        self.check(BS, 9 * BS + 4)
        self.assertEqual(h.sha256_bytes(self.get()), self.digest)
        peers = self.opens_by_peer(again)
        self.assertEqual(len(peers), 1, again.stderr_text()[-2000:])
        self.assertEqual(sum(peers.values()), 2, peers)  # both fetches, one connection

    def test_a_source_that_dies_between_requests_is_connected_anew_or_left_out(self):
        self.check(0, 3 * BS)
        self.servers[0].kill()
        for first, last in [(BS, 7 * BS + 1), (0, self.SIZE - 1)]:
            self.check(first, last)
        self.assertEqual(h.sha256_bytes(self.get()), self.digest)
        self.assertTrue(self.proxy.alive())
        for server in self.servers[1:]:
            peers = self.opens_by_peer(server)
            # Every fetch opened on it (the session's Describe, then four),
            # on its first connection, or once anew when the next request
            # came while the last was still setting it aside (a busy
            # machine; as in the run above).
            self.assertLessEqual(len(peers), 2, server.stderr_text()[-2000:])
            self.assertEqual(sum(peers.values()), 5, server.stderr_text()[-2000:])

    def test_a_dead_source_is_left_out_of_the_next_requests_for_a_while(self):
        self.check(0, 3 * BS)
        dead = self.servers[0]
        dead.stop()
        # Its address now takes connections and closes them at once (a
        # server that broke): counted, to see which fetches tried it.
        listener = socket.create_server(("127.0.0.1", dead.port))
        self.addCleanup(listener.close)
        accepts = []

        def serve() -> None:
            while True:
                try:
                    conn, _ = listener.accept()
                except OSError:
                    return
                accepts.append(time.monotonic())
                conn.close()

        threading.Thread(target=serve, daemon=True).start()
        # The kept connection fails in the tail of the last fetch, or the
        # next one tries the address: either way, a fetch sees it fail.
        failed = f"source 127.0.0.1:{dead.port} failed"
        for _ in range(3):
            self.check(BS, 7 * BS + 1)
            if failed in self.proxy.stderr_text():
                break
        self.assertIn(failed, self.proxy.stderr_text())
        tried = len(accepts)
        failed_at = time.monotonic()
        for first, last in [(0, BS), (2 * BS, 40 * BS), (0, self.SIZE - 1)]:
            self.check(first, last)
        # All within the first shun (2 s; loopback fetches of ms each).
        self.assertLess(time.monotonic() - failed_at, 2.0)
        self.assertEqual(len(accepts), tried, self.proxy.stderr_text()[-3000:])
        log = self.proxy.stderr_text()
        left_out = re.findall(rf"leaving out source 127\.0\.0\.1:{dead.port}: it failed "
                              r"in an earlier fetch of this session; tried again in ([0-9.]+) s",
                              log)
        self.assertTrue(left_out, log[-3000:])
        # Once the shun is over it is tried again (and fails again).
        time.sleep(max(float(x) for x in left_out) + 0.3)
        self.check(0, 5 * BS)
        self.assertGreater(len(accepts), tried)
        self.assertTrue(self.proxy.alive())


def head_status(port: int, name: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=HTTP_TIMEOUT)
    try:
        conn.request("HEAD", "/" + name)
        return conn.getresponse().status
    except OSError:
        return 0
    finally:
        conn.close()


def make_clip(path: str) -> None:
    """A 4 s test picture with a tone: mpeg4 + aac in mp4 (encoders in
    Debian's ffmpeg)."""
    r = h.run_cmd(["ffmpeg", "-v", "error", "-y",
                   "-f", "lavfi", "-i", "testsrc=duration=4:size=320x240:rate=25",
                   "-f", "lavfi", "-i", "sine=duration=4",
                   "-c:v", "mpeg4", "-c:a", "aac", path], timeout=60)
    if r.returncode != 0:
        raise AssertionError(f"ffmpeg could not make the clip: {r.stderr!r}")


if __name__ == "__main__":
    unittest.main()
