"""Integration tests: complete transfers with `braid get` from 1..3 servers."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness as h  # noqa: E402

SMALL_BS = 4096
DEFAULT_BS = h.DEFAULT_BLOCK_SIZE


def sizes_for(bs: int) -> list[int]:
    # Edge sizes around one block, plus a multi-block size that is not a
    # multiple of the block size nor of the pattern length.
    return [0, 1, bs - 1, bs, bs + 1, 7 * bs + 3]


class TransferMatrix(unittest.TestCase):
    """1, 2 and 3 servers x edge sizes x (file, stdout) x (4096, default bs)."""

    @classmethod
    def setUpClass(cls) -> None:
        h.braid_bin()
        cls.tmp = h.make_temp_dir()
        cls.addClassCleanup(shutil.rmtree, cls.tmp, True)
        cls.root = os.path.join(cls.tmp, "root")
        os.makedirs(cls.root)
        cls.files: dict[int, tuple[str, str]] = {}
        for size in sorted(set(sizes_for(SMALL_BS) + sizes_for(DEFAULT_BS))):
            name = f"f{size}.bin"
            cls.files[size] = (name, h.write_random_file(os.path.join(cls.root, name), size))
        cls.servers = []
        for i in range(3):
            srv = h.start_server(cls.root, name=f"srv{i}", log_dir=cls.tmp)
            cls.addClassCleanup(srv.stop)
            cls.servers.append(srv)

    def setUp(self) -> None:
        self.work = h.make_temp_dir(self)

    def _one(self, nsrc: int, bs: int | None, size: int, to_stdout: bool, quiet: bool) -> None:
        name, digest = self.files[size]
        srcs = [s.address for s in self.servers[:nsrc]]
        eff_bs = bs if bs is not None else DEFAULT_BS
        outdir = os.path.join(self.work, f"out-{nsrc}-{eff_bs}-{size}-{int(to_stdout)}")
        os.makedirs(outdir)
        stats = os.path.join(self.work, f"stats-{nsrc}-{eff_bs}-{size}-{int(to_stdout)}.json")
        out = "-" if to_stdout else os.path.join(outdir, "result.bin")
        r = h.run_get(name, srcs, out, stats=stats, block_size=bs, quiet=quiet, timeout=60)
        self.assertEqual(r.returncode, 0, f"braid get failed: {r.stderr.decode(errors='replace')}")
        if to_stdout:
            self.assertEqual(len(r.stdout), size, "stdout length differs from the file")
            self.assertEqual(h.sha256_bytes(r.stdout), digest, "stdout bytes differ")
            self.assertEqual(self._entries(outdir), [], "-o - must not create files")
        else:
            self.assertEqual(r.stdout, b"", "file output: nothing expected on stdout")
            self.assertEqual(self._entries(outdir), ["result.bin"],
                             "only the final file may remain (temp file renamed)")
            self.assertEqual(os.path.getsize(out), size)
            self.assertEqual(h.sha256_file(out), digest)
        h.check_stats(self, stats, name=name, size=size, block_size=eff_bs, sources=srcs)

    @staticmethod
    def _entries(d: str) -> list[str]:
        return sorted(os.listdir(d))

    def _matrix(self, nsrc: int) -> None:
        for bs in (SMALL_BS, None):
            for size in sizes_for(bs or DEFAULT_BS):
                for to_stdout in (False, True):
                    with self.subTest(sources=nsrc, block_size=bs or "default", size=size,
                                      stdout=to_stdout):
                        self._one(nsrc, bs, size, to_stdout, quiet=to_stdout)

    def test_one_source(self) -> None:
        self._matrix(1)

    def test_two_sources(self) -> None:
        self._matrix(2)

    def test_three_sources(self) -> None:
        self._matrix(3)

    def test_stdout_without_quiet_is_pure_data(self) -> None:
        # Progress/log output must never go to stdout when streaming with -o -.
        size = 7 * DEFAULT_BS + 3
        name, digest = self.files[size]
        srcs = [s.address for s in self.servers]
        r = h.run_get(name, srcs, "-", timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace"))
        self.assertEqual(len(r.stdout), size)
        self.assertEqual(h.sha256_bytes(r.stdout), digest)

    def test_same_source_pattern_matches_stats_with_repeated_gets(self) -> None:
        # The stats invariant must hold on every run, not only the first.
        size = 7 * SMALL_BS + 3
        name, digest = self.files[size]
        srcs = [s.address for s in self.servers]
        for i in range(5):
            with self.subTest(run=i):
                out = os.path.join(self.work, f"rep{i}.bin")
                stats = os.path.join(self.work, f"rep{i}.json")
                r = h.run_get(name, srcs, out, stats=stats, block_size=SMALL_BS, quiet=True,
                              timeout=60)
                self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace"))
                self.assertEqual(h.sha256_file(out), digest)
                h.check_stats(self, stats, name=name, size=size, block_size=SMALL_BS,
                              sources=srcs)


class BlockSizeBounds(h.BraidTestCase):
    """--block-size accepts exactly 512 .. 4 MiB."""

    def _transfer(self, bs: int) -> None:
        root = os.path.join(self.tmp, "root")
        size = 3 * bs + 1
        digest = h.write_random_file(os.path.join(root, "b.bin"), size)
        servers = [self.start_server(root) for _ in range(3)]
        srcs = [s.address for s in servers]
        out = os.path.join(self.tmp, "out.bin")
        stats = os.path.join(self.tmp, "stats.json")
        r = h.run_get("b.bin", srcs, out, stats=stats, block_size=bs, quiet=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace"))
        self.assertEqual(h.sha256_file(out), digest)
        h.check_stats(self, stats, name="b.bin", size=size, block_size=bs, sources=srcs)

    def test_min_block_size_512(self) -> None:
        self._transfer(h.MIN_BLOCK_SIZE)

    def test_max_block_size_4mib(self) -> None:
        self._transfer(h.MAX_BLOCK_SIZE)


class SubdirectoryName(h.BraidTestCase):
    def test_get_file_in_subdirectory(self) -> None:
        root = os.path.join(self.tmp, "root")
        size = 5 * SMALL_BS + 17
        digest = h.write_random_file(os.path.join(root, "a", "b", "c.bin"), size)
        servers = [self.start_server(root) for _ in range(2)]
        srcs = [s.address for s in servers]
        out = os.path.join(self.tmp, "out.bin")
        stats = os.path.join(self.tmp, "stats.json")
        r = h.run_get("a/b/c.bin", srcs, out, stats=stats, block_size=SMALL_BS, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace"))
        self.assertEqual(h.sha256_file(out), digest)
        h.check_stats(self, stats, name="a/b/c.bin", size=size, block_size=SMALL_BS,
                      sources=srcs)


class LargeRateLimited(h.BraidTestCase):
    """100 MiB from 3 servers with different --max-rate caps."""

    SIZE = 100 * h.MIB
    RATES = ["400MB", "200MB", "100MB"]

    def setUp(self) -> None:
        super().setUp()
        self.root = os.path.join(self.tmp, "root")
        self.digest = h.write_random_file(os.path.join(self.root, "big.bin"), self.SIZE)
        self.servers = [self.start_server(self.root, max_rate=r) for r in self.RATES]
        self.srcs = [s.address for s in self.servers]

    def test_100mib_to_file(self) -> None:
        out = os.path.join(self.tmp, "out", "big.out")
        os.makedirs(os.path.dirname(out))
        stats = os.path.join(self.tmp, "stats.json")
        t0 = time.monotonic()
        r = h.run_get("big.bin", self.srcs, out, stats=stats, quiet=True, timeout=120)
        wall = time.monotonic() - t0
        self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace"))
        self.assertEqual(os.listdir(os.path.dirname(out)), ["big.out"])
        self.assertEqual(os.path.getsize(out), self.SIZE)
        self.assertEqual(h.sha256_file(out), self.digest)
        st = h.check_stats(self, stats, name="big.bin", size=self.SIZE, block_size=DEFAULT_BS,
                           sources=self.srcs)
        self.assertLessEqual(st["seconds"], wall + 1.0, "stats seconds exceed the wall time")
        # A file holds only the blocks being verified and written (8 MiB at
        # most, BlockPipeline::kMaxInFlightBytes), whatever its size.
        self.assertGreater(st["peak_buffered_bytes"], 0)
        self.assertLessEqual(st["peak_buffered_bytes"], 8 * h.MIB)
        for s in self.servers:
            self.assertTrue(s.alive(), f"{s} died:\n{s.stderr_text()}")

    def test_100mib_to_stdout(self) -> None:
        stats = os.path.join(self.tmp, "stats.json")
        r = h.run_get("big.bin", self.srcs, "-", stats=stats, timeout=120,
                      extra=["--max-buffer", "4MiB"])
        self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace"))
        self.assertEqual(len(r.stdout), self.SIZE)
        self.assertEqual(h.sha256_bytes(r.stdout), self.digest)
        st = h.check_stats(self, stats, name="big.bin", size=self.SIZE, block_size=DEFAULT_BS,
                           sources=self.srcs)
        # Memory: the reorder window the user set plus the blocks being
        # verified (8 MiB at most).
        self.assertGreater(st["peak_buffered_bytes"], 0)
        self.assertLessEqual(st["peak_buffered_bytes"], 4 * h.MIB + 8 * h.MIB)


class VersionOneSource(h.FakeSource):
    """A server of an earlier build (protocol version 1 only): records the
    frames it gets, answers OPEN with HELLO(1..1) and OPENED of `data`,
    then sends nothing (the client moves its blocks elsewhere)."""

    def __init__(self, data: bytes):
        count = -(-len(data) // DEFAULT_BS)
        self.opened = (h.u64(len(data)) + h.u32(DEFAULT_BS) + h.u64(count) +
                       bytes.fromhex(h.content_id(data)))
        self.got: list[tuple[int, bytes]] = []
        super().__init__()

    def answer(self, ftype: int, body: bytes) -> bytes:
        self.got.append((ftype, body))
        if ftype == h.OPEN:
            return (h.frame(h.HELLO, h.hello_body(role=h.ROLE_SERVER, agent="v1")) +
                    h.frame(h.OPENED, self.opened))
        if ftype == h.MANIFEST_GET:
            return h.frame(h.ERROR, h.error_body(h.kNotFound, "no manifest"))
        return b""


class WindowHoldsTheServers(h.BraidTestCase):
    """WINDOW (protocol version 2): a server's pattern walk stays below the
    end the client sets; a stream whose reader stops holds the servers at
    its reorder window instead of filling the socket buffers."""

    BLOCKS = 32

    def test_the_walk_waits_at_the_window_but_requests_do_not(self) -> None:
        root = os.path.join(self.tmp, "root")
        h.write_random_file(os.path.join(root, "w.bin"), self.BLOCKS * SMALL_BS)
        with open(os.path.join(root, "w.bin"), "rb") as f:
            data = f.read()
        srv = self.start_server(root)
        with h.connect(srv) as c:
            got = c.hello(min_version=1, max_version=2)
            self.assertEqual((got["min_version"], got["max_version"]), (2, 2))
            c.send_frame(h.OPEN, h.open_body("w.bin", block_size=SMALL_BS, pattern=[0]))
            c.expect(h.OPENED)
            c.send_frame(h.WINDOW, h.u64(8))
            c.send_frame(h.START)

            def block() -> int:
                seq, _, payload = h.parse_data(c.expect(h.DATA).body)
                self.assertEqual(payload, data[seq * SMALL_BS:(seq + 1) * SMALL_BS])
                return seq

            self.assertEqual([block() for _ in range(8)], list(range(8)))
            with self.assertRaises(TimeoutError, msg="held: neither DATA nor END"):
                c.recv_frame(timeout=0.5)
            c.send_frame(h.REQUEST, h.request_body(20, 1))
            self.assertEqual(block(), 20)
            c.send_frame(h.WINDOW, h.u64(1000))
            rest = [block() for _ in range(self.BLOCKS - 9)]
            self.assertEqual(rest, [q for q in range(8, self.BLOCKS) if q != 20])
            self.assertEqual(h.parse_end(c.expect(h.END).body)[0], self.BLOCKS)

    def test_a_version_1_server_is_offered_1_and_sent_no_window(self) -> None:
        root = os.path.join(self.tmp, "root")
        digest = h.write_random_file(os.path.join(root, "v.bin"), 4 * h.MIB)
        with open(os.path.join(root, "v.bin"), "rb") as f:
            old = VersionOneSource(f.read())
        self.addCleanup(old.close)
        srv = self.start_server(root)
        r = h.run_get("v.bin", [srv.address, old.address], "-", timeout=60,
                      extra=["--max-buffer", "1MiB"])
        self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace"))
        self.assertEqual(h.sha256_bytes(r.stdout), digest)
        self.assertTrue(old.got, "the old server was never contacted")
        hello = h.parse_hello(old.got[0][1])
        self.assertEqual((old.got[0][0], hello["min_version"], hello["max_version"]),
                         (h.HELLO, 1, h.NEWEST_PROTOCOL_VERSION))
        self.assertNotIn(h.WINDOW, [t for t, _ in old.got])

    def test_a_reader_that_stops_holds_the_servers_at_its_window(self) -> None:
        size = 64 * h.MIB
        root = os.path.join(self.tmp, "root")
        digest = h.write_random_file(os.path.join(root, "big.bin"), size)
        servers = [self.start_server(root, extra=["--metrics", "127.0.0.1:0"])
                   for _ in range(3)]
        urls = [h.metrics_url(s) for s in servers]
        args = h.get_args("big.bin", [s.address for s in servers], "-", quiet=True,
                          extra=["--max-buffer", "1MiB"])
        with open(os.path.join(self.tmp, "get.stderr"), "wb") as err:
            p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=err,
                                 cwd=h.scratch_dir())
        self.addCleanup(p.stdout.close)
        self.addCleanup(p.kill)
        sha = hashlib.sha256()
        # Read at full speed for a while (TCP grows its buffers), then stop:
        # the servers must come to rest.
        head = p.stdout.read(32 * h.MIB)
        sha.update(head)
        last = [-1.0]

        def at_rest() -> bool:
            now = sum(blocks_sent(u) for u in urls)
            rest, last[0] = now == last[0], now
            return rest

        self.assertTrue(h.wait_until(at_rest, 20, interval=0.5), "the servers never rested")
        sent = last[0] * DEFAULT_BS
        # What was read, the pipe (64 KiB), the reorder window (1 MiB) and a
        # WINDOW's step (an eighth of it). Without WINDOW the servers ran
        # ahead by what the socket buffers held: 4.1-4.4 MiB beyond what was
        # read, against 0.5-1.1 MiB with it.
        bound = len(head) + 2 * h.MIB
        self.assertLessEqual(sent, bound,
                             f"servers sent {sent - len(head):.0f} bytes beyond what was read")
        while chunk := p.stdout.read(h.MIB):
            sha.update(chunk)
        self.assertEqual(p.wait(timeout=60), 0)
        self.assertEqual(sha.hexdigest(), digest)


def blocks_sent(url: str) -> float:
    with urllib.request.urlopen(url, timeout=10) as r:
        for line in r.read().decode().splitlines():
            if line.startswith("braid_server_blocks_sent_total "):
                return float(line.split()[1])
    raise AssertionError(f"{url} has no braid_server_blocks_sent_total")


class MaxRateIsEnforced(h.BraidTestCase):
    """--max-rate units: `2MB` = 2,000,000 B/s, `16mbit` = 2,000,000 B/s, `800k` = 800,000 B/s."""

    def _timed(self, rate: str, size: int, nominal: float) -> None:
        root = os.path.join(self.tmp, "root")
        digest = h.write_random_file(os.path.join(root, "r.bin"), size)
        srv = self.start_server(root, max_rate=rate)
        out = os.path.join(self.tmp, "out.bin")
        t0 = time.monotonic()
        r = h.run_get("r.bin", [srv.address], out, quiet=True, timeout=60)
        wall = time.monotonic() - t0
        self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace"))
        self.assertEqual(h.sha256_file(out), digest)
        # Allow a burst of up to half the nominal time, and generous slack above.
        self.assertGreaterEqual(wall, 0.5 * nominal,
                                f"--max-rate {rate}: {size} bytes took only {wall:.2f}s "
                                f"(nominal {nominal:.2f}s): cap not applied or unit misread")
        self.assertLessEqual(wall, 2.0 * nominal + 2.0,
                             f"--max-rate {rate}: {size} bytes took {wall:.2f}s "
                             f"(nominal {nominal:.2f}s): unit misread (bits vs bytes?)")

    def test_megabytes(self) -> None:
        self._timed("2MB", 6_000_000, 3.0)

    def test_megabits(self) -> None:
        self._timed("16mbit", 6_000_000, 3.0)

    def test_kilo_bytes(self) -> None:
        self._timed("800k", 1_600_000, 2.0)


class ServeProcess(h.BraidTestCase):
    """The `listening` line, clean shutdown on signals, --config."""

    def _small_root(self) -> tuple[str, str]:
        root = os.path.join(self.tmp, "root")
        digest = h.write_random_file(os.path.join(root, "x.bin"), 3 * SMALL_BS + 5)
        return root, digest

    def _check_signal_stop(self, sig: int) -> None:
        root, _ = self._small_root()
        srv = self.start_server(root)
        h.server_healthy(srv)
        srv.signal(sig)
        code = srv.wait(h.SERVER_STOP_TIMEOUT)
        self.assertIsNotNone(code, f"server did not stop within {h.SERVER_STOP_TIMEOUT}s "
                                   f"after signal {sig}")
        self.assertEqual(code, 0, f"server exit code after signal {sig}; stderr:\n"
                                  f"{srv.stderr_text()}")
        srv.stop()
        self.assertEqual(bytes(srv.extra_stdout), b"",
                         "serve must print exactly one line on stdout")

    def test_sigterm_stops_cleanly(self) -> None:
        self._check_signal_stop(signal.SIGTERM)

    def test_sigint_stops_cleanly(self) -> None:
        self._check_signal_stop(signal.SIGINT)

    def test_sigterm_with_open_connections(self) -> None:
        root, _ = self._small_root()
        srv = self.start_server(root)
        conns = [h.connect(srv) for _ in range(3)]
        self.addCleanup(lambda: [c.close() for c in conns])
        conns[0].hello()
        srv.signal(signal.SIGTERM)
        code = srv.wait(h.SERVER_STOP_TIMEOUT)
        self.assertIsNotNone(code, "server with idle connections ignored SIGTERM")
        self.assertEqual(code, 0)

    def _get_ok(self, srv: h.Server, digest: str) -> None:
        out = os.path.join(self.tmp, f"out-{srv.port}.bin")
        r = h.run_get("x.bin", [srv.address], out, block_size=SMALL_BS, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace"))
        self.assertEqual(h.sha256_file(out), digest)

    def test_config_file(self) -> None:
        root, digest = self._small_root()
        cfg = os.path.join(self.tmp, "serve.toml")
        with open(cfg, "w") as f:
            f.write(f'root = "{root}"\nlisten = "127.0.0.1:0"\nname = "from-config"\n'
                    f'max_rate = "800k"\n')
        srv = self.start_server(None, config=cfg, listen=None)
        self._get_ok(srv, digest)

    def test_flags_override_config(self) -> None:
        root, digest = self._small_root()
        empty = os.path.join(self.tmp, "empty")
        os.makedirs(empty)
        unused_port = h.closed_port()
        cfg = os.path.join(self.tmp, "serve.toml")
        with open(cfg, "w") as f:
            f.write(f'root = "{empty}"\nlisten = "127.0.0.1:{unused_port}"\nname = "cfg"\n')
        srv = self.start_server(root, config=cfg, listen="127.0.0.1:0")
        self.assertNotEqual(srv.port, unused_port, "--listen must override the config's listen")
        self._get_ok(srv, digest)  # --root must override the config's root


class FailedGetLeavesNoFile(h.BraidTestCase):
    def test_source_dies_mid_transfer(self) -> None:
        root = os.path.join(self.tmp, "root")
        h.write_random_file(os.path.join(root, "slow.bin"), 16 * h.MIB)
        srv = self.start_server(root, max_rate="4MB")  # ~4 s nominal
        outdir = os.path.join(self.tmp, "out")
        os.makedirs(outdir)
        out = os.path.join(outdir, "slow.out")
        trace = os.path.join(self.tmp, "trace.jsonl")
        bg = h.start_get("slow.bin", [srv.address], out, self.tmp, quiet=True,
                         extra=["--trace", trace])
        self.addCleanup(bg.kill)
        # Once data has come (the first 0.5 s interval), kill the source.
        h.wait_trace(trace, lambda rows: h.sent_by(rows, srv.address), 30,
                     "data from the source", bg.proc)
        self.assertIsNone(bg.proc.poll(), "get finished before the source was killed; "
                                          "rate limit not applied?")
        srv.kill()
        code = bg.wait(60)
        self.assertNotEqual(code, 0, "get must fail when its only source dies")
        h.assert_only_resumable_leftovers(self, out, bg.stderr())
        leftovers = set(os.listdir(outdir)) - {os.path.basename(out) + ".braid-part",
                                               os.path.basename(out) + ".braid-state"}
        self.assertEqual(leftovers, set(), "a failed get leaves nothing else behind")
        self.assertTrue(h.nonempty_lines(bg.stderr()), "a failed get must say why on stderr")

    def test_unknown_name_leaves_no_file(self) -> None:
        root = os.path.join(self.tmp, "root")
        os.makedirs(root)
        srv = self.start_server(root)
        outdir = os.path.join(self.tmp, "out")
        os.makedirs(outdir)
        out = os.path.join(outdir, "nope.out")
        r = h.run_get("nope.bin", [srv.address], out, timeout=30)
        self.assertNotEqual(r.returncode, 0)
        self.assertFalse(os.path.exists(out))
        self.assertEqual(os.listdir(outdir), [])


class SlowToOpenSource(h.FakeSource):
    """A fake server that answers HELLO, OPEN and the MANIFEST_GET sent with
    them only after `delay` seconds, for a file of the right size but with
    another content id."""

    def __init__(self, size: int, delay: float):
        self.size, self.delay = size, delay
        super().__init__()

    def answer(self, ftype: int, body: bytes) -> bytes:
        if ftype == h.OPEN:                   # HELLO came just before it
            time.sleep(self.delay)            # pacing the fake, not a wait
            return h.opened_answer(self.size, "late")
        if ftype == h.MANIFEST_GET:
            # Sent with OPEN: an ERROR answers it (the client leaves this
            # source out before it needs a manifest).
            return h.frame(h.ERROR, h.error_body(9, "no manifest here"))
        return b""


class NoWaitForTheSlowest(h.BraidTestCase):
    """Two servers agree on the content: the transfer starts without the
    third, which answers 0.75 s later with other content and is left out."""

    SIZE = 24 * h.MIB

    def test_late_source_with_other_content_is_dropped(self) -> None:
        root = os.path.join(self.tmp, "root")
        digest = h.write_random_file(os.path.join(root, "big.bin"), self.SIZE)
        # Rate-limited so the transfer is still running when the fake answers.
        servers = [self.start_server(root, max_rate="6MB") for _ in range(2)]
        # After the first interval (0.5 s: data is seen flowing) and before
        # the stall timer's 1 s floor, which would otherwise race the answer
        # on a loaded machine and leave it out for another reason.
        late = SlowToOpenSource(self.SIZE, delay=0.75)
        self.addCleanup(late.close)
        out = os.path.join(self.tmp, "big.out")
        stats = os.path.join(self.tmp, "stats.json")
        trace = os.path.join(self.tmp, "trace.jsonl")
        r = h.run_get("big.bin", [servers[0].address, late.address, servers[1].address], out,
                      stats=stats, quiet=True, extra=["--trace", trace])
        self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace"))
        self.assertEqual(h.sha256_file(out), digest)
        rows = h.read_jsonl(trace)
        failed = [x for x in rows if x.get("kind") == "failed"]
        self.assertEqual([x["address"] for x in failed], [late.address], failed)
        self.assertIn("holds different content", failed[0]["reason"])
        # The real servers' data came before the late answer: nobody waited.
        first_data = min(x["t"] for x in rows if x.get("kind") == "interval" and
                         any(s["rate"] > 0 for s in x["sources"]))
        self.assertLess(first_data, failed[0]["t"])


class BlackholedSource(h.BraidTestCase):
    """A source whose SYNs go unanswered (its listen queue is full): two
    others agree, the transfer runs without it, and the client exits when
    the file is done instead of waiting out the connect timeout."""

    def test_exit_does_not_wait_for_a_connect_in_progress(self) -> None:
        root = os.path.join(self.tmp, "root")
        digest = h.write_random_file(os.path.join(root, "f.bin"), 2 * h.MIB)
        servers = [self.start_server(root) for _ in range(2)]
        hole = socket.socket()
        self.addCleanup(hole.close)
        hole.bind(("127.0.0.1", 0))
        hole.listen(0)
        fillers = []
        for _ in range(4):  # fill the accept queue: further SYNs are dropped
            f = socket.socket()
            f.setblocking(False)
            f.connect_ex(hole.getsockname())
            fillers.append(f)
            self.addCleanup(f.close)
        time.sleep(0.2)
        probe = socket.socket()
        self.addCleanup(probe.close)
        probe.settimeout(1.0)
        with self.assertRaises(OSError, msg="the listen queue is not full"):
            probe.connect(hole.getsockname())
        address = "127.0.0.1:%d" % hole.getsockname()[1]
        out = os.path.join(self.tmp, "f.out")
        stats = os.path.join(self.tmp, "stats.json")
        began = time.monotonic()
        r = h.run_get("f.bin", [servers[0].address, address, servers[1].address], out,
                      stats=stats, quiet=True, extra=["--connect-timeout", "30"])
        took = time.monotonic() - began
        self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace"))
        self.assertEqual(h.sha256_file(out), digest)
        # Not a speed check: a 2 MiB file over loopback takes a second or
        # two (the blackholed source's share moves once it is stalled).
        self.assertLess(took, 20.0, "the client waited for the blackholed connect")
        with open(stats) as f:
            report = json.load(f)
        hole_row = [x for x in report["sources"] if x["address"] == address]
        self.assertTrue(hole_row and hole_row[0]["failed"], report["sources"])


class FlightRecorder(threading.Thread):
    """A TCP forwarder in front of a server: on the first connection it
    holds what the client sends, without forwarding or answering, until the
    client has been quiet for `hold` seconds, and keeps the frame types of
    that first flight; then it forwards both ways (later connections are
    forwarded at once)."""

    def __init__(self, upstream: str, hold: float = 0.5):
        super().__init__(daemon=True)
        self.upstream, self.hold = upstream, hold
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.address = "127.0.0.1:%d" % self.listener.getsockname()[1]
        self.first_flight: list[int] = []
        self.socks: list = []
        self.start()

    def run(self) -> None:
        first = True
        while True:  # later connections are forwarded at once
            try:
                client, _ = self.listener.accept()
                host, port = self.upstream.rsplit(":", 1)
                server = socket.create_connection((host, int(port)))
            except OSError:
                return
            self.socks += [client, server]
            threading.Thread(target=self._forward, args=(client, server, first),
                             daemon=True).start()
            first = False

    def _forward(self, client, server, record: bool) -> None:
        held = b""
        client.settimeout(self.hold if record else 0.001)
        try:
            while True:
                b = client.recv(65536)
                if not b:
                    break
                held += b
        except (socket.timeout, OSError):
            pass
        rest = held if record else b""
        while len(rest) >= 5 and len(rest) >= 4 + int.from_bytes(rest[:4], "big"):
            self.first_flight.append(rest[4])
            rest = rest[4 + int.from_bytes(rest[:4], "big"):]
        client.settimeout(None)
        try:
            server.sendall(held)
        except OSError:
            return
        pipes = [threading.Thread(target=self._pipe, args=(a, b), daemon=True)
                 for a, b in ((client, server), (server, client))]
        for t in pipes:
            t.start()
        for t in pipes:
            t.join(60)

    @staticmethod
    def _pipe(src, dst) -> None:
        try:
            while True:
                b = src.recv(65536)
                if not b:
                    break
                dst.sendall(b)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self) -> None:
        self.listener.close()
        for s in self.socks:
            s.close()


class StartInTheFirstFlight(h.BraidTestCase):
    """HELLO, OPEN, MANIFEST_GET and START go in one flight when nothing
    needs skipping first: the source sends its blocks after one round trip
    of its own."""

    def fetch_through_recorder(self, size: int, extra: list[str], sparse=False):
        root = os.path.join(self.tmp, "root")
        path = os.path.join(root, "f.bin")
        if sparse:  # large: random bytes at a few places, holes between
            os.makedirs(root, exist_ok=True)
            with open(path, "wb") as f:
                f.truncate(size)
                for at in range(0, size, 32 * h.MIB):
                    f.seek(at)
                    f.write(os.urandom(4096))
            digest = h.sha256_file(path)
        else:
            digest = h.write_random_file(path, size)
        srv = self.start_server(root)
        rec = self.rec = FlightRecorder(srv.address)
        self.addCleanup(rec.close)
        out = os.path.join(self.tmp, "f.out")
        r = h.run_get("f.bin", [rec.address], out, quiet=True, extra=extra)
        self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace"))
        got = h.sha256_file(out) if "--range" not in extra else None
        return rec.first_flight, digest, got

    def test_start_goes_with_open(self) -> None:
        flight, digest, got = self.fetch_through_recorder(4 * h.MIB, [])
        self.assertEqual(flight, [h.HELLO, h.OPEN, h.MANIFEST_GET, h.START])
        self.assertEqual(got, digest)

    def test_not_with_a_range_to_skip_first(self) -> None:
        flight, _, _ = self.fetch_through_recorder(4 * h.MIB, ["--range", "0-999"])
        self.assertEqual(flight, [h.HELLO, h.OPEN, h.MANIFEST_GET])

    def test_a_long_manifest_comes_in_the_first_flight(self) -> None:
        # 4160 pieces of 64 KiB: all in the early part (up to 65536), so no
        # second connection for the rest, which would start slowly beside
        # the first.
        flight, digest, got = self.fetch_through_recorder(260 * h.MIB, [], sparse=True)
        self.assertEqual(flight, [h.HELLO, h.OPEN, h.MANIFEST_GET, h.START])
        self.assertEqual(got, digest)
        self.assertEqual(len(self.rec.socks), 2, "one connection, client and server ends")


if __name__ == "__main__":
    unittest.main(verbosity=2)
