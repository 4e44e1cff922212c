"""Integration tests: how `braid get` asks HTTP mirrors (curl's flags).

The mirror and the proxies are the small servers of http_fakes.py, in this
process on 127.0.0.1:0. Every output is compared by SHA-256.
"""

from __future__ import annotations

import os
import socket
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness as h  # noqa: E402
from http_fakes import NO_PROXY_ENV, ForwardProxy, MirrorCase, Socks5Proxy  # noqa: E402

class MirrorRequests(MirrorCase):
    SIZE = 3_000_000

    def get(self, urls: list[str], extra: list[str] | None = None,
            env: dict | None = None):
        return h.run_cmd([h.braid_bin(), "get", *urls, "-o", self.out, "--quiet",
                          *(extra or [])], timeout=120, env={**NO_PROXY_ENV, **(env or {})})

    def assert_intact(self, r) -> None:
        self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace"))
        self.assertEqual(h.sha256_file(self.out), self.digest)

    def test_headers_and_user_agent_go_with_every_request(self) -> None:
        m = self.mirror()
        r = self.get([m.url], ["-H", "X-Trace: abc", "--header", "Accept-Language: fr",
                               "-A", "fetcher/2"])
        self.assert_intact(r)
        self.assertGreater(len(m.requests), 2)
        for req in m.requests:
            self.assertEqual(req.get("x-trace"), "abc")
            self.assertEqual(req.get("accept-language"), "fr")
            self.assertEqual(req.get("user-agent"), "fetcher/2")
            self.assertEqual(req.get("accept-encoding"), "identity")

    def test_a_header_that_would_split_the_request_is_refused(self) -> None:
        m = self.mirror()
        r = self.get([m.url], ["-H", "NoColon"])
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn(b"--header wants 'Name: value'", r.stderr)
        self.assertEqual(m.requests, [])

    def test_credentials_from_user_or_netrc(self) -> None:
        m = self.mirror(credentials="ann:s3cret")
        r = self.get([m.url])
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(b"HTTP 401", r.stderr)
        self.assertFalse(os.path.exists(self.out))
        self.assert_intact(self.get([m.url], ["-u", "ann:s3cret"]))
        os.remove(self.out)
        netrc = os.path.join(self.tmp, "netrc")
        with open(netrc, "w") as f:
            f.write("machine 127.0.0.1 login ann password s3cret\n")
        os.chmod(netrc, 0o600)
        self.assert_intact(self.get([m.url], ["--netrc-file", netrc]))
        os.remove(self.out)
        # ~/.netrc with --netrc: the same file as the user's home.
        home = os.path.join(self.tmp, "home")
        os.makedirs(home)
        os.rename(netrc, os.path.join(home, ".netrc"))
        self.assert_intact(self.get([m.url], ["--netrc"], env={"HOME": home}))

    def test_http_proxy_from_the_flag_and_from_the_environment(self) -> None:
        m, p = self.mirror(), ForwardProxy()
        self.addCleanup(p.stop)
        self.assert_intact(self.get([m.url], ["--proxy", f"http://{p.address}"]))
        through_flag = p.forwarded
        self.assertGreater(through_flag, 2)
        self.assertEqual(through_flag, len(m.requests), "a request went around the proxy")
        os.remove(self.out)
        self.assert_intact(self.get([m.url], env={"http_proxy": f"http://{p.address}"}))
        self.assertGreater(p.forwarded, through_flag)
        self.assertEqual(p.forwarded, len(m.requests))

    def test_socks5_proxy(self) -> None:
        m, p = self.mirror(), Socks5Proxy()
        self.addCleanup(p.stop)
        self.assert_intact(self.get([m.url], ["--proxy", f"socks5h://{p.address}"]))
        self.assertGreaterEqual(p.connections, 1)

    def test_an_unknown_proxy_scheme_is_a_usage_error(self) -> None:
        m = self.mirror()
        r = self.get([m.url], ["--proxy", "ftp://127.0.0.1:21"])
        self.assertEqual(r.returncode, 2)
        self.assertIn(b"unknown proxy scheme 'ftp'", r.stderr)

    def test_a_dead_proxy_is_a_clear_error(self) -> None:
        m = self.mirror()
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            dead = s.getsockname()[1]
        r = self.get([m.url], ["--proxy", f"http://127.0.0.1:{dead}"])
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(b"cannot connect", r.stderr)
        self.assertEqual(m.requests, [])

    def test_connections_per_mirror(self) -> None:
        for n in (1, 4):
            m = self.mirror()
            self.assert_intact(self.get([m.url], ["--connections-per-mirror", str(n),
                                                  "--block-size", "64KiB"]))
            self.assertLessEqual(len(m.ports), n)
            self.assertGreaterEqual(len(m.ports), min(n, 2))
            os.remove(self.out)
        r = self.get([m.url], ["--connections-per-mirror", "17"])
        self.assertEqual(r.returncode, 2)


if __name__ == "__main__":
    unittest.main()
