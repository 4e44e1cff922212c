"""Integration tests: `braid get` in the habits of curl, wget and aria2
users: exit statuses by cause, an existing output is not overwritten
silently (-f, --no-clobber), -P/--dir, -O, --range in HTTP's three forms,
--progress=json, --no-continue, and "did you mean" for a mistyped flag.

The mirror is http_fakes.RangeMirror on 127.0.0.1:0. Every output is
compared by SHA-256 (or byte for byte for ranges).
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness as h  # noqa: E402
from http_fakes import NO_PROXY_ENV, MirrorCase, RangeMirror  # noqa: E402

SIZE = MirrorCase.SIZE


class GetHabits(MirrorCase):

    def setUp(self) -> None:
        super().setUp()
        self.m = self.mirror()

    def get(self, args: list[str], cwd: str | None = None):
        return h.run_cmd([h.braid_bin(), "get", *args], timeout=120, cwd=cwd,
                         env=NO_PROXY_ENV)

    def assert_status(self, r, status: int, *needles: str) -> str:
        err = r.stderr.decode(errors="replace")
        self.assertEqual(r.returncode, status, err)
        for n in needles:
            self.assertIn(n, err)
        return err

    def test_exit_status_names_the_cause(self) -> None:
        self.assert_status(self.get([self.m.url, "--no-such-flag"]), 2)
        self.assert_status(self.get([self.m.url.replace("f.bin", "gone.bin"), "-o", self.out]),
                           7, "not found", "HTTP 404")
        self.assert_status(self.get([f"http://127.0.0.1:{h.closed_port()}/f.bin",
                                     "-o", self.out]), 4, "cannot connect")
        locked = self.mirror(credentials="a:b")
        self.assert_status(self.get([locked.url, "-o", self.out]), 6, "HTTP 401")
        self.assert_status(self.get([self.m.url, "-o", self.out, "--sha256", "0" * 64]),
                           5, "SHA-256", "of --sha256: kept as")
        self.assertFalse(os.path.exists(self.out))
        self.assertEqual(h.sha256_file(self.out + ".braid-bad"), self.digest)
        os.remove(self.out + ".braid-bad")
        # aria2's spelling: the same check, and the other algorithms it takes.
        self.assert_status(self.get([self.m.url, "-o", self.out, "--checksum",
                                     "SHA-256=" + "0" * 64]), 5, "SHA-256",
                           "of --checksum: kept as")
        os.remove(self.out + ".braid-bad")
        self.assert_status(self.get([self.m.url, "-o", self.out, "--checksum",
                                     "md5=" + "0" * 32]), 5, "md5 of the download is "
                           + hashlib.md5(self.data).hexdigest(), "kept as")
        os.remove(self.out + ".braid-bad")
        r = self.get([self.m.url, "-o", "/dev/null", "--checksum", "md5=" + "0" * 32])
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(b"check a regular file, not /dev/null", r.stderr)
        self.assertTrue(os.path.exists("/dev/null") and not os.path.exists("/dev/null.braid-bad"))
        for bad in ("md5=" + "0" * 31, "crc32=00000000", "sha-1"):
            self.assert_status(self.get([self.m.url, "-o", self.out, "--checksum", bad]), 2,
                               "--checksum")
        for algo in ("sha-256", "md5", "sha1", "SHA-512", "sha-224", "sha-384"):
            want = hashlib.new(algo.lower().replace("-", ""), self.data).hexdigest()
            r = self.get([self.m.url, "-o", self.out, "--checksum", f"{algo}={want}"])
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(h.sha256_file(self.out), self.digest)
            os.remove(self.out)
        help_text = self.get(["--help"]).stdout.decode()
        for line in ("3 the output exists", "5 bytes that do not verify", "130 interrupted"):
            self.assertIn(line, " ".join(help_text.split()))

    def test_an_existing_file_is_kept_unless_forced(self) -> None:
        with open(self.out, "wb") as f:
            f.write(b"mine")
        self.assert_status(self.get([self.m.url, "-o", self.out]), 3, "exists", "-f")
        asked = len(self.m.requests)
        self.assert_status(self.get([self.m.url, "-o", self.out, "--no-clobber"]), 0,
                           "not fetched")
        with open(self.out, "rb") as f:
            self.assertEqual(f.read(), b"mine")
        self.assertEqual(len(self.m.requests), asked, "--no-clobber still asked the mirror")
        self.assert_status(self.get([self.m.url, "-o", self.out, "-f", "-q"]), 0)
        self.assertEqual(h.sha256_file(self.out), self.digest)
        # A device is written, never refused.
        self.assert_status(self.get([self.m.url, "-o", os.devnull, "-q"]), 0)
        self.assert_status(self.get([self.m.url, "-o", self.out, "-f", "--no-clobber"]), 2)

    def test_dir_and_the_name_from_the_url(self) -> None:
        url = self.m.url.replace("f.bin", "f.bin")  # served under /f.bin only
        r = self.get([url + "#part-2", "-P", "sub/dir", "-q"], cwd=self.tmp)
        self.assert_status(r, 0)
        self.assertEqual(h.sha256_file(os.path.join(self.tmp, "sub", "dir", "f.bin")),
                         self.digest)
        r = self.get([url, "-P", self.tmp, "-o", "named.bin", "-q"])
        self.assert_status(r, 0)
        self.assertEqual(h.sha256_file(os.path.join(self.tmp, "named.bin")), self.digest)
        self.assert_status(self.get([url, "-O", "-o", "x.bin"]), 2)

    def test_range_in_the_three_forms_of_http(self) -> None:
        for spec, want in (("100-199", self.data[100:200]), (f"{SIZE - 10}-", self.data[-10:]),
                           ("-7", self.data[-7:]), ("10-99999999", self.data[10:])):
            with self.subTest(spec=spec):
                r = self.get([self.m.url, "-o", "-", "--range", spec, "-q"])
                self.assert_status(r, 0)
                self.assertEqual(r.stdout, want)
        self.assert_status(self.get([self.m.url, "-o", "-", "--range", f"{SIZE}-"]), 2,
                           "--range names no byte")
        self.assert_status(self.get([self.m.url, "-o", "-", "--range", "9-1"]), 2,
                           "--range wants")

    def test_progress_json_lines_on_stdout(self) -> None:
        r = self.get([self.m.url, "-o", self.out, "--progress=json", "-q"])
        self.assert_status(r, 0)
        lines = [json.loads(ln) for ln in r.stdout.decode().splitlines()]
        self.assertGreaterEqual(len(lines), 1)
        last = lines[-1]
        self.assertEqual(last["done_bytes"] + last["resumed_bytes"], SIZE)
        self.assertEqual(last["total_bytes"], SIZE)
        self.assertEqual([s["name"] for s in last["sources"]], [self.m.url])
        self.assertEqual(h.sha256_file(self.out), self.digest)
        self.assert_status(self.get([self.m.url, "-o", "-", "--progress=json"]), 2)

    def test_no_continue_starts_over(self) -> None:
        # Resume state is saved every few MiB: a 12 MB file at 2 MB/s.
        big = os.urandom(12_000_000)
        slow, fast = self.mirror(big, bytes_per_second=2_000_000), self.mirror(big)
        args = [h.braid_bin(), "get", slow.url, "-o", self.out,
                "--connections-per-mirror", "1"]
        rc, err = h.interrupt_when_saved(self, args, self.out + ".braid-state", 1_000_000,
                                         signal.SIGINT)
        self.assertEqual(rc, 130, err)
        self.assertTrue(os.path.exists(self.out + ".braid-part"))
        stats = os.path.join(self.tmp, "stats.json")
        r = self.get([fast.url, "-o", self.out, "--no-continue", "-q", "--stats-json", stats])
        self.assert_status(r, 0)
        with open(stats) as f:
            self.assertEqual(json.load(f)["resumed_bytes"], 0)
        self.assertEqual(h.sha256_file(self.out), h.sha256_bytes(big))
        self.assertFalse(os.path.exists(self.out + ".braid-part"))

    def test_retry_after_a_network_failure(self) -> None:
        port = h.closed_port()
        url = f"http://127.0.0.1:{port}/f.bin"
        self.assert_status(self.get([url, "-o", self.out]), 4, "cannot connect")
        # The mirror comes up a second after the first attempt failed.
        starter = threading.Timer(1.0, lambda: self.addCleanup(
            RangeMirror(self.data, port=port).stop))
        starter.start()
        self.addCleanup(starter.cancel)
        r = self.get([url, "-o", self.out, "--retry", "5", "--retry-delay", "0.4"])
        err = self.assert_status(r, 0, "trying again in 0.4 s (retry 1 of 5)")
        self.assertEqual(h.sha256_file(self.out), self.digest)
        # Not after a failure that another try would not mend.
        r = self.get([self.m.url.replace("f.bin", "gone.bin"), "-o", self.out + "2",
                      "--retry", "5"])
        err = self.assert_status(r, 7)
        self.assertNotIn("trying again", err)

    def test_input_file_downloads_each_line(self) -> None:
        base = self.m.url.rsplit("/", 1)[0]
        listing = os.path.join(self.tmp, "list.txt")
        with open(listing, "w") as f:
            f.write(f"# three downloads\n{base}/a.bin\n\n{base}/gone.bin\n"
                    f"b.bin {base}/x/b.bin {base}/y/b.bin\n")
        dl = os.path.join(self.tmp, "dl")
        r = self.get(["-i", listing, "-P", dl])
        self.assert_status(r, 7, "not found")  # the first failure's status
        for name in ("a.bin", "b.bin"):
            self.assertEqual(h.sha256_file(os.path.join(dl, name)), self.digest)
        self.assertFalse(os.path.exists(os.path.join(dl, "gone.bin")))
        self.assert_status(self.get(["-i", listing, "-o", self.out]), 2, "-P")
        self.assert_status(self.get(["-i", listing, self.m.url]), 2, "not both")

    def test_limit_rate_holds_the_fetch_below_it(self) -> None:
        stats = os.path.join(self.tmp, "stats.json")
        # 2 MB at 500 kB/s, of which at most a burst of two 256 KiB blocks
        # and the last block come unpaced: not under 2.2 s however fast the
        # machine (a bound the limit sets, not a measured speed).
        for url in (self.m.url, self.no_ranges_url()):
            with self.subTest(url=url):
                r = self.get([url, "-o", self.out, "--limit-rate", "500k", "-q",
                              "--stats-json", stats, "-f"])
                self.assert_status(r, 0)
                self.assertEqual(h.sha256_file(self.out), self.digest)
                with open(stats) as f:
                    self.assertGreaterEqual(json.load(f)["seconds"], 2.2)
        self.assert_status(self.get([self.m.url, "--limit-rate", "fast"]), 2, "--limit-rate")

    def no_ranges_url(self) -> str:
        """A server of the same bytes that ignores Range (fetched whole)."""
        m = self.mirror(ranges=False)
        return m.url

    def test_the_sha256_a_mirror_states_is_checked(self) -> None:
        stats = os.path.join(self.tmp, "stats.json")
        honest = self.mirror(stated=self.data)
        r = self.get([honest.url, "-o", self.out, "-q", "--stats-json", stats])
        self.assert_status(r, 0)
        with open(stats) as f:
            st = json.load(f)
        self.assertEqual(st["stated_sha256"], self.digest)
        self.assertTrue(st["sha256_checked"])
        # Other bytes than those it states the hash of: kept aside, exit 5.
        changed = bytearray(self.data)
        changed[SIZE // 3] ^= 0xFF
        liar = self.mirror(bytes(changed), stated=self.data)
        out = os.path.join(self.tmp, "liar.bin")
        self.assert_status(self.get([liar.url, "-o", out]), 5, "SHA-256", "kept as",
                           "not checked one by one", f"{liar.url} {SIZE}.")
        self.assertFalse(os.path.exists(out))
        # Standard output cannot be checked after the fact: passed through.
        r = self.get([liar.url, "-o", "-", "-q"])
        self.assert_status(r, 0)
        self.assertEqual(r.stdout, bytes(changed))
        # Mirrors that state different digests: neither is checked, and
        # the user is told (the bytes here are the same on both).
        other = self.mirror(stated=bytes(changed))
        out = os.path.join(self.tmp, "two.bin")
        r = self.get([honest.url, other.url, "-o", out, "--stats-json", stats])
        err = self.assert_status(r, 0)
        self.assertIn("no stated digest is checked", err)
        self.assertEqual(h.sha256_file(out), self.digest)
        with open(stats) as f:
            st = json.load(f)
        self.assertFalse(st["stated_sha256"])
        self.assertFalse(st["sha256_checked"])

    def test_did_you_mean(self) -> None:
        err = self.assert_status(self.get([self.m.url, "--outptu", "x"]), 2)
        self.assertIn("did you mean '--output'?", err)
        r = h.run_cmd([h.braid_bin(), "gte", self.m.url], timeout=30)
        self.assert_status(r, 2, "unknown command 'gte'; did you mean 'get'?")


if __name__ == "__main__":
    unittest.main()
