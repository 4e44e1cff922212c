"""TLS on every braid link (docs/security.md "TLS"): daemons started with
--tls-cert/--tls-key take TLS only; clients with --tls check the chain (the
system's authorities or --cacert), the validity dates and that the
certificate names the host or IP address they dialled. Certificates are made
here by the openssl program: a test authority, and server certificates that
are right, name another host, or have expired."""
from __future__ import annotations

import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from test_director import DirectorCase  # noqa: E402
from test_http_mirrors import NGINX, Nginx  # noqa: E402

SIZE = 3 * h.MIB
NAME = "data.bin"

CA_CONFIG = """[ ca ]
default_ca = test_ca
[ test_ca ]
dir = .
database = index.txt
new_certs_dir = .
certificate = ca.pem
private_key = ca.key
serial = serial
default_md = sha256
policy = any
unique_subject = no
[ any ]
commonName = optional
"""


def openssl(args: list[str], cwd: str) -> None:
    r = subprocess.run(["openssl"] + args, cwd=cwd, capture_output=True, timeout=60)
    if r.returncode != 0:
        raise AssertionError(f"openssl {args[0]}: {r.stderr.decode(errors='replace')}")


class Authority:
    """A test certificate authority in `directory` (ca.pem), issuing server
    certificates with given names and validity."""

    def __init__(self, directory: str, name: str = "ca") -> None:
        self.dir = os.path.join(directory, name)
        os.makedirs(self.dir)
        with open(os.path.join(self.dir, "ca.cnf"), "w") as f:
            f.write(CA_CONFIG)
        open(os.path.join(self.dir, "index.txt"), "w").close()
        with open(os.path.join(self.dir, "serial"), "w") as f:
            f.write("01\n")
        openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                 "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "30",
                 "-subj", f"/CN=braid test {name}"], self.dir)
        self.pem = os.path.join(self.dir, "ca.pem")
        self.issued = 0

    def issue(self, names: list[str], *, start: str | None = None,
              end: str | None = None, subject: str | None = None) -> tuple[str, str]:
        """(certificate, key) for `names` (DNS names or IP addresses), valid
        from `start` to `end` (openssl's YYYYMMDDHHMMSSZ; default: 30 days
        from now); its subject /CN=names[0] unless given."""
        self.issued += 1
        base = f"srv{self.issued}"
        openssl(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                 "-keyout", base + ".key", "-out", base + ".csr",
                 "-subj", subject or f"/CN={names[0]}"],
                self.dir)
        san = ",".join(("IP:" if n[0].isdigit() else "DNS:") + n for n in names)
        with open(os.path.join(self.dir, base + ".ext"), "w") as f:
            f.write(f"subjectAltName={san}\n")
        dates = ["-days", "30"]
        if start:
            dates = ["-startdate", start, "-enddate", end]
        openssl(["ca", "-batch", "-config", "ca.cnf", "-in", base + ".csr", "-out",
                 base + ".pem", "-extfile", base + ".ext"] + dates, self.dir)
        return os.path.join(self.dir, base + ".pem"), os.path.join(self.dir, base + ".key")


class TlsCase(DirectorCase):

    @classmethod
    def setUpClass(cls) -> None:
        cls.cls_tmp = h.make_temp_dir(None, "braid-tls-")
        cls.ca = Authority(cls.cls_tmp)
        cls.cert, cls.key = cls.ca.issue(["localhost", "127.0.0.1"])
        cls.root = os.path.join(cls.cls_tmp, "root")
        cls.digest = h.write_random_file(os.path.join(cls.root, NAME), SIZE)

    @classmethod
    def tearDownClass(cls) -> None:
        subprocess.run(["rm", "-rf", cls.cls_tmp], check=False)

    def setUp(self) -> None:
        super().setUp()
        self.out = os.path.join(self.tmp, "out.bin")

    def tls_server(self, cert: str | None = None, key: str | None = None,
                   director: h.Server | None = None, extra=None) -> h.Server:
        args = ["--tls-cert", cert or self.cert, "--tls-key", key or self.key]
        return self.serve(self.root, director, extra=args + list(extra or []))

    def get(self, sources: list[str], extra=None, timeout: float = 60):
        return h.run_get(NAME, sources, self.out, quiet=True, extra=list(extra or []),
                         timeout=timeout)

    def assert_intact(self, r) -> None:
        self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace"))
        self.assertEqual(h.sha256_file(self.out), self.digest)

    def assert_refused(self, r, *why: str) -> None:
        err = r.stderr.decode(errors="replace")
        self.assertNotEqual(r.returncode, 0, err)
        for w in why:
            self.assertIn(w, err)
        self.assertFalse(os.path.exists(self.out) and os.path.getsize(self.out) == SIZE
                         and h.sha256_file(self.out) == self.digest)


class ClientServer(TlsCase):

    def test_get_over_tls_by_ip_and_by_name(self) -> None:
        srv = self.tls_server()
        tls = ["--tls", "--cacert", self.ca.pem]
        self.assert_intact(self.get([srv.address], tls))
        os.remove(self.out)
        self.assert_intact(self.get([f"localhost:{srv.port}"], tls))

    def test_several_tls_servers_share_the_pattern(self) -> None:
        servers = [self.tls_server() for _ in range(3)]
        stats = os.path.join(self.tmp, "stats.json")
        r = h.run_get(NAME, [s.address for s in servers], self.out, quiet=True,
                      stats=stats, extra=["--tls", "--cacert", self.ca.pem], timeout=60)
        self.assert_intact(r)
        st = self.load_stats(stats)
        self.assertTrue(st["verified"], st)
        used = [s for s in st["sources"] if s["bytes"] > 0]
        self.assertGreaterEqual(len(used), 2, st["sources"])

    def test_a_plain_client_is_told_tls_is_required(self) -> None:
        srv = self.tls_server(extra=["--max-rate", "8mbit"])
        busy = h.start_get(NAME, [srv.address], os.path.join(self.tmp, "busy.bin"),
                           self.tmp, extra=["--tls", "--cacert", self.ca.pem])
        r = self.get([srv.address])
        self.assertIsNone(busy.proc.poll(), "the TLS download should still run")
        self.assert_refused(r, "takes TLS only")
        self.assertEqual(busy.wait(60), 0, busy.stderr())
        self.assertEqual(h.sha256_file(os.path.join(self.tmp, "busy.bin")), self.digest)
        self.assertTrue(srv.alive())

    def test_an_unknown_authority_is_refused(self) -> None:
        srv = self.tls_server()
        other = Authority(self.tmp, "other")
        r = self.get([srv.address], ["--tls", "--cacert", other.pem])
        self.assert_refused(r, "certificate refused", "unable to get local issuer")
        # The system's authorities do not know the test authority either.
        r = self.get([srv.address], ["--tls"])
        self.assert_refused(r, "certificate refused")

    def test_a_certificate_for_another_host_is_refused(self) -> None:
        cert, key = self.ca.issue(["other.example"])
        srv = self.tls_server(cert, key)
        r = self.get([srv.address], ["--tls", "--cacert", self.ca.pem])
        self.assert_refused(r, "certificate refused", "IP address mismatch")
        r = self.get([f"localhost:{srv.port}"], ["--tls", "--cacert", self.ca.pem])
        self.assert_refused(r, "certificate refused", "hostname mismatch")

    def test_an_expired_certificate_is_refused(self) -> None:
        cert, key = self.ca.issue(["localhost", "127.0.0.1"], start="20200101000000Z",
                                  end="20200102000000Z")
        srv = self.tls_server(cert, key)
        r = self.get([srv.address], ["--tls", "--cacert", self.ca.pem])
        self.assert_refused(r, "certificate refused", "expired")

    def test_insecure_skips_the_checks_and_says_so(self) -> None:
        cert, key = self.ca.issue(["other.example"])
        srv = self.tls_server(cert, key)
        r = h.run_get(NAME, [srv.address], self.out, extra=["--tls", "--insecure"],
                      timeout=60)
        self.assert_intact(r)
        self.assertIn("--insecure", r.stderr.decode(errors="replace"))

    def test_a_tls_client_of_a_plain_server_gets_a_clear_error(self) -> None:
        srv = self.serve(self.root, None)
        r = self.get([srv.address], ["--tls", "--cacert", self.ca.pem])
        self.assert_refused(r, "TLS handshake", "does not speak TLS")

    def test_bad_certificate_files_are_refused_at_start(self) -> None:
        other_cert, _ = self.ca.issue(["localhost"])
        r = h.run_braid(["serve", "--root", self.root, "--listen", "127.0.0.1:0",
                         "--discovery", "off", "--tls-cert", other_cert,
                         "--tls-key", self.key], timeout=15)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("mismatch", r.stderr.decode(errors="replace"))
        r = h.run_braid(["serve", "--root", self.root, "--listen", "127.0.0.1:0",
                         "--discovery", "off", "--tls-cert", self.cert], timeout=15)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("--tls-key", r.stderr.decode(errors="replace"))

    def test_ls_over_tls(self) -> None:
        srv = self.tls_server()
        r = h.run_braid(["ls", "--source", srv.address, "--json", "--tls", "--cacert",
                         self.ca.pem], timeout=15)
        self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace"))
        self.assertIn(NAME, r.stdout.decode())


@unittest.skipUnless(os.path.exists(NGINX), "nginx is not installed")
class HttpsMirrors(TlsCase):

    def test_cacert_and_insecure_apply_to_https_mirrors(self) -> None:
        n = Nginx(self.root, os.path.join(self.tmp, "nginx"), tls=(self.cert, self.key))
        self.addCleanup(n.stop)
        url = n.url(NAME)
        r = h.run_cmd([h.braid_bin(), "get", url, "-o", self.out, "--quiet", "--cacert",
                       self.ca.pem], timeout=60)
        self.assert_intact(r)
        os.remove(self.out)
        r = h.run_cmd([h.braid_bin(), "get", url, "-o", self.out, "--quiet"], timeout=60)
        self.assert_refused(r, "certificate")
        r = h.run_cmd([h.braid_bin(), "get", url, "-o", self.out, "--insecure"], timeout=60)
        self.assert_intact(r)
        self.assertIn("--insecure", r.stderr.decode(errors="replace"))


    def test_an_http2_mirror_multiplexes_the_requests_on_one_connection(self) -> None:
        n = Nginx(self.root, os.path.join(self.tmp, "nginx2"), tls=(self.cert, self.key),
                  http2=True)
        self.addCleanup(n.stop)
        r = h.run_cmd([h.braid_bin(), "get", n.url(NAME), "-o", self.out, "--quiet",
                       "--cacert", self.ca.pem, "--block-size", "64KiB"], timeout=60)
        self.assert_intact(r)
        with open(n.access_log) as f:
            lines = [ln.split() for ln in f.read().splitlines()]
        self.assertGreaterEqual(len(lines), 3)  # two probes, the test block, ...
        self.assertEqual({proto for proto, _ in lines}, {"HTTP/2.0"})
        self.assertEqual(len({conn for _, conn in lines}), 1, lines)


class DirectorAndRelay(TlsCase):

    def tls_director(self) -> h.Server:
        d = h.start_director(os.path.join(self.tmp, "catalog.db"), log_dir=self.tmp,
                             extra=["--tls-cert", self.cert, "--tls-key", self.key])
        self.addCleanup(d.stop)
        return d

    def test_server_and_client_reach_the_director_over_tls(self) -> None:
        d = self.tls_director()
        tls = ["--tls", "--cacert", self.ca.pem]
        self.tls_server(director=d, extra=tls)
        self.tls_server(director=d, extra=tls)

        def listed() -> bool:
            r = h.run_braid(["ls", "--director", d.address, "--json"] + tls, timeout=15)
            return r.returncode == 0 and r.stdout.decode().count('"servers": 2') == 1

        self.assertTrue(h.wait_until(listed, 20), "servers did not register over TLS")
        r = h.run_cmd([h.braid_bin(), "get", NAME, "--director", d.address, "-o",
                       self.out, "--quiet"] + tls, timeout=60)
        self.assert_intact(r)
        # A plain client of the TLS director gets the reason.
        r = h.run_braid(["ls", "--director", d.address], timeout=15)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("takes TLS only", r.stderr.decode(errors="replace"))

    def test_a_server_with_the_wrong_authority_does_not_register(self) -> None:
        d = self.tls_director()
        other = Authority(self.tmp, "other")
        srv = self.tls_server(director=d, extra=["--tls", "--cacert", other.pem])
        self.assertTrue(h.wait_until(lambda: "certificate refused" in srv.stderr_text(), 20),
                        srv.stderr_text())

    def test_tls_end_to_end_through_a_relay(self) -> None:
        origin = self.tls_server()
        relay = h.start_relay([origin.address], log_dir=self.tmp)
        self.addCleanup(relay.stop)
        stats = os.path.join(self.tmp, "stats.json")
        r = h.run_cmd([h.braid_bin(), "get", NAME, "--origin", origin.address, "--via",
                       relay.address, "--via", "direct", "-o", self.out, "--quiet",
                       "--stats-json", stats, "--tls", "--cacert", self.ca.pem], timeout=60)
        self.assert_intact(r)
        st = self.load_stats(stats)
        self.assertTrue(all(s["bytes"] > 0 for s in st["sources"]), st["sources"])
        # The relay carried ciphertext: the origin's certificate was checked
        # against the origin's address, through the relay.
        cert, key = self.ca.issue(["other.example"])
        wrong = self.tls_server(cert, key)
        relay2 = h.start_relay([wrong.address], log_dir=self.tmp)
        self.addCleanup(relay2.stop)
        os.remove(self.out)
        r = h.run_cmd([h.braid_bin(), "get", NAME, "--origin", wrong.address, "--via",
                       relay2.address, "-o", self.out, "--quiet", "--tls", "--cacert",
                       self.ca.pem], timeout=60)
        self.assert_refused(r, "IP address mismatch")

    def test_proxy_fetches_over_tls(self) -> None:
        srv = self.tls_server()
        proxy = h.start_proxy([srv.address], log_dir=self.tmp,
                              extra=["--tls", "--cacert", self.ca.pem])
        self.addCleanup(proxy.stop)
        r = h.run_cmd(["curl", "-sS", "-o", self.out, f"http://{proxy.address}/{NAME}"],
                      timeout=60)
        self.assert_intact(r)


if __name__ == "__main__":
    unittest.main()
