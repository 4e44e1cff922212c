"""Integration tests: live streams (issue 7).

A producer writes a stream at a fixed bitrate into FIFOs (or files) that
several `braid serve --live` servers follow; `braid get` fetches it from all
of them while it is being produced and must deliver exactly what the producer
wrote, in order, ending when the producer ends.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness as h  # noqa: E402

MB = 1_000_000


class Producer(threading.Thread):
    """Writes `seconds` of a stream at `rate` bytes/s, the same bytes to every
    path (FIFOs or files), then an odd-sized tail, and closes them. Optional
    pause: (at_second, for_seconds) without writing."""

    def __init__(self, paths: list[str], rate: int, seconds: float, *,
                 pause: tuple[float, float] | None = None, seed: int = 1):
        super().__init__(daemon=True)
        self.paths, self.rate, self.seconds, self.pause = paths, rate, seconds, pause
        self.rng = random.Random(seed)
        self.data = bytearray()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            files = [open(p, "ab" if os.path.isfile(p) else "wb", buffering=0)
                     for p in self.paths]
            tick = 0.02
            chunk = int(self.rate * tick)
            start = time.monotonic()
            n = 0
            paused = False
            while time.monotonic() - start < self.seconds:
                t = time.monotonic() - start
                if self.pause and not paused and t >= self.pause[0]:
                    paused = True
                    time.sleep(self.pause[1])
                    start += self.pause[1]
                b = self.rng.randbytes(chunk)
                files = self.write_all(files, b)
                self.data += b
                n += 1
                time.sleep(max(0.0, start + n * tick - time.monotonic()))
            tail = self.rng.randbytes(12345)
            for f in self.write_all(files, tail):
                f.close()
            self.data += tail
        except BaseException as e:  # reported by the test
            self.error = e

    @staticmethod
    def write_all(files: list, b: bytes) -> list:
        # A server that died leaves its FIFO without a reader: feed the rest.
        alive = []
        for f in files:
            try:
                f.write(b)
                alive.append(f)
            except BrokenPipeError:
                f.close()
        return alive

    def finish(self, test: unittest.TestCase, timeout: float) -> bytes:
        self.join(timeout)
        test.assertFalse(self.is_alive(), "producer did not finish")
        test.assertIsNone(self.error, f"producer failed: {self.error}")
        return bytes(self.data)


class LiveCase(unittest.TestCase):
    """Helpers: a temp dir with an empty root, live servers, stats."""

    def setUp(self) -> None:
        self.tmp = h.make_temp_dir(self)
        self.root = os.path.join(self.tmp, "root")
        os.makedirs(self.root)

    def live_servers(self, n: int, *, fifo: bool = True, name: str = "cam",
                     rates: list[str] | None = None) -> tuple[list, list[str]]:
        servers, paths = [], []
        for i in range(n):
            path = os.path.join(self.tmp, f"feed{i}")
            if fifo:
                os.mkfifo(path)
            else:
                open(path, "wb").close()
            extra = ["--live", f"{name}={path}"]
            srv = h.start_server(self.root, log_dir=self.tmp, extra=extra,
                                 max_rate=rates[i] if rates else None)
            self.addCleanup(srv.stop)
            servers.append(srv)
            paths.append(path)
        return servers, paths

    def stats(self, path: str) -> dict:
        with open(path) as f:
            return json.load(f)

    def assert_none_failed(self, stats: dict) -> None:
        failed = [s for s in stats["sources"] if s["failed"]]
        self.assertEqual(failed, [], "a source was declared failed")


class LiveStreams(LiveCase):
    def test_fifo_stream_from_three_servers_while_produced(self) -> None:
        servers, paths = self.live_servers(3)
        prod = Producer(paths, 2 * MB, 4)
        prod.start()
        out, st = os.path.join(self.tmp, "out.bin"), os.path.join(self.tmp, "st.json")
        r = h.run_get("cam", [s.address for s in servers], out, stats=st, timeout=60)
        data = prod.finish(self, 30)
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        self.assertEqual(h.sha256_file(out), h.sha256_bytes(data))
        stats = self.stats(st)
        self.assertTrue(stats["live"])
        self.assertEqual(stats["bytes"], len(data))
        self.assert_none_failed(stats)
        # Every server carried part of it.
        for s in stats["sources"]:
            self.assertGreater(s["bytes"], 0, s)

    def test_growing_file_with_a_pause_longer_than_the_stall_timer(self) -> None:
        servers, paths = self.live_servers(3, fifo=False)
        prod = Producer(paths, 1 * MB, 4, pause=(1.5, 3.0), seed=2)
        prod.start()
        out, st = os.path.join(self.tmp, "out.bin"), os.path.join(self.tmp, "st.json")
        r = h.run_get("cam", [s.address for s in servers], out, stats=st, timeout=60)
        data = prod.finish(self, 30)
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        self.assertEqual(h.sha256_file(out), h.sha256_bytes(data))
        self.assert_none_failed(self.stats(st))

    def test_stdout_into_a_slow_reader_keeps_memory_bounded(self) -> None:
        servers, paths = self.live_servers(3)
        prod = Producer(paths, 4 * MB, 4, seed=3)
        prod.start()
        args = h.get_args("cam", [s.address for s in servers], "-",
                          extra=["--max-buffer", "2MiB", "--quiet"])
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                stdin=subprocess.DEVNULL, cwd=h.scratch_dir())
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        got = hashlib.sha256()
        total, peak_kib = 0, 0
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            chunk = proc.stdout.read(64 * 1024)
            if not chunk:
                break
            got.update(chunk)
            total += len(chunk)
            time.sleep(0.02)  # about 3 MB/s: slower than the producer
            peak_kib = max(peak_kib, h.vm_rss_bytes(proc.pid) // 1024)
        rc = proc.wait(timeout=30)
        data = prod.finish(self, 30)
        self.assertEqual(rc, 0, proc.stderr.read().decode())
        self.assertEqual(total, len(data))
        self.assertEqual(got.hexdigest(), h.sha256_bytes(data))
        # The reorder window is 2 MiB; the rest waits on the servers. (Under
        # ASan freed memory sits in its 256 MiB quarantine.)
        bound = (400 if h.SANITIZED else 64) * 1024
        self.assertLess(peak_kib, bound, f"client RSS peaked at {peak_kib} KiB")

    def test_join_at_the_live_edge(self) -> None:
        servers, paths = self.live_servers(3)
        prod = Producer(paths, 1 * MB, 5, seed=4)
        prod.start()
        # Join once 2 MB are out (about 2 s into the 5 s stream).
        self.assertTrue(h.wait_until(lambda: len(prod.data) >= 2 * MB or not prod.is_alive(), 30))
        self.assertTrue(prod.is_alive(), "the stream ended before the join")
        out, st = os.path.join(self.tmp, "out.bin"), os.path.join(self.tmp, "st.json")
        r = h.run_get("cam", [s.address for s in servers], out, stats=st,
                      timeout=60, extra=["--live-edge"])
        data = prod.finish(self, 30)
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        stats = self.stats(st)
        start = stats["live_start"]
        self.assertGreater(start, MB)  # joined well after the start
        self.assertEqual(start % 65536, 0)
        self.assertEqual(h.sha256_file(out), h.sha256_bytes(data[start:]))

    def test_a_server_killed_mid_stream(self) -> None:
        servers, paths = self.live_servers(3)
        prod = Producer(paths, 2 * MB, 5, seed=5)
        prod.start()
        out, st = os.path.join(self.tmp, "out.bin"), os.path.join(self.tmp, "st.json")
        trace = os.path.join(self.tmp, "trace.jsonl")
        addresses = [s.address for s in servers]
        get = h.start_get("cam", addresses, out, self.tmp, stats=st, extra=["--trace", trace])
        # Killed once every server has sent part of the 5 s stream.
        h.wait_trace(trace, lambda rows: h.all_sent(rows, addresses), 30,
                     "data from every server", get.proc)
        self.assertTrue(prod.is_alive(), "the stream ended before the kill")
        servers[1].kill()
        rc = get.wait(60)
        data = prod.finish(self, 30)
        self.assertEqual(rc, 0, get.stderr())
        self.assertEqual(h.sha256_file(out), h.sha256_bytes(data))
        failed = [s for s in self.stats(st)["sources"] if s["failed"]]
        self.assertEqual(len(failed), 1)

    def test_bad_live_declarations_are_refused(self) -> None:
        fifo = os.path.join(self.tmp, "f")
        os.mkfifo(fifo)
        cases = [
            (["--live", "cam=" + os.path.join(self.tmp, "missing")], "missing"),
            (["--live", "../cam=" + fifo], "live stream name"),
            (["--live", "cam"], "NAME=PATH"),
            (["--live", "cam=" + self.tmp], "neither a FIFO nor a file"),
            (["--live", "cam=" + fifo, "--live", "cam=" + fifo], "twice"),
        ]
        for extra, want in cases:
            r = h.run_braid(["serve", "--root", self.root, "--listen", "127.0.0.1:0",
                             "--discovery", "off"] + extra, timeout=10)
            self.assertEqual(r.returncode, 2, (extra, r.stderr))
            self.assertIn(want, r.stderr.decode(), extra)

    def test_live_and_file_sources_under_one_name_are_not_mixed(self) -> None:
        servers, paths = self.live_servers(1)
        h.write_random_file(os.path.join(self.root, "cam"), 100000)
        plain = h.start_server(self.root, log_dir=self.tmp)
        self.addCleanup(plain.stop)
        out = os.path.join(self.tmp, "out.bin")
        r = h.run_get("cam", [servers[0].address, plain.address], out, timeout=30)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("disagree on the size", r.stderr.decode())
        self.assertFalse(os.path.exists(out))
        # The live server serves on.
        prod = Producer(paths, 1 * MB, 1, seed=6)
        prod.start()
        r = h.run_get("cam", [servers[0].address], out, timeout=30)
        data = prod.finish(self, 30)
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        self.assertEqual(h.sha256_file(out), h.sha256_bytes(data))


class LiveThroughTheDirector(LiveCase):
    """Servers register their live streams (edge and state) with a director;
    a client finds one by name and follows it, and a server that starts
    carrying it later joins."""

    def ls(self, d: h.Server) -> dict:
        r = h.run_braid(["ls", "--director", d.address, "--json"], timeout=15)
        self.assertEqual(r.returncode, 0, r.stderr)
        rows = [row for row in json.loads(r.stdout) if row.get("name") == "cam"]
        return rows[0] if len(rows) == 1 else {}

    def test_found_by_name_and_joined_by_a_server_started_later(self) -> None:
        d = h.start_director(os.path.join(self.tmp, "d.db"), log_dir=self.tmp)
        self.addCleanup(d.stop)
        # One growing file read by every server: a server started later
        # numbers the stream from the same first byte.
        feed = os.path.join(self.tmp, "feed")
        open(feed, "wb").close()

        def serve() -> h.Server:
            srv = h.start_server(self.root, log_dir=self.tmp,
                                 extra=["--live", f"cam={feed}", "--director", d.address])
            self.addCleanup(srv.stop)
            return srv

        servers = [serve() for _ in range(3)]
        self.assertTrue(h.wait_until(lambda: self.ls(d).get("servers") == 3, 10),
                        self.ls(d))
        self.assertEqual(self.ls(d)["state"], "live")
        prod = Producer([feed], 1 * MB, 8, seed=5)
        prod.start()
        out, st = os.path.join(self.tmp, "out.bin"), os.path.join(self.tmp, "st.json")
        trace = os.path.join(self.tmp, "trace.jsonl")
        bg = h.BackgroundGet(h.get_args("cam", [], out, stats=st, extra=[
            "--director", d.address, "--trace", trace]), self.tmp)
        self.addCleanup(bg.kill)
        h.wait_trace(trace, lambda rows: h.all_sent(rows, [s.address for s in servers]), 30,
                     "data from the three servers", bg.proc)
        self.assertTrue(prod.is_alive(), "the stream ended before the fourth server")
        fourth = serve()
        h.wait_trace(trace, lambda rows: h.sent_by(rows, fourth.address), 30,
                     "data from the server started later", bg.proc)
        data = prod.finish(self, 30)
        self.assertEqual(bg.wait(60), 0, bg.stderr())
        self.assertEqual(h.sha256_file(out), h.sha256_bytes(data))
        stats = self.stats(st)
        self.assertTrue(stats["live"])
        self.assert_none_failed(stats)
        by = {s["address"]: s for s in stats["sources"]}
        self.assertTrue(by[fourth.address]["joined"], stats)
        # Once ended, every server says so (at once) and its whole size.
        self.assertTrue(h.wait_until(lambda: self.ls(d) == {
            "name": "cam", "size": len(data), "state": "ended", "servers": 4}, 10),
            self.ls(d))
        # A look-up gives each holder with size 0 (its edge changes every few
        # seconds: no new answer to subscribers for that).
        c = h.connect(d.port)
        self.addCleanup(c.close)
        c.hello()
        c.send_frame(h.LOOKUP, h.u8(0) + h.enc_str("cam"))
        r = h.Reader(c.expect(h.SOURCES).body)
        self.assertEqual(r.str(), "cam")
        rows = []
        for _ in range(r.u32()):
            rows.append((r.str(), r.str(), r.u64(), r.take(32)))
        self.assertEqual(sorted(row[0] for row in rows),
                         sorted(s.address for s in servers + [fourth]))
        self.assertEqual({row[2] for row in rows}, {0})


class LiveThroughTheProxy(unittest.TestCase):
    """`braid proxy` in front of live servers: a chunked 200, no ranges."""

    def test_curl_gets_the_live_stream_through_the_proxy(self) -> None:
        tmp = h.make_temp_dir(self)
        root = os.path.join(tmp, "root")
        os.makedirs(root)
        servers, paths = [], []
        for i in range(3):
            path = os.path.join(tmp, f"feed{i}")
            os.mkfifo(path)
            srv = h.start_server(root, log_dir=tmp, extra=["--live", f"cam.ts={path}"])
            self.addCleanup(srv.stop)
            servers.append(srv)
            paths.append(path)
        proxy = h.start_proxy([s.address for s in servers], log_dir=tmp)
        self.addCleanup(proxy.stop)
        url = f"http://{proxy.address}/cam.ts"
        head = h.run_cmd(["curl", "-sS", "-I", url], timeout=30)
        self.assertEqual(head.returncode, 0, head.stderr)
        headers = head.stdout.decode().lower()
        self.assertIn("200", headers.splitlines()[0])
        self.assertIn("accept-ranges: none", headers)
        self.assertIn("transfer-encoding: chunked", headers)
        self.assertNotIn("content-length", headers)
        self.assertIn("content-type: video/mp2t", headers)
        prod = Producer(paths, 1 * MB, 3, seed=9)
        out = os.path.join(tmp, "out.ts")
        curl = subprocess.Popen(["curl", "-sS", "-f", "--max-time", "60", "-o", out,
                                 url + "?from=start"], stderr=subprocess.PIPE)
        self.addCleanup(lambda: curl.poll() is None and curl.kill())
        prod.start()
        _, err = curl.communicate(timeout=70)
        data = prod.finish(self, 30)
        self.assertEqual(curl.returncode, 0, err)
        self.assertEqual(h.sha256_file(out), h.sha256_bytes(data))


class ProtocolLevel(unittest.TestCase):
    """The live conversation byte for byte, and a source that lies about the end."""

    def setUp(self) -> None:
        self.tmp = h.make_temp_dir(self)
        self.root = os.path.join(self.tmp, "root")
        os.makedirs(self.root)
        self.fifo = os.path.join(self.tmp, "feed")
        os.mkfifo(self.fifo)
        self.srv = h.start_server(self.root, log_dir=self.tmp,
                                  extra=["--live", f"cam={self.fifo}"])
        self.addCleanup(self.srv.stop)

    def test_manifest_get_on_a_live_stream_is_refused_and_the_server_lives(self) -> None:
        """It has no manifest: an ERROR, and the session stays usable (a
        client asks in the same flight as OPEN, before it knows)."""
        with h.RawConn(self.srv.port) as c:
            c.send_frame(h.HELLO, h.hello_body())
            c.send_frame(h.OPEN, h.open_body("cam", block_size=4096, pattern=[0]))
            c.send_frame(h.MANIFEST_GET, h.u64(0) + h.u32(4096))
            c.expect(h.HELLO)
            c.expect(h.OPENED)
            c.expect(h.EDGE)
            code, msg = h.parse_error(c.expect(h.ERROR).body)
            self.assertEqual(code, 9, msg)
            c.send_frame(h.PING, h.ping_body(7))
            self.assertEqual(h.parse_pong(c.expect(h.PONG).body)[0], 7)
        self.assertTrue(self.srv.alive(), self.srv.stderr_text())

    def test_opened_edge_data_only_for_produced_blocks_then_end(self) -> None:
        block = 4096
        with h.RawConn(self.srv.port) as c:
            c.send_frame(h.HELLO, h.hello_body())
            c.expect(h.HELLO)
            c.send_frame(h.OPEN, h.open_body("cam", block_size=block, pattern=[0]))
            r = h.Reader(c.expect(h.OPENED).body)
            self.assertEqual((r.u64(), r.u32(), r.u64(), r.take(32)),
                             (2**64 - 1, block, 0, bytes(32)))
            r = h.Reader(c.expect(h.EDGE).body)
            self.assertEqual((r.u64(), r.u8()), (0, 0))  # nothing produced yet
            c.send_frame(h.START)
            prod = Producer([self.fifo], 200_000, 0.3, seed=7)
            prod.start()
            blocks: dict[int, bytes] = {}
            edge, ended, saw_end = 0, False, False
            deadline = time.monotonic() + 20
            while not saw_end and time.monotonic() < deadline:
                f = c.recv_frame(10)
                self.assertIsNotNone(f, "server closed before END")
                if f.type == h.EDGE:
                    r = h.Reader(f.body)
                    avail, flag = r.u64(), r.u8()
                    self.assertGreaterEqual(avail, edge)
                    edge, ended = avail, flag == 1
                elif f.type == h.DATA:
                    r = h.Reader(f.body)
                    seq, _epoch = r.u64(), r.u32()
                    payload = r.rest()
                    # Only what exists, and the client heard of it first.
                    self.assertLessEqual(seq * block + len(payload), edge)
                    if len(payload) < block:
                        self.assertTrue(ended, "a short block before the end")
                    blocks[seq] = payload
                elif f.type == h.END:
                    saw_end = True
            data = prod.finish(self, 10)
            self.assertTrue(saw_end and ended)
            self.assertEqual(edge, len(data))
            self.assertEqual(b"".join(blocks[i] for i in sorted(blocks)), data)
            self.assertEqual(sorted(blocks), list(range(len(blocks))))

    def test_a_source_that_ends_the_stream_early_is_dropped(self) -> None:
        prod = Producer([self.fifo], 1 * MB, 2.5, seed=8)
        prod.start()
        self.assertTrue(h.wait_until(lambda: len(prod.data) > 200_000, 10))
        liar = LyingLiveSource()
        self.addCleanup(liar.close)
        out, st = os.path.join(self.tmp, "out.bin"), os.path.join(self.tmp, "st.json")
        r = h.run_get("cam", [self.srv.address, liar.address], out, stats=st, timeout=60)
        data = prod.finish(self, 30)
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        self.assertEqual(h.sha256_file(out), h.sha256_bytes(data))
        with open(st) as f:
            failed = [s for s in json.load(f)["sources"] if s["failed"]]
        self.assertEqual(len(failed), 1)
        self.assertEqual(failed[0]["address"], liar.address)
        self.assertIn("ended the live stream", failed[0]["error"])


class LyingLiveSource(h.FakeSource):
    """A fake server: answers HELLO, the test block and OPEN (live), then
    claims the stream already ended at byte 0."""

    @staticmethod
    def answer(ftype: int, body: bytes) -> bytes:
        if ftype == h.HELLO:
            return h.frame(h.HELLO, h.hello_body(role=2, agent="liar"))
        if ftype == h.PING:
            return h.frame(h.PONG, body)
        if ftype == h.OPEN:
            block = int.from_bytes(body[:4], "big")
            opened = h.u64(2**64 - 1) + h.u32(block) + h.u64(0) + bytes(32)
            return h.frame(h.OPENED, opened) + h.frame(h.EDGE, h.u64(0) + h.u8(1))
        if ftype == h.MANIFEST_GET:     # asked with OPEN; a live stream has none
            return h.frame(h.ERROR, h.error_body(9, "a live stream has no manifest"))
        return b""


if __name__ == "__main__":
    unittest.main()
