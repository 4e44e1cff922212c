"""Integration tests: an interrupted `braid get`, run again with the same
arguments, continues from the blocks already verified on disk."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
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

    def interrupt_after(self, seconds: float, sig: int) -> tuple[int, str]:
        proc = subprocess.Popen(self.args(), stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                cwd=h.scratch_dir())
        try:
            time.sleep(seconds)
            self.assertIsNone(proc.poll(), "finished before the interruption")
            proc.send_signal(sig)
            _, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
        return proc.returncode, err.decode(errors="replace")

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
        rc, err = self.interrupt_after(3.0, signal.SIGINT)
        self.assertNotEqual(rc, 0)
        self.assertIn("resume", err)
        self.assertFalse(os.path.exists(self.out), "nothing under the final name")
        self.assertTrue(os.path.exists(self.out + ".braid-part"))
        self.assertTrue(os.path.exists(self.out + ".braid-state"))
        self.assert_fetched_only_missing(self.rerun())

    def test_sigkill_then_resume(self) -> None:
        # No chance to clean up: the last periodic state (<= 2 s old) counts.
        rc, _ = self.interrupt_after(3.0, signal.SIGKILL)
        self.assertEqual(rc, -signal.SIGKILL)
        self.assertFalse(os.path.exists(self.out))
        self.assert_fetched_only_missing(self.rerun())

    def test_changed_content_starts_over(self) -> None:
        rc, _ = self.interrupt_after(3.0, signal.SIGINT)
        self.assertNotEqual(rc, 0)
        # The servers now hold other bytes under the same name and size.
        self.digest = h.write_random_file(os.path.join(self.root, "f.bin"), SIZE)
        time.sleep(0.2)
        st = self.rerun()
        self.assertEqual(st["resumed_bytes"], 0)


if __name__ == "__main__":
    unittest.main()
