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
import signal
import sys
import threading
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
        return self.server(root, *extra, rate=rate).address

    def server(self, root: str, *extra: str, rate: str = "12MB") -> h.Server:
        srv = h.start_server(root, max_rate=rate, extra=list(extra), log_dir=self.tmp)
        self.addCleanup(srv.stop)
        # Its manifest made: which source answers first is then the test's
        # choice (answer_late), not how long a sanitized build hashes.
        self.assertTrue(h.wait_until(lambda: "hashed" in srv.stderr_text(), 30 * h.SLOW),
                        srv.stderr_text())
        return srv

    def answer_late(self, servers: list[h.Server], after: float = 0.5,
                    once=lambda: True) -> None:
        """Frozen until the get below has had the others' answers: the
        kernel accepts their connections, they answer `after` seconds after
        `once()` holds (bounded)."""
        for srv in servers:
            srv.signal(signal.SIGSTOP)
            self.addCleanup(srv.signal, signal.SIGCONT)
        done = threading.Event()

        def thaw() -> None:
            h.wait_until(lambda: done.is_set() or once(), 60)
            done.wait(after)
            for s in servers:
                s.signal(signal.SIGCONT)

        thread = threading.Thread(target=thaw, daemon=True)
        thread.start()
        self.addCleanup(thread.join, 5)
        self.addCleanup(done.set)  # runs first: the thread ends at once

    def output(self) -> str:
        return os.path.join(self.tmp, f"out-{self._testMethodName}.bin")

    def started(self) -> bool:
        """The get has opened its output: it started on the first answer."""
        return os.path.exists(self.output() + ".braid-part")

    def assert_no_part_file(self, out: str) -> None:
        for leftover in (out + ".braid-part", out + ".braid-state"):
            self.assertFalse(os.path.exists(leftover), leftover)

    def get(self, sources: list[str], *extra: str, quiet: bool = True):
        out = self.output()
        stats = os.path.join(self.tmp, f"stats-{self._testMethodName}.json")
        r = h.run_get("f.bin", sources, out, stats=stats, quiet=quiet, extra=list(extra),
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
        self.assert_no_part_file(out)

    def test_the_majority_overturns_a_first_answer(self) -> None:
        # The file starts on the first answer, other content; the two
        # sources answering after it hold the majority's: the part file is
        # thrown away and the transfer runs again, waiting for the vote.
        # They answer after the stall timer (a second) has dropped them:
        # their votes still count.
        honest = [self.server(self.root), self.server(self.root)]
        liar = self.serve(self.other, rate="40MB")
        self.answer_late(honest, after=1.5, once=self.started)
        r, out, st = self.get([liar] + [s.address for s in honest], quiet=False)
        err = r.stderr.decode()
        self.assertEqual(r.returncode, 0, err)
        self.assertEqual(h.sha256_file(out), self.digest)
        self.assertIn("starting again", err)
        with open(os.path.join(self.root, "f.bin"), "rb") as f:
            self.assertEqual(st["content_id"], h.content_id(f.read()))
        self.assert_no_part_file(out)

    def test_the_majority_confirms_a_first_answer(self) -> None:
        first = self.server(self.root, rate="40MB")
        late = [self.server(self.other), self.server(self.root)]
        # They answer once the get has started on the first answer (a timer
        # from here would race a slow client's start).
        self.answer_late(late, after=0.1, once=self.started)
        r, out, st = self.get([first.address] + [s.address for s in late], quiet=False)
        err = r.stderr.decode()
        self.assertEqual(r.returncode, 0, err)
        self.assertEqual(h.sha256_file(out), self.digest)
        self.assertNotIn("starting again", err)
        by_addr = {s["address"]: s for s in st["sources"]}
        self.assertEqual(by_addr[late[0].address]["bytes"], 0, st)

    def test_an_empty_first_answer_waits_for_the_vote(self) -> None:
        # An empty file would be complete before the vote: no tentative
        # start on it, the majority's file comes.
        empty = os.path.join(self.tmp, "empty")
        os.makedirs(empty, exist_ok=True)
        open(os.path.join(empty, "f.bin"), "wb").close()
        honest = [self.server(self.root), self.server(self.root)]
        liar = self.serve(empty)
        self.answer_late(honest)
        r, out, _ = self.get([liar] + [s.address for s in honest], quiet=False)
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        self.assertEqual(h.sha256_file(out), self.digest)

    def test_standard_output_waits_for_the_vote(self) -> None:
        # What a pipe is given cannot be taken back: no tentative start.
        honest = [self.server(self.root), self.server(self.root)]
        liar = self.serve(self.other, rate="40MB")
        self.answer_late(honest)
        r = h.run_get("f.bin", [liar] + [s.address for s in honest], "-", timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        self.assertEqual(h.sha256_bytes(r.stdout), self.digest)
        self.assertNotIn("starting again", r.stderr.decode())

    def test_only_a_lying_source(self) -> None:
        liar = self.serve(self.root, "--fault-corrupt-every", "3")
        r, out, _ = self.get([liar])
        self.assertNotEqual(r.returncode, 0)
        err = r.stderr.decode()
        self.assertIn(liar, err)
        h.assert_only_resumable_leftovers(self, out, err)


if __name__ == "__main__":
    unittest.main()
