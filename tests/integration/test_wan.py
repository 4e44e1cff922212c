"""Integration tests on wide-area links: delay and loss in network namespaces.

A star of namespaces (bench/netns.py, with its own prefix so a benchmark can
never collide with it): the client in one, each ``braid serve`` in its own,
each link rate-limited (HTB) and delayed and made lossy by wanem (a TUN
element, bench/wanem.cc). Needs root (CI runs as root) and the wanem binary
next to braid (build/bench/wanem). Outputs are checked byte for byte; the
faults fire on events read from the trace, never after a fixed sleep.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "bench"))

import harness as h  # noqa: E402
import netns  # noqa: E402

MIB = 1024 * 1024
# Not the benchmark's brb-*: a bench run and this test never share a name.
netns.PREFIX = "brt-"
netns.CLIENT_NS = "brt-c"


class WideAreaLinks(unittest.TestCase):
    """Three servers at round trips of 20, 120 and 250 ms, 0.5 % loss on the longest."""

    SIZE = 12 * MIB
    RATES = [16, 8, 8]              # Mbit/s: the transfer lasts a few seconds
    WAN = [netns.Wan(20), netns.Wan(120), netns.Wan(250, 0, 0.5)]

    @classmethod
    def setUpClass(cls) -> None:
        if os.geteuid() != 0:
            raise RuntimeError("test_wan needs root (network namespaces); CI runs as root")
        netns.BRAID_BIN = h.braid_bin()
        netns.WANEM_BIN = os.path.join(os.path.dirname(netns.BRAID_BIN), "bench", "wanem")
        cls.tmp = h.make_temp_dir(prefix="braid-wan-")
        os.chmod(cls.tmp, 0o755)
        cls.root = os.path.join(cls.tmp, "root")
        os.makedirs(cls.root)
        cls.digest = h.write_random_file(os.path.join(cls.root, "big.bin"), cls.SIZE)
        netns.cleanup_all(verbose=False)   # leftovers of a killed run (brt-* only)
        cls.star = netns.Star(cls.RATES, wan=cls.WAN)
        cls.star.__enter__()
        cls.addClassCleanup(cls.star.close)

    def setUp(self) -> None:
        for i in range(1, self.star.n + 1):
            self.star.thaw_server(i)
            p = self.star.servers.get(i, {}).get("braid")
            if p is None or p.poll() is not None:
                self.star.start_servers(i, self.root, nginx=False)
        self.addrs = [self.star.servers[i]["braid_addr"] for i in range(1, self.star.n + 1)]

    def get(self, name: str):
        out = os.path.join(self.tmp, f"out-{name}.bin")
        stats = os.path.join(self.tmp, f"stats-{name}.json")
        trace = os.path.join(self.tmp, f"trace-{name}.jsonl")
        for p in (out, stats, trace):
            if os.path.exists(p):
                os.unlink(p)
        # Its log (warnings and the per-source lines) goes to a file: the
        # failure message of a CI run is the only view of it.
        self.log = os.path.join(self.tmp, f"log-{name}.txt")
        args = [netns.BRAID_BIN, "get", "big.bin", "-o", out, "--stats-json", stats,
                "--trace", trace]
        for a in self.addrs:
            args += ["--source", a]
        with open(self.log, "wb") as log:
            proc = netns.run_in(netns.CLIENT_NS, args, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=log)
        return proc, out, stats, trace

    def client_log(self) -> str:
        with open(self.log, "rb") as f:
            return "client log (its end):\n" + f.read()[-6000:].decode(errors="replace")

    def wait_trace(self, proc, trace: str, pred, what: str) -> None:
        try:
            h.wait_trace(trace, pred, 60, what, proc)
        except AssertionError as e:
            netns.kill(proc)
            raise AssertionError(f"{e}\n{self.client_log()}") from None

    def finish(self, proc, out: str, stats: str) -> dict:
        try:
            proc.wait(timeout=120 * h.SLOW)
        except subprocess.TimeoutExpired:
            netns.kill(proc)
            self.fail("transfer did not finish\n" + self.client_log())
        self.assertEqual(proc.returncode, 0, self.client_log())
        self.assertEqual(h.sha256_file(out), self.digest)
        with open(stats) as f:
            return json.load(f)

    def test_delayed_lossy_links_intact(self) -> None:
        proc, out, stats, _ = self.get("intact")
        report = self.finish(proc, out, stats)
        self.assertEqual(report["bytes"], self.SIZE)
        by_address = {}
        for s in report["sources"]:
            by_address[s["address"]] = by_address.get(s["address"], 0) + s["bytes"]
        self.assertEqual(sum(by_address.values()), self.SIZE)
        self.assertGreater(by_address[self.addrs[0]], 0)

    def fault_far_server(self, name: str, fault) -> dict:
        """Runs a get and applies fault to server 3 (250 ms) once all three sent data."""
        proc, out, stats, trace = self.get(name)
        try:
            self.wait_trace(proc, trace, lambda rows: h.all_sent(rows, self.addrs),
                            "data from every server")
            self.assertIsNone(proc.poll(), "transfer ended before the fault")
            fault()
            report = self.finish(proc, out, stats)
        finally:
            if proc.poll() is None:
                netns.kill(proc)
        # The far server is given up on, or, when the end comes before its
        # silence is long enough to tell, its blocks were taken by others.
        far = [s for s in report["sources"] if s["address"] == self.addrs[2]]
        self.assertTrue(any(s["failed"] for s in far) or report["moved_blocks"] > 0,
                        (far, report["moved_blocks"], self.client_log()))
        return report

    def test_far_server_slow_to_answer(self) -> None:
        """A server that answers its handshake only after the others sent (a
        lost SYN costs a second) is given up on, then joins when it answers."""
        self.star.freeze_server(3)
        proc, out, stats, trace = self.get("slow")
        try:
            self.wait_trace(proc, trace, lambda rows: any(
                r.get("kind") == "failed" and r["address"] == self.addrs[2]
                for r in rows), "the silent server given up on")
            self.star.thaw_server(3)
            report = self.finish(proc, out, stats)
        finally:
            self.star.thaw_server(3)
            if proc.poll() is None:
                netns.kill(proc)
        rows = h.read_jsonl(trace)
        self.assertTrue(any(r.get("kind") == "joined" and r["address"] == self.addrs[2]
                            for r in rows), self.client_log())

    def test_far_server_killed(self) -> None:
        self.fault_far_server("kill", lambda: self.star.kill_server(3))

    def test_far_server_frozen(self) -> None:
        try:
            self.fault_far_server("freeze", lambda: self.star.freeze_server(3))
        finally:
            self.star.thaw_server(3)


if __name__ == "__main__":
    unittest.main()
