"""Integration tests: `braid get` / `braid serve` failures and the CLI surface."""

from __future__ import annotations

import os
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness as h  # noqa: E402

BS = 4096


class GetErrors(h.BraidTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.root = os.path.join(self.tmp, "root")
        self.size = 9 * BS + 7
        self.digest = h.write_random_file(os.path.join(self.root, "good.bin"), self.size)
        self.outdir = os.path.join(self.tmp, "out")
        os.makedirs(self.outdir)
        self.out = os.path.join(self.outdir, "result.bin")

    def assertFailedCleanly(self, r, what: str, started: bool = False) -> str:
        """Non-zero exit, exactly one non-empty stderr line, no output file. Returns the line.
        started: the file may have started on the first answer (a tentative start), so
        info and warning lines may come before the error."""
        err = r.stderr.decode("utf-8", "replace")
        self.assertNotEqual(r.returncode, 0, f"{what}: expected failure; stderr:\n{err}")
        lines = h.nonempty_lines(err)
        if started:
            self.assertTrue(all(" info " in x or " warning " in x for x in lines[:-1]), err)
            lines = lines[-1:]
        self.assertEqual(len(lines), 1, f"{what}: expected exactly one stderr line, got:\n{err}")
        self.assertFalse(os.path.exists(self.out), f"{what}: output file exists after failure")
        self.assertEqual(os.listdir(self.outdir), [], f"{what}: leftovers in the output dir")
        return lines[0]

    def test_unknown_name(self) -> None:
        srv = self.start_server(self.root)
        r = h.run_get("no-such-file.bin", [srv.address], self.out, block_size=BS, timeout=30)
        line = self.assertFailedCleanly(r, "unknown name")
        self.assertIn("no-such-file.bin", line)
        self.assertTrue(srv.alive())

    def test_unknown_name_two_sources(self) -> None:
        s1 = self.start_server(self.root)
        s2 = self.start_server(self.root)
        r = h.run_get("missing/thing.bin", [s1.address, s2.address], self.out, timeout=30)
        line = self.assertFailedCleanly(r, "unknown name, two sources")
        self.assertIn("missing/thing.bin", line)

    def test_no_reachable_source(self) -> None:
        port = h.closed_port()
        r = h.run_get("good.bin", [f"127.0.0.1:{port}"], self.out, timeout=30)
        line = self.assertFailedCleanly(r, "no reachable source")
        self.assertTrue(str(port) in line or re.search(
            r"reach|connect|refused|unavailable|source", line, re.I),
            f"error line does not say what is wrong: {line!r}")

    def test_no_reachable_source_of_two(self) -> None:
        p1, p2 = h.closed_port(), h.closed_port()
        r = h.run_get("good.bin", [f"127.0.0.1:{p1}", f"127.0.0.1:{p2}"], self.out, timeout=30)
        err = r.stderr.decode("utf-8", "replace")
        self.assertNotEqual(r.returncode, 0, err)
        # Warnings for each unreachable source may precede the final error line.
        self.assertTrue(h.nonempty_lines(err), "no error message")
        self.assertFalse(os.path.exists(self.out))
        self.assertEqual(os.listdir(self.outdir), [])

    def test_one_unreachable_one_good(self) -> None:
        srv = self.start_server(self.root)
        dead_port = h.closed_port()
        dead = f"127.0.0.1:{dead_port}"
        stats = os.path.join(self.tmp, "stats.json")
        for order in ([dead, srv.address], [srv.address, dead]):
            with self.subTest(order=order):
                if os.path.exists(self.out):
                    os.unlink(self.out)
                r = h.run_get("good.bin", order, self.out, stats=stats, block_size=BS,
                              timeout=60)
                err = r.stderr.decode("utf-8", "replace")
                self.assertEqual(r.returncode, 0, f"should succeed with one good source:\n{err}")
                self.assertEqual(h.sha256_file(self.out), self.digest)
                self.assertIn(str(dead_port), err, "expected a warning naming the dead source")
                st = h.check_stats(self, stats, name="good.bin", size=self.size, block_size=BS,
                                   sources=order)
                # Only the reachable source took part. A refusal that comes
                # after the early start leaves the dead one listed: failed,
                # and nothing from it.
                delivered = [s["address"] for s in st["sources"] if s["bytes"] > 0]
                self.assertEqual(delivered, [srv.address], st)
                for s in st["sources"]:
                    if s["address"] != srv.address:
                        self.assertTrue(s["failed"], st)

    def test_a_disk_too_small_fails_at_once(self) -> None:
        """The part file is given its whole size on disk before any block is
        asked (fallocate): a disk too small is one clear error at once, exit
        status 3, and nothing is left on it. The disk: a 1 MiB tmpfs over the
        output directory, in a mount namespace of the client's own."""
        if os.geteuid() != 0:
            self.skipTest("needs root to mount a tmpfs")
        h.write_random_file(os.path.join(self.root, "big.bin"), 3 * h.MIB)
        srv = self.start_server(self.root)
        script = ('mount -t tmpfs -o size=1m braid-test "$0" || exit 99; '
                  '"$@"; rc=$?; echo "left: $(ls -A "$0")"; exit $rc')
        r = h.run_cmd(["unshare", "--mount", "sh", "-c", script, self.outdir,
                       *h.get_args("big.bin", [srv.address], self.out)], timeout=60)
        err = r.stderr.decode("utf-8", "replace")
        self.assertNotEqual(r.returncode, 99, f"could not mount the tmpfs: {err}")
        self.assertEqual(r.returncode, 3, err)
        lines = h.nonempty_lines(err)
        self.assertEqual(len(lines), 1, err)
        self.assertRegex(lines[0], r"reserve 3145728 bytes for .*result\.bin\.braid-part.*"
                                   r"No space left on device")
        self.assertEqual(r.stdout.decode().strip(), "left:", "leftovers on the full disk")
        self.assertTrue(srv.alive())

    def test_sources_disagree_on_size(self) -> None:
        root2 = os.path.join(self.tmp, "root2")
        h.write_random_file(os.path.join(root2, "good.bin"), self.size + 1)
        s1 = self.start_server(self.root)
        s2 = self.start_server(root2)
        r = h.run_get("good.bin", [s1.address, s2.address], self.out, block_size=BS, timeout=30)
        line = self.assertFailedCleanly(r, "size mismatch", started=True)
        self.assertIn("size mismatch: sources disagree on the size", line)
        self.assertTrue(s1.alive() and s2.alive())

    def test_sources_disagree_on_size_to_stdout(self) -> None:
        root2 = os.path.join(self.tmp, "root2")
        h.write_random_file(os.path.join(root2, "good.bin"), self.size - 100)
        s1 = self.start_server(self.root)
        s2 = self.start_server(root2)
        r = h.run_get("good.bin", [s1.address, s2.address], "-", block_size=BS, timeout=30)
        self.assertNotEqual(r.returncode, 0)
        self.assertRegex(r.stderr.decode("utf-8", "replace").lower(), r"size")

    def test_no_source_flag(self) -> None:
        r = h.run_braid(["get", "good.bin", "-o", self.out], timeout=30)
        self.assertNotEqual(r.returncode, 0, "get without --source must be a usage error")
        self.assertTrue(h.nonempty_lines(r.stderr), "usage error must explain on stderr")
        self.assertFalse(os.path.exists(self.out))

    def test_no_name(self) -> None:
        srv = self.start_server(self.root)
        r = h.run_braid(["get", "--source", srv.address, "-o", self.out], timeout=30)
        self.assertNotEqual(r.returncode, 0, "get without a NAME must be a usage error")
        self.assertFalse(os.path.exists(self.out))

    def test_block_size_out_of_range(self) -> None:
        srv = self.start_server(self.root)
        for bs in (h.MIN_BLOCK_SIZE - 1, h.MAX_BLOCK_SIZE + 1, 0):
            with self.subTest(block_size=bs):
                r = h.run_get("good.bin", [srv.address], self.out, block_size=bs, timeout=30)
                self.assertNotEqual(r.returncode, 0, f"--block-size {bs} must be rejected")
                self.assertTrue(h.nonempty_lines(r.stderr))
                self.assertFalse(os.path.exists(self.out))

    def test_bad_source_address(self) -> None:
        for addr in ("127.0.0.1", "127.0.0.1:notaport", "127.0.0.1:70000"):
            with self.subTest(source=addr):
                r = h.run_get("good.bin", [addr], self.out, timeout=30)
                self.assertNotEqual(r.returncode, 0, f"--source {addr} must be rejected")
                self.assertFalse(os.path.exists(self.out))


class ServeErrors(h.BraidTestCase):
    def test_missing_root(self) -> None:
        r = h.run_braid(["serve", "--root", os.path.join(self.tmp, "nope"),
                         "--listen", "127.0.0.1:0"], timeout=15)
        self.assertNotEqual(r.returncode, 0, "serve with a missing root must fail")
        self.assertNotIn(b"listening", r.stdout)
        self.assertTrue(h.nonempty_lines(r.stderr))

    def test_bad_max_rate(self) -> None:
        for rate in ("abc", "-5MB", "12parsecs"):
            with self.subTest(rate=rate):
                r = h.run_braid(["serve", "--root", self.tmp, "--listen", "127.0.0.1:0",
                                 "--max-rate", rate], timeout=15)
                self.assertNotEqual(r.returncode, 0, f"--max-rate {rate} must be rejected")
                self.assertNotIn(b"listening", r.stdout)

    def test_port_in_use(self) -> None:
        srv = self.start_server(self.tmp)
        r = h.run_braid(["serve", "--root", self.tmp, "--listen", srv.address], timeout=15)
        self.assertNotEqual(r.returncode, 0, "serve on a busy port must fail")
        self.assertNotIn(b"listening", r.stdout)
        self.assertTrue(srv.alive())


class Help(h.BraidTestCase):
    def _help(self, args: list[str]) -> str:
        r = h.run_braid(args, timeout=15)
        self.assertEqual(r.returncode, 0, f"braid {' '.join(args)} exit code; stderr:\n"
                                          f"{r.stderr.decode(errors='replace')}")
        return (r.stdout + r.stderr).decode("utf-8", "replace")

    def test_top_level_help(self) -> None:
        text = self._help(["--help"])
        self.assertIn("serve", text)
        self.assertIn("get", text)

    def test_get_help(self) -> None:
        text = self._help(["get", "--help"])
        for flag in ("--source", "-o", "--stats-json", "--block-size", "--quiet"):
            self.assertIn(flag, text, f"`braid get --help` does not mention {flag}")

    def test_serve_help(self) -> None:
        text = self._help(["serve", "--help"])
        for flag in ("--root", "--listen", "--name", "--max-rate", "--config"):
            self.assertIn(flag, text, f"`braid serve --help` does not mention {flag}")

    def test_unknown_subcommand_is_error(self) -> None:
        r = h.run_braid(["frobnicate"], timeout=15)
        self.assertNotEqual(r.returncode, 0, "braid frobnicate must fail")


if __name__ == "__main__":
    unittest.main(verbosity=2)
