"""Integration tests: an interrupted `braid get`, run again with the same
arguments, continues from the blocks already verified on disk."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness as h  # noqa: E402

MB = 1_000_000
SIZE = 48 * MB


class Resume(unittest.TestCase):
    def setUp(self) -> None:
        self.tmp = h.make_temp_dir()
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.root = os.path.join(self.tmp, "root")
        os.makedirs(self.root)
        self.digest = h.write_random_file(os.path.join(self.root, "f.bin"), SIZE)
        self.servers = []
        for _ in range(2):
            srv = h.start_server(self.root, max_rate="6MB", log_dir=self.tmp)
            self.addCleanup(srv.stop)
            self.servers.append(f"127.0.0.1:{srv.port}")
        self.out = os.path.join(self.tmp, "out.bin")
        self.stats = os.path.join(self.tmp, "stats.json")

    def args(self) -> list[str]:
        return h.get_args("f.bin", self.servers, self.out, stats=self.stats, quiet=True)

    def interrupt_when_saved(self, sig: int) -> tuple[int, str]:
        """Sends `sig` once a periodic resume state names more than 4 MB
        (48 MB at 12 MB/s: the first state, about 2 s in, names about half)."""
        return h.interrupt_when_saved(self, self.args(), self.out + ".braid-state",
                                      4 * MB, sig)

    @staticmethod
    def served_cid(addr: str) -> str:
        """The content id a server gives for f.bin now ("" while it has none
        or does not answer)."""
        try:
            with h.RawConn(int(addr.rsplit(":", 1)[1]), timeout=2.0) as c:
                c.hello()
                c.send_frame(h.OPEN, h.open_body("f.bin"))
                f = c.recv_frame()
        except (OSError, TimeoutError, ValueError, AssertionError, h.Closed):
            return ""
        return h.parse_opened(f.body)["content_id"] if f and f.type == h.OPENED else ""

    def rerun(self) -> dict:
        r = h.run_cmd(self.args(), timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        self.assertEqual(h.sha256_file(self.out), self.digest)
        self.assertFalse(os.path.exists(self.out + ".braid-part"))
        self.assertFalse(os.path.exists(self.out + ".braid-state"))
        with open(self.stats) as f:
            return json.load(f)

    def assert_fetched_only_missing(self, st: dict) -> None:
        self.assertGreater(st["resumed_bytes"], 4 * MB, st)
        self.assertLess(st["resumed_bytes"], SIZE)
        fetched = sum(s["bytes"] for s in st["sources"])
        self.assertEqual(fetched + st["resumed_bytes"], SIZE, st)

    def test_ctrl_c_then_resume(self) -> None:
        rc, err = self.interrupt_when_saved(signal.SIGINT)
        self.assertNotEqual(rc, 0)
        self.assertIn("resume", err)
        self.assertFalse(os.path.exists(self.out), "nothing under the final name")
        self.assertTrue(os.path.exists(self.out + ".braid-part"))
        self.assertTrue(os.path.exists(self.out + ".braid-state"))
        self.assert_fetched_only_missing(self.rerun())

    def test_sigkill_then_resume(self) -> None:
        # No chance to clean up: the last periodic state counts.
        rc, _ = self.interrupt_when_saved(signal.SIGKILL)
        self.assertEqual(rc, -signal.SIGKILL)
        self.assertFalse(os.path.exists(self.out))
        self.assert_fetched_only_missing(self.rerun())

    def test_changed_content_starts_over(self) -> None:
        rc, _ = self.interrupt_when_saved(signal.SIGINT)
        self.assertNotEqual(rc, 0)
        # The servers now hold other bytes under the same name and size.
        path = os.path.join(self.root, "f.bin")
        self.digest = h.write_random_file(path, SIZE)
        with open(path, "rb") as f:
            cid = h.content_id(f.read())
        for addr in self.servers:
            self.assertTrue(h.wait_until(lambda: self.served_cid(addr) == cid, 30),
                            f"{addr} never served the new content")
        st = self.rerun()
        self.assertEqual(st["resumed_bytes"], 0)


if __name__ == "__main__":
    unittest.main()
