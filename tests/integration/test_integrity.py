"""Integration tests: every block is checked against the stream's manifest.

A server started with the testing-only switch --fault-corrupt-every N flips a
byte in every Nth block it sends. The client must drop it, fetch its blocks
elsewhere and still write a byte-identical file. Sources holding different
content under one name are never mixed.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness as h  # noqa: E402

MB = 1_000_000
SIZE = 24 * MB


class Integrity(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.tmp = h.make_temp_dir()
        cls.addClassCleanup(shutil.rmtree, cls.tmp, True)
        cls.root = os.path.join(cls.tmp, "root")
        cls.other = os.path.join(cls.tmp, "other")
        os.makedirs(cls.root)
        os.makedirs(cls.other)
        cls.digest = h.write_random_file(os.path.join(cls.root, "f.bin"), SIZE)
        # Same name and size, different bytes.
        cls.other_digest = h.write_random_file(os.path.join(cls.other, "f.bin"), SIZE)

    def serve(self, root: str, *extra: str, rate: str = "12MB"):
        srv = h.start_server(root, max_rate=rate, extra=list(extra), log_dir=self.tmp)
        self.addCleanup(srv.stop)
        return f"127.0.0.1:{srv.port}"

    def get(self, sources: list[str], *extra: str):
        out = os.path.join(self.tmp, f"out-{self._testMethodName}.bin")
        stats = os.path.join(self.tmp, f"stats-{self._testMethodName}.json")
        r = h.run_get("f.bin", sources, out, stats=stats, quiet=True, extra=list(extra),
                      timeout=120)
        st = None
        if os.path.exists(stats):
            with open(stats) as f:
                st = json.load(f)
        return r, out, st

    def test_lying_source_is_dropped_and_output_intact(self) -> None:
        good = [self.serve(self.root), self.serve(self.root)]
        liar = self.serve(self.root, "--fault-corrupt-every", "5")
        r, out, st = self.get(good + [liar])
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        self.assertEqual(h.sha256_file(out), self.digest)
        self.assertTrue(st["verified"])
        by_addr = {s["address"]: s for s in st["sources"]}
        self.assertTrue(by_addr[liar]["failed"], st)
        self.assertIn("manifest", by_addr[liar]["error"])
        for g in good:
            self.assertFalse(by_addr[g]["failed"], st)

    def test_trusted_content_id(self) -> None:
        sources = [self.serve(self.root), self.serve(self.root)]
        r, out, st = self.get(sources)
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        content_id = st["content_id"]
        self.assertRegex(content_id, r"^[0-9a-f]{64}$")
        with open(os.path.join(self.root, "f.bin"), "rb") as f:
            self.assertEqual(content_id, h.content_id(f.read()), "content id differs from the spec")
        os.remove(out)
        # The same id again, given by the user: fine.
        r, out, st = self.get(sources, "--content-id", content_id)
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        self.assertEqual(h.sha256_file(out), self.digest)
        os.remove(out)
        # An id nobody holds: a clear error and no output.
        r, out, _ = self.get(sources, "--content-id", "ab" * 32)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("content id", r.stderr.decode())
        self.assertFalse(os.path.exists(out))
        # A malformed id is a usage error.
        r, out, _ = self.get(sources, "--content-id", "xyz")
        self.assertEqual(r.returncode, 2, r.stderr.decode())

    def test_trusted_id_picks_the_minority(self) -> None:
        # Two sources hold other bytes; the user's id selects the one that
        # holds the wanted content.
        sources = [self.serve(self.other), self.serve(self.other), self.serve(self.root)]
        probe, out, st = self.get([sources[2]])
        self.assertEqual(probe.returncode, 0, probe.stderr.decode())
        os.remove(out)
        r, out, st = self.get(sources, "--content-id", st["content_id"])
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        self.assertEqual(h.sha256_file(out), self.digest)

    def test_majority_content_wins_and_is_not_mixed(self) -> None:
        sources = [self.serve(self.root), self.serve(self.other), self.serve(self.root)]
        r, out, st = self.get(sources)
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        self.assertEqual(h.sha256_file(out), self.digest)
        used = {s["address"] for s in st["sources"] if s["bytes"] > 0}
        self.assertNotIn(sources[1], used)

    def test_no_majority_is_an_error(self) -> None:
        sources = [self.serve(self.root), self.serve(self.other)]
        r, out, _ = self.get(sources)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("disagree", r.stderr.decode())
        self.assertFalse(os.path.exists(out))

    def test_only_a_lying_source(self) -> None:
        liar = self.serve(self.root, "--fault-corrupt-every", "3")
        r, out, _ = self.get([liar])
        self.assertNotEqual(r.returncode, 0)
        err = r.stderr.decode()
        self.assertIn(liar, err)
        h.assert_only_resumable_leftovers(self, out, err)


if __name__ == "__main__":
    unittest.main()
