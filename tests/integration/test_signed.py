"""Signed content (docs/security.md "Signed content"): a server started with
a publisher's private key (`serve --sign-key`) signs what each name means;
a client with the public key (`get --trust-key`) accepts only that content,
whatever a majority of sources, a director or discovery say."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from test_director import DirectorCase  # noqa: E402

SIZE = 3 * h.MIB
NAME = "pkg.bin"


def make_key(directory: str, name: str) -> tuple[str, str, str]:
    """An Ed25519 key pair by the openssl program: (private PEM, public PEM,
    key id hex = SHA-256 of the raw public key)."""
    private = os.path.join(directory, name + ".pem")
    public = os.path.join(directory, name + ".pub.pem")
    subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", private],
                   check=True, capture_output=True, timeout=30)
    subprocess.run(["openssl", "pkey", "-in", private, "-pubout", "-out", public],
                   check=True, capture_output=True, timeout=30)
    der = subprocess.run(["openssl", "pkey", "-pubin", "-in", public, "-outform", "DER"],
                         check=True, capture_output=True, timeout=30).stdout
    return private, public, hashlib.sha256(der[-32:]).hexdigest()


class SignedContent(DirectorCase):

    def setUp(self) -> None:
        super().setUp()
        self.key, self.pub, self.key_id = make_key(self.tmp, "publisher")
        self.good_root = os.path.join(self.tmp, "good")
        self.digest = h.write_random_file(os.path.join(self.good_root, NAME), SIZE)
        self.bad_root = os.path.join(self.tmp, "bad")
        self.bad_digest = h.write_random_file(os.path.join(self.bad_root, NAME), SIZE)
        self.out = os.path.join(self.tmp, "out.bin")
        self.stats = os.path.join(self.tmp, "stats.json")

    def signed_server(self, director=None, extra=None) -> h.Server:
        return self.serve(self.good_root, director, extra=["--sign-key", self.key] +
                          list(extra or []))

    def get(self, sources, extra=None, trust=True) -> subprocess.CompletedProcess:
        args = (["--trust-key", self.pub] if trust else []) + list(extra or [])
        return h.run_get(NAME, sources, self.out, stats=self.stats, quiet=True,
                         extra=args, timeout=60)

    def assert_good(self, r) -> dict:
        self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace"))
        self.assertEqual(h.sha256_file(self.out), self.digest)
        st = self.load_stats(self.stats)
        self.assertTrue(st["verified"], st)
        self.assertEqual(st["signed_by"], self.key_id, st)
        return st

    def test_signed_content_is_accepted(self) -> None:
        srv = self.signed_server()
        self.assert_good(self.get([srv.address]))

    def test_a_majority_with_other_content_is_outvoted(self) -> None:
        good = self.signed_server()
        bad = [self.serve(self.bad_root, None) for _ in range(2)]
        st = self.assert_good(self.get([bad[0].address, good.address, bad[1].address]))
        failed = {s["address"] for s in st["sources"] if s["failed"]}
        self.assertEqual(failed, {b.address for b in bad}, st["sources"])
        # Without the key the majority wins: the attack this prevents.
        os.remove(self.out)
        r = self.get([bad[0].address, good.address, bad[1].address], trust=False)
        self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace"))
        self.assertEqual(h.sha256_file(self.out), self.bad_digest)

    def test_a_lying_director_is_not_the_trust_anchor(self) -> None:
        d = self.director()
        self.serve(self.bad_root, d)  # the only holder the director knows
        good = self.signed_server()
        self.wait_ls(d.address, lambda rows: self.servers_of(rows, NAME) == 1, 20,
                     "the attacker's registration")
        st = self.assert_good(self.get([good.address], extra=["--director", d.address]))
        self.assertTrue(any(s["failed"] for s in st["sources"]), st["sources"])

    def test_a_lying_discovery_answer_is_left_out(self) -> None:
        udp = h.free_udp_port()
        self.serve(self.bad_root, None, extra=["--discovery", f"0.0.0.0:{udp}"])
        good = self.signed_server()
        self.assert_good(self.get([good.address], extra=[
            "--discover", "--discover-to", f"127.255.255.255:{udp}",
            "--discover-wait", "300"]))

    def test_content_signed_by_another_key_is_refused(self) -> None:
        other_key, _, _ = make_key(self.tmp, "other")
        srv = self.serve(self.good_root, None, extra=["--sign-key", other_key])
        r = self.get([srv.address])
        err = r.stderr.decode(errors="replace")
        self.assertNotEqual(r.returncode, 0, err)
        self.assertIn("signed by a trusted key", err)
        self.no_output(self.out)

    def test_unsigned_content_is_refused(self) -> None:
        srv = self.serve(self.good_root, None)
        r = self.get([srv.address])
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("signed by a trusted key", r.stderr.decode(errors="replace"))
        self.no_output(self.out)

    def test_bad_key_files_are_usage_errors(self) -> None:
        srv = self.serve(self.good_root, None)
        # A private key where a public one is expected.
        r = self.get([srv.address], trust=False, extra=["--trust-key", self.key])
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("not a PEM public key", r.stderr.decode(errors="replace"))
        r = h.run_braid(["serve", "--root", self.good_root, "--sign-key", self.pub,
                         "--listen", "127.0.0.1:0", "--discovery", "off"], timeout=15)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("not a PEM private key", r.stderr.decode(errors="replace"))


if __name__ == "__main__":
    unittest.main()
