"""Authentication (docs/security.md "Authentication"): access tokens on
servers (`serve --access-key-file`, `get --access-token`) and on the proxy
(`proxy --access-key-file`, `?token=` or `Authorization: Bearer`), and
registration tokens on the director (`director --register-tokens`,
`serve --director-token-file`).

Every refused attempt must say why on stderr (or in the 403 body) and leave
the daemon serving: a download running meanwhile stays byte-identical.
Tokens are made by `braid token` and, to pin the documented format, by
this file's own make_token. Another machine is played by 127.0.0.2.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import signal
import struct
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness as h  # noqa: E402
from test_director import DirectorCase  # noqa: E402

MB = 1_000_000
NAME = "videos/a.bin"
OTHER = "other.bin"
TOKEN_ENV = "BRAID_ACCESS_TOKEN"
OTHER_HOST = "127.0.0.2"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_token(key: bytes, scope: str, expires: int) -> str:
    """An access token exactly as docs/protocol.md "Access tokens" says."""
    s = scope.encode()
    msg = b"braid-access-v1\x00" + struct.pack(">QH", expires, len(s)) + s
    mac = hmac.new(key, msg, hashlib.sha256).digest()
    return f"braid1.{expires}.{b64url(s)}.{b64url(mac)}"


def write(path: str, text: str) -> str:
    with open(path, "w") as f:
        f.write(text)
    return path


def braid_token(key_file: str, scope: str, *args: str) -> str:
    r = h.run_braid(["token", "--key-file", key_file, "--name", scope, *args], timeout=15)
    assert r.returncode == 0, r.stderr
    return r.stdout.decode().strip()


class AuthCase(unittest.TestCase):
    """A root with NAME (16 MB) and OTHER; a key file for the servers."""

    SIZE = 16 * MB

    @classmethod
    def setUpClass(cls) -> None:
        h.braid_bin()
        cls.digest = h.class_root(cls, NAME, cls.SIZE)
        h.write_random_file(os.path.join(cls.root, OTHER), 100_000)
        cls.key = os.urandom(32)
        cls.key_file = write(os.path.join(cls.tmp, "access.key"), cls.key.hex() + "\n")

    def setUp(self) -> None:
        self.tmp = h.make_temp_dir(self)

    def daemon(self, srv: h.Server) -> h.Server:
        self.addCleanup(srv.stop)
        return srv

    def serve(self, *extra: str, rate: str | None = None) -> h.Server:
        return self.daemon(h.start_server(
            self.root, max_rate=rate, log_dir=self.tmp,
            extra=["--access-key-file", self.key_file, *extra]))

    def valid_token(self, scope: str = NAME) -> str:
        return braid_token(self.key_file, scope, "--ttl", "10m")

    def slow_get(self, srv: h.Server, token: str) -> h.BackgroundGet:
        """A download that runs while refused attempts are made (the token
        on the command line, which the foreground gets do not use)."""
        out = os.path.join(self.tmp, "during.bin")
        args = h.get_args(NAME, [srv.address], out, quiet=True,
                          extra=["--access-token", token])
        return h.get_during(self, args, out, self.tmp)

    def get(self, sources: list[str], token: str | None, name: str = NAME,
            extra: list[str] | None = None):
        """`braid get` with the token in BRAID_ACCESS_TOKEN; (result, out)."""
        out = os.path.join(self.tmp, f"out-{len(os.listdir(self.tmp))}.bin")
        args = h.get_args(name, sources, out, quiet=True, extra=extra)
        env = {TOKEN_ENV: token} if token is not None else None
        return h.run_cmd(args, timeout=60, env=env), out

    def assert_refused(self, r, out: str, why: str) -> None:
        err = r.stderr.decode(errors="replace")
        self.assertNotEqual(r.returncode, 0, err)
        self.assertIn("forbidden", err)
        self.assertIn(why, err)
        for p in (out, out + ".braid-part", out + ".braid-state"):
            self.assertFalse(os.path.exists(p), f"{p} left by a refused get")


class AccessTokens(AuthCase):

    def test_a_valid_token_fetches_the_file_byte_identical(self) -> None:
        servers = [self.serve(), self.serve()]
        sources = [s.address for s in servers]
        for token in (self.valid_token(), self.valid_token("videos/"),
                      self.valid_token("/"),
                      make_token(self.key, NAME, int(time.time()) + 600)):
            with self.subTest(token=token):
                r, out = self.get(sources, token)
                self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace"))
                self.assertEqual(h.sha256_file(out), self.digest)
        # A server without a key ignores the token a client sends everyone.
        plain = self.daemon(h.start_server(self.root, log_dir=self.tmp))
        r, out = self.get([plain.address], self.valid_token())
        self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace"))
        self.assertEqual(h.sha256_file(out), self.digest)

    def test_braid_token_writes_the_documented_format(self) -> None:
        expires = 2_000_000_000
        self.assertEqual(braid_token(self.key_file, "videos/", "--expires", str(expires)),
                         make_token(self.key, "videos/", expires))

    def test_missing_expired_wrong_name_and_tampered_tokens_are_refused(self) -> None:
        srv = self.serve(rate="30mbit")  # about 4 s for the download during
        during = self.slow_get(srv, self.valid_token())
        now = int(time.time())
        good = self.valid_token()
        prefix, expires, scope, mac = good.split(".")
        cases = [
            (None, "no access token"),
            (make_token(self.key, NAME, now - 60), "access token expired"),
            (self.valid_token(OTHER), f"access token is for '{OTHER}', not '{NAME}'"),
            (self.valid_token("music/"), f"access token is for 'music/', not '{NAME}'"),
            # A wider scope, a later expiry, another key: the MAC fails.
            (".".join([prefix, expires, b64url(b"/"), mac]), "bad signature"),
            (".".join([prefix, str(int(expires) + 3600), scope, mac]), "bad signature"),
            (make_token(os.urandom(32), NAME, now + 600), "bad signature"),
            ("braid1.12.x", "malformed access token"),
        ]
        for token, why in cases:
            with self.subTest(why=why, token=token):
                r, out = self.get([srv.address], token)
                self.assert_refused(r, out, why)
        h.check_get_during(self, during, self.digest)
        h.server_healthy(srv)

    def test_open_without_a_token_gets_error_forbidden_and_a_close(self) -> None:
        srv = self.serve()
        with h.connect(srv) as c:
            c.hello()
            c.send_frame(h.OPEN, h.open_body(NAME))
            code, msg = c.expect_error()
            self.assertEqual(code, h.kForbidden, msg)
            self.assertIn("no access token", msg)
            self.assertTrue(c.wait_closed(), "not closed after a refused OPEN")
        # The token as the last field of OPEN (docs/protocol.md).
        token = make_token(self.key, NAME, int(time.time()) + 600)
        with h.connect(srv) as c:
            c.hello()
            opened = c.open(NAME, access_token=token)
            self.assertEqual(opened["size"], self.SIZE)
        h.server_healthy(srv)

    def test_list_needs_a_token_for_every_name(self) -> None:
        srv = self.serve()

        def ls(token: str | None):
            env = {TOKEN_ENV: token} if token is not None else None
            return h.run_cmd([h.braid_bin(), "ls", "--source", srv.address, "--json"],
                             timeout=15, env=env)

        r = ls(None)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(b"no access token", r.stderr)
        r = ls(self.valid_token("videos/"))
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(b"access token is for 'videos/', not '/'", r.stderr)
        r = ls(self.valid_token("/"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(sorted(row["name"] for row in json.loads(r.stdout)),
                         [OTHER, NAME])

    def test_bad_key_files_are_usage_errors(self) -> None:
        short = write(os.path.join(self.tmp, "short.key"), "ab" * 31 + "\n")
        not_hex = write(os.path.join(self.tmp, "words.key"), "correct horse battery staple\n")
        for key, why in ((short, "too short: 31 bytes"), (not_hex, "not hex digits"),
                         (os.path.join(self.tmp, "missing.key"), "cannot read access key")):
            with self.subTest(key=key):
                r = h.run_braid(["serve", "--root", self.root, "--listen", "127.0.0.1:0",
                                 "--discovery", "off", "--access-key-file", key], timeout=15)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn(why, r.stderr.decode(errors="replace"))
                r = h.run_braid(["token", "--key-file", key, "--name", NAME], timeout=15)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn(why, r.stderr.decode(errors="replace"))


class ProxyAccess(AuthCase):
    """A proxy with a key of its own in front of a server with the servers'
    key: clients show the proxy's token, the proxy the server's."""

    def setUp(self) -> None:
        super().setUp()
        self.server = self.serve()
        self.proxy_key = os.urandom(32)
        key_file = write(os.path.join(self.tmp, "proxy.key"), self.proxy_key.hex())
        self.proxy = self.daemon(h.start_proxy(
            [self.server.address], log_dir=self.tmp,
            extra=["--access-key-file", key_file,
                   "--access-token", self.valid_token("/")]))

    def curl(self, url_tail: str, *args: str) -> tuple[int, str]:
        """(status, body path) of a curl GET of http://proxy/url_tail."""
        out = os.path.join(self.tmp, f"curl-{len(os.listdir(self.tmp))}")
        r = h.run_cmd(["curl", "-sS", "--max-time", "60", "-o", out, "-w", "%{http_code}",
                       *args, f"http://{self.proxy.address}/{url_tail}"], timeout=70)
        self.assertEqual(r.returncode, 0, r.stderr)
        return int(r.stdout), out

    def assert_403(self, url_tail: str, why: str, *args: str) -> None:
        status, out = self.curl(url_tail, *args)
        with open(out, "rb") as f:
            body = f.read().decode(errors="replace")
        self.assertEqual(status, 403, body)
        self.assertIn(why, body)

    def test_403_without_a_good_token_200_and_the_same_bytes_with_one(self) -> None:
        now = int(time.time())
        good = make_token(self.proxy_key, NAME, now + 600)
        self.assert_403(NAME, "no access token")
        self.assert_403(f"{NAME}?token={good[:-3]}AAA", "bad signature")
        self.assert_403(f"{NAME}?token={make_token(self.key, NAME, now + 600)}",
                        "bad signature")  # the servers' key, not the proxy's
        self.assert_403(f"{NAME}?token={make_token(self.proxy_key, NAME, now - 5)}",
                        "access token expired")
        self.assert_403(f"{OTHER}?token={good}", f"access token is for '{NAME}', not '{OTHER}'")
        self.assert_403(NAME, "no access token", "-H", f"Authorization: Basic {good}")
        status, out = self.curl(f"{NAME}?token={good}")
        self.assertEqual(status, 200)
        self.assertEqual(h.sha256_file(out), self.digest)
        status, out = self.curl(NAME, "-H", f"Authorization: Bearer {good}")
        self.assertEqual(status, 200)
        self.assertEqual(h.sha256_file(out), self.digest)
        self.assertTrue(self.proxy.alive(), self.proxy.stderr_text())
        self.assertNotIn(good, self.proxy.stderr_text(), "the proxy logged a token")


class RegistrationTokens(DirectorCase):
    """A director with --register-tokens: GOOD (its own address only) and
    NAT (any-address). Heartbeats of 10 s keep raw registrations alive."""

    SIZE = 16 * MB
    NAME = "pkg.bin"
    GOOD = "server-good-0123456789"
    NAT = "nat-gateway-0123456789abcdef"

    @classmethod
    def setUpClass(cls) -> None:
        cls.digest = h.class_root(cls, cls.NAME, cls.SIZE)
        with open(os.path.join(cls.root, cls.NAME), "rb") as f:
            cls.cid = bytes.fromhex(h.content_id(f.read()))

    def setUp(self) -> None:
        super().setUp()
        tokens = write(os.path.join(self.tmp, "tokens"),
                       f"# who may register\n{self.GOOD}\n{self.NAT} any-address\n")
        self.d = h.start_director(os.path.join(self.tmp, "catalog.db"), heartbeat_ms=10000,
                                  log_dir=self.tmp, extra=["--register-tokens", tokens])
        self.addCleanup(self.d.stop)

    def token_file(self, token: str) -> str:
        return write(os.path.join(self.tmp, f"{token}.token"), token + "\n")

    def registrar(self, source: str | None = None) -> h.RawConn:
        c = h.RawConn(self.d.port, source=source)
        self.addCleanup(c.close)
        c.hello(role=h.ROLE_SERVER)
        return c

    def register(self, c: h.RawConn, advertise: str, token: str | None) -> h.Frame:
        entries = [(self.NAME, self.SIZE, self.cid)]
        c.send_frame(h.REGISTER, h.register_body(advertise, entries, token=token))
        f = c.recv_frame()
        self.assertIsNotNone(f, "closed without an answer")
        return f

    def assert_refused(self, f: h.Frame, c: h.RawConn, code: int, why: str) -> None:
        self.assertEqual(f.type, h.ERROR, f"accepted: {f!r}")
        got, msg = h.parse_error(f.body)
        self.assertEqual(got, code, msg)
        self.assertIn(why, msg)
        self.assertTrue(c.wait_closed(), "not closed after a refused REGISTER")

    def director_get(self, out: str, stats: str | None = None):
        return h.run_cmd(self.director_get_args(self.NAME, self.d.address, out, stats=stats),
                         timeout=60)

    def test_only_registrations_with_a_valid_token_are_admitted(self) -> None:
        good = self.serve(self.root, self.d, rate="30mbit",
                          extra=["--director-token-file", self.token_file(self.GOOD)])
        self.wait_ls(self.d.address, lambda rows: self.servers_of(rows, self.NAME) == 1, 20,
                     "the server with a valid token registered")
        out = os.path.join(self.tmp, "during.bin")
        during = h.get_during(self, self.director_get_args(self.NAME, self.d.address, out),
                              out, self.tmp)

        c = self.registrar()
        self.assert_refused(self.register(c, "127.0.0.1:9", None), c, h.kForbidden,
                            "registration refused: no token")
        c = self.registrar()
        self.assert_refused(self.register(c, "127.0.0.1:9", "server-bad-0123456789"), c,
                            h.kForbidden, "registration refused: no valid token")
        # A real server with the wrong token says so and is not listed.
        bad = self.serve(self.root, self.d,
                         extra=["--director-token-file", self.token_file("server-bad-0123456789")])
        self.assertTrue(h.wait_until(lambda: "registration refused: no valid token"
                                     in bad.stderr_text(), 20), bad.stderr_text())

        h.check_get_during(self, during, self.digest)
        stats = os.path.join(self.tmp, "stats.json")
        r = self.director_get(os.path.join(self.tmp, "after.bin"), stats)
        self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace"))
        self.assertEqual(h.sha256_file(os.path.join(self.tmp, "after.bin")), self.digest)
        used = {s["address"] for s in self.load_stats(stats)["sources"]}
        self.assertEqual(used, {good.address})
        self.assertTrue(self.d.alive(), self.d.stderr_text())

    def test_a_relay_registers_only_with_a_valid_token(self) -> None:
        srv = self.serve(self.root, None)

        def relay(token: str) -> h.Server:
            r = h.start_relay([srv.address], log_dir=self.tmp, extra=[
                "--director", self.d.address, "--director-token-file", self.token_file(token)])
            self.addCleanup(r.stop)
            return r

        bad = relay("relay-bad-0123456789")
        self.assertTrue(h.wait_until(lambda: "registration refused: no valid token"
                                     in bad.stderr_text(), 20), bad.stderr_text())
        good = relay(self.GOOD)

        def relays() -> list[dict]:
            rows = self.try_ls(self.d.address) or []
            return [row for row in rows if "relay" in row]

        self.assertTrue(h.wait_until(lambda: relays() == [
            {"relay": good.address, "origins": [srv.address]}], 20), relays())

    def test_only_an_any_address_token_may_register_another_address(self) -> None:
        srv = self.serve(self.root, None)  # registers nowhere itself
        # From another machine, with a token for its own address only.
        c = self.registrar(OTHER_HOST)
        self.assert_refused(self.register(c, srv.address, self.GOOD), c, h.kBadState,
                            f"not an address of {OTHER_HOST}")
        # The same with an any-address token: admitted, and clients find it.
        c = self.registrar(OTHER_HOST)
        f = self.register(c, srv.address, self.NAT)
        self.assertEqual(f.type, h.REGISTERED, f)
        self.assertEqual(h.parse_registered(f.body)[0], 1)
        out = os.path.join(self.tmp, "out.bin")
        stats = os.path.join(self.tmp, "stats.json")
        r = self.director_get(out, stats)
        self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace"))
        self.assertEqual(h.sha256_file(out), self.digest)
        self.assertEqual([s["address"] for s in self.load_stats(stats)["sources"]],
                         [srv.address])

    def reload_tokens(self, text: str, logged: str) -> None:
        """Rewrites the director's token file, sends SIGHUP, waits for `logged`."""
        write(os.path.join(self.tmp, "tokens"), text)
        self.d.signal(signal.SIGHUP)
        self.assertTrue(h.wait_until(lambda: logged in self.d.stderr_text(), 10),
                        self.d.stderr_text())

    def test_sighup_rereads_the_token_file(self) -> None:
        """`systemctl reload`: a new token is admitted and a withdrawn one
        refused from then on; a broken file keeps the tokens in force."""
        fresh = "server-fresh-0123456789"
        c = self.registrar()
        self.assert_refused(self.register(c, "127.0.0.1:9", fresh), c, h.kForbidden,
                            "registration refused: no valid token")
        self.reload_tokens(f"{fresh}\n", "SIGHUP: 1 registration token(s)")
        self.assertEqual(self.register(self.registrar(), "127.0.0.1:9", fresh).type,
                         h.REGISTERED)
        c = self.registrar()
        self.assert_refused(self.register(c, "127.0.0.1:10", self.GOOD), c, h.kForbidden,
                            "registration refused: no valid token")

        self.reload_tokens("tooshort\n", "keeping the current tokens")
        self.assertEqual(self.register(self.registrar(), "127.0.0.1:11", fresh).type,
                         h.REGISTERED)
        self.assertTrue(self.d.alive(), self.d.stderr_text())

    def test_bad_token_files_are_usage_errors(self) -> None:
        short = write(os.path.join(self.tmp, "short"), "tooshort\n")
        r = h.run_braid(["director", "--listen", "127.0.0.1:0", "--db", ":memory:",
                         "--register-tokens", short], timeout=15)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn(b"line 1: a token is 16 to 256 printable characters", r.stderr)
        words = write(os.path.join(self.tmp, "words"), f"{self.GOOD} any-adress\n")
        r = h.run_braid(["director", "--listen", "127.0.0.1:0", "--db", ":memory:",
                         "--register-tokens", words], timeout=15)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn(b"unknown word 'any-adress'", r.stderr)
        r = h.run_braid(["serve", "--root", self.root, "--listen", "127.0.0.1:0",
                         "--discovery", "off", "--director-token-file",
                         self.token_file(self.GOOD)], timeout=15)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn(b"without a director", r.stderr)


if __name__ == "__main__":
    unittest.main()
