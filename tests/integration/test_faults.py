"""Integration tests: sources that die or freeze in the middle of a transfer.

A source killed with SIGKILL or stopped with SIGSTOP must be detected by the
client's stall timer, its blocks fetched from the others, and the output must
be byte-identical; when every source dies the transfer fails cleanly.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness as h  # noqa: E402

MB = 1_000_000


class PongFlooder(h.FakeSource):
    """Opens the stream at once (the right size, another content id), then
    answers START with PONG frames as fast as the socket takes them, for
    at most `seconds`."""

    def __init__(self, size: int, seconds: float):
        self.size, self.seconds = size, seconds
        super().__init__()

    def answer(self, ftype: int, body: bytes) -> bytes:
        if ftype == h.OPEN:
            return h.opened_answer(self.size, "flood")
        if ftype == h.MANIFEST_GET:
            return h.frame(h.ERROR, h.error_body(9, "no manifest here"))
        if ftype == h.START:
            burst = h.frame(h.PONG, h.ping_body(1)) * 10000
            end = time.monotonic() + self.seconds
            while time.monotonic() < end:
                self.conns[0].sendall(burst)  # raises once the client closes
        return b""


class FailingSources(unittest.TestCase):
    SIZE = 60 * MB

    @classmethod
    def setUpClass(cls) -> None:
        cls.digest = h.class_root(cls, "big.bin", cls.SIZE)

    def start_servers(self, rates: list[str]) -> list:
        servers = []
        for rate in rates:
            srv = h.start_server(self.root, max_rate=rate, log_dir=self.tmp)
            self.addCleanup(srv.stop)
            servers.append(srv)
        return servers

    def run_with_fault(self, servers, fault, *, stdout: bool = False):
        """Runs the get and calls fault() once every server has sent data
        (read from the trace), while the rate limits keep it running."""
        out = "-" if stdout else os.path.join(self.tmp, f"out-{self._testMethodName}.bin")
        stats = os.path.join(self.tmp, f"stats-{self._testMethodName}.json")
        trace = os.path.join(self.tmp, f"trace-{self._testMethodName}.jsonl")
        addresses = [s.address for s in servers]
        args = h.get_args("big.bin", addresses, out, stats=stats, quiet=True,
                          extra=["--trace", trace])
        sink = open(os.path.join(self.tmp, "stdout.bin"), "wb")
        self.addCleanup(sink.close)
        proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=sink,
                                stderr=subprocess.PIPE, cwd=h.scratch_dir())
        try:
            h.wait_trace(trace, lambda rows: h.all_sent(rows, addresses), 30,
                         "data from every server", proc)
            self.assertIsNone(proc.poll(), "transfer ended before the fault")
            fault()
            _, err = proc.communicate(timeout=90 * h.SLOW)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
        sink.close()
        return proc.returncode, err.decode(errors="replace"), out, stats

    def check_intact(self, rc, err, out, stats, stdout=False):
        self.assertEqual(rc, 0, err)
        path = os.path.join(self.tmp, "stdout.bin") if stdout else out
        self.assertEqual(h.sha256_file(path), self.digest)
        with open(stats) as f:
            st = json.load(f)
        self.assertEqual(sum(s["bytes"] for s in st["sources"]), self.SIZE)
        self.assertLessEqual(st["duplicate_bytes"], self.SIZE // 50)
        return st

    # 60 MB at 22.5 MB/s: about 2.7 s, the fault comes after the first
    # 0.5 s interval.
    def test_killed_source(self) -> None:
        servers = self.start_servers(["10MB", "7.5MB", "5MB"])
        rc, err, out, stats = self.run_with_fault(servers, servers[0].kill)
        st = self.check_intact(rc, err, out, stats)
        by_addr = {s["address"]: s for s in st["sources"]}
        dead = by_addr[f"127.0.0.1:{servers[0].port}"]
        self.assertTrue(dead["failed"], st)
        self.assertGreater(dead["bytes"], 0, "the killed source sent nothing before dying")
        for s in servers[1:]:
            self.assertFalse(by_addr[f"127.0.0.1:{s.port}"]["failed"], st)

    def test_frozen_source(self) -> None:
        # Slow enough that the transfer outlasts the stall timer (~1 s).
        servers = self.start_servers(["8MB", "6MB", "4MB"])
        frozen = servers[1]
        self.addCleanup(lambda: frozen.alive() and frozen.signal(signal.SIGCONT))
        started = time.monotonic()
        rc, err, out, stats = self.run_with_fault(
            servers, lambda: frozen.signal(signal.SIGSTOP))
        st = self.check_intact(rc, err, out, stats)
        by_addr = {s["address"]: s for s in st["sources"]}
        self.assertTrue(by_addr[f"127.0.0.1:{frozen.port}"]["failed"], st)
        self.assertIn("stall", by_addr[f"127.0.0.1:{frozen.port}"]["error"])
        # Far quicker than any kernel timeout: well under the 30 s deadline.
        self.assertLess(time.monotonic() - started, 20)

    def test_killed_source_while_streaming_to_stdout(self) -> None:
        servers = self.start_servers(["10MB", "7.5MB", "5MB"])
        rc, err, out, stats = self.run_with_fault(servers, servers[2].kill, stdout=True)
        self.check_intact(rc, err, out, stats, stdout=True)

    def get_with_frozen_start(self, sources: list[str], frozen: list, tag: str,
                              stdout: bool = False):
        """Runs the get while `frozen` are stopped for 1.5 s from its start
        (no majority until then); returns (returncode, stderr, out, stats,
        the client's peak resident memory in that time). stdout: the get
        writes to its standard output, kept in `out`."""
        for s in frozen:
            s.signal(signal.SIGSTOP)
            self.addCleanup(lambda s=s: s.alive() and s.signal(signal.SIGCONT))
        out = os.path.join(self.tmp, f"out-{tag}.bin")
        stats = os.path.join(self.tmp, f"stats-{tag}.json")
        args = h.get_args("big.bin", sources, "-" if stdout else out, stats=stats, quiet=True)
        sink = open(out, "wb") if stdout else subprocess.DEVNULL
        if stdout:
            self.addCleanup(sink.close)
        proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=sink,
                                stderr=subprocess.PIPE, cwd=h.scratch_dir())
        peak = 0
        try:
            end = time.monotonic() + 1.5
            while time.monotonic() < end:
                self.assertIsNone(proc.poll(), "transfer ended without a majority")
                peak = max(peak, h.vm_rss_bytes(proc.pid))
                time.sleep(0.05)
            for s in frozen:
                s.signal(signal.SIGCONT)
            _, err = proc.communicate(timeout=90 * h.SLOW)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
        return proc.returncode, err.decode(errors="replace"), out, stats, peak

    def test_sources_frozen_at_the_start(self) -> None:
        """Two of three sources answer only after 1.5 s: no majority until
        then, and to standard output (no tentative start) the one that
        answered reads its first blocks ahead, at most 4 MiB of them;
        nothing is lost. The late HELLO is no round trip of the path (its
        1.5 s as one made 4 MB of duplicates)."""
        servers = self.start_servers(["10MB", "10MB", "10MB"])
        rc, err, out, stats, _ = self.get_with_frozen_start(
            [s.address for s in servers], servers[1:], "frozen-start", stdout=True)
        st = self.check_intact(rc, err, out, stats)
        by_addr = {s["address"]: s for s in st["sources"]}
        first = by_addr[servers[0].address]
        self.assertGreaterEqual(first["read_ahead_bytes"], 4 * h.MIB - 64 * 1024, st)
        self.assertLessEqual(first["read_ahead_bytes"], 4 * h.MIB + 64 * 1024, st)
        self.assertGreaterEqual(first["bytes"], first["read_ahead_bytes"], st)

    def test_a_file_starts_on_the_first_answer(self) -> None:
        """The same to a file: it starts on the first answer (nothing read
        ahead), the two frozen sources are dropped by the stall timer but
        still vote once they answer, and the file is final only then."""
        servers = self.start_servers(["10MB", "10MB", "10MB"])
        rc, err, out, stats, _ = self.get_with_frozen_start(
            [s.address for s in servers], servers[1:], "tentative-start")
        st = self.check_intact(rc, err, out, stats)
        first = st["sources"][0]
        self.assertEqual(first["address"], servers[0].address)
        self.assertLessEqual(first["read_ahead_bytes"], 1 * h.MIB, st)

    def test_flood_of_frames_before_the_start(self) -> None:
        """While the two real sources are frozen (no majority yet), a third
        floods PONGs: what the client keeps of it is bounded, the flooder
        (another content) is left out, and the file comes intact."""
        servers = self.start_servers(["20MB", "20MB"])
        flood = PongFlooder(self.SIZE, seconds=20)
        self.addCleanup(flood.close)
        rc, err, out, stats, peak = self.get_with_frozen_start(
            [flood.address] + [s.address for s in servers], servers, "flood")
        self.assertEqual(rc, 0, err)
        self.assertEqual(h.sha256_file(out), self.digest)
        self.assertLess(peak, h.idle_rss_bytes() + 64 * MB, "memory grew with the flood")
        with open(stats) as f:
            st = json.load(f)
        by_addr = {s["address"]: s for s in st["sources"]}
        if flood.address in by_addr:
            self.assertEqual(by_addr[flood.address]["bytes"], 0, st)

    def test_every_source_dies(self) -> None:
        servers = self.start_servers(["10MB", "10MB"])

        def kill_all() -> None:
            for s in servers:
                s.kill()

        rc, err, out, stats = self.run_with_fault(servers, kill_all)
        self.assertNotEqual(rc, 0)
        lines = [l for l in err.splitlines() if l.strip()]
        self.assertTrue(lines and "error" in lines[-1], err)
        h.assert_only_resumable_leftovers(self, out, err)


if __name__ == "__main__":
    unittest.main()
