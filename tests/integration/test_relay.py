"""Integration tests: `braid relay` and `braid get --origin --via`.

A relay carries a client's connection to an allow-listed origin: HELLO
(role relay), ROUTE "host:port", ROUTED, and from then on every byte passes
both ways unchanged. `braid get --origin O --via R1 --via R2 [--via direct]`
makes each route a source of the pattern. Everything runs on 127.0.0.1 and
every wait is bounded.
"""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness as h  # noqa: E402

MB = 1_000_000
BS = h.DEFAULT_BLOCK_SIZE


class RelayCase(unittest.TestCase):
    """An 8 MB file (quick transfers) and a 40 MB one (for the kill test)."""

    SMALL = "small.bin"
    SMALL_SIZE = 8 * MB
    BIG = "big.bin"
    BIG_SIZE = 40 * MB

    @classmethod
    def setUpClass(cls) -> None:
        cls.small_digest = h.class_root(cls, cls.SMALL, cls.SMALL_SIZE)
        cls.big_digest = h.write_random_file(os.path.join(cls.root, cls.BIG), cls.BIG_SIZE)

    def setUp(self) -> None:
        h.braid_bin()
        self.tmp = h.make_temp_dir(self)
        self.out = os.path.join(self.tmp, "out.bin")
        self.stats = os.path.join(self.tmp, "stats.json")

    # -- processes

    def origin(self, rate: str | None = None) -> h.Server:
        srv = h.start_server(self.root, max_rate=rate, log_dir=self.tmp)
        self.addCleanup(srv.stop)
        return srv

    def relay(self, allow: list[str] | None) -> h.Server:
        r = h.start_relay(allow, log_dir=self.tmp)
        self.addCleanup(r.stop)
        return r

    # -- braid get

    def via_args(self, name: str, origin: str, vias: list[str], out: str | None = None,
                 stats: bool = True) -> list[str]:
        args = [h.braid_bin(), "get", name, "--origin", origin]
        for v in vias:
            args += ["--via", v]
        args += ["-o", out or self.out]
        if stats:
            args += ["--stats-json", self.stats]
        return args

    @staticmethod
    def route_addr(origin: h.Server, relay: h.Server | None) -> str:
        return origin.address if relay is None else f"{origin.address} via {relay.address}"

    def get_ok(self, name: str, origin: h.Server, relays: list[h.Server | None]) -> dict:
        """A get over `relays` (None: direct); checks output and stats; returns
        the sources by address."""
        vias = ["direct" if r is None else r.address for r in relays]
        r = h.run_cmd(self.via_args(name, origin.address, vias), timeout=60)
        err = r.stderr.decode(errors="replace")
        self.assertEqual(r.returncode, 0, err)
        size, digest = ((self.SMALL_SIZE, self.small_digest) if name == self.SMALL
                        else (self.BIG_SIZE, self.big_digest))
        self.assertEqual(h.sha256_file(self.out), digest)
        addrs = [self.route_addr(origin, x) for x in relays]
        st = h.check_stats(self, self.stats, name=name, size=size, block_size=BS,
                           sources=addrs)
        by = {s["address"]: s for s in st["sources"]}
        self.assertEqual(sorted(by), sorted(addrs), st)
        return by

    def no_output(self, out: str) -> None:
        for p in (out, out + ".braid-part", out + ".braid-state"):
            self.assertFalse(os.path.exists(p), f"{p} left behind by a failed get")

    # -- raw relay connections

    def routed(self, relay: h.Server, origin: str) -> h.RawConn:
        """A raw connection through `relay` to `origin`, after ROUTED."""
        c = h.connect(relay)
        self.addCleanup(c.close)
        hl = c.hello()
        self.assertEqual(hl["magic"], h.MAGIC)
        self.assertEqual(hl["role"], h.ROLE_RELAY, hl)
        c.send_frame(h.ROUTE, h.enc_str(origin))
        f = c.expect(h.ROUTED)
        self.assertEqual(f.body, b"")
        return c

    def relay_serves(self, relay: h.Server, origin: h.Server) -> None:
        """The relay lives and routes a fresh connection to the origin."""
        self.assertTrue(relay.alive(), f"relay died; stderr:\n{relay.stderr_text()[-3000:]}")
        c = self.routed(relay, origin.address)
        hl = c.hello()
        self.assertEqual(hl["role"], h.ROLE_SERVER, hl)
        self.assertEqual(c.ping(0xAB, b"through"), (0xAB, b"through"))
        c.close()


class RelayTransfers(RelayCase):

    def test_two_relays(self) -> None:
        o = self.origin()
        r1, r2 = self.relay([o.address]), self.relay([o.address])
        by = self.get_ok(self.SMALL, o, [r1, r2])
        for s in by.values():
            self.assertGreater(s["bytes"], 0, by)
            self.assertFalse(s["failed"], by)
        # Each relay really carried a route to the origin.
        for r in (r1, r2):
            self.assertIn(f"-> {o.address}", r.stderr_text())

    def test_sighup_keeps_routing(self) -> None:
        """`systemctl reload`: a relay has nothing to re-read; it says so and
        keeps carrying routes (it used to die of SIGHUP's default action)."""
        o = self.origin()
        r = self.relay([o.address])
        r.signal(signal.SIGHUP)
        self.assertTrue(h.wait_until(lambda: "SIGHUP: nothing to reload" in r.stderr_text(), 10),
                        r.stderr_text())
        self.relay_serves(r, o)
        self.get_ok(self.SMALL, o, [r])

    def test_three_relays_and_direct(self) -> None:
        o = self.origin()
        relays = [self.relay([o.address]) for _ in range(3)]
        by = self.get_ok(self.SMALL, o, relays + [None])
        self.assertEqual(len(by), 4, by)
        self.assertIn(o.address, by)
        for s in by.values():
            self.assertGreater(s["bytes"], 0, by)
            self.assertFalse(s["failed"], by)

    def test_relay_killed_mid_transfer(self) -> None:
        # 40 MB from an origin capped at 80 Mbit/s: about 4 s.
        o = self.origin(rate="80mbit")
        r1, r2 = self.relay([o.address]), self.relay([o.address])
        errf = open(os.path.join(self.tmp, "get.stderr"), "w+b")
        self.addCleanup(errf.close)
        trace = os.path.join(self.tmp, "trace.jsonl")
        args = self.via_args(self.BIG, o.address, [r1.address, r2.address]) + ["--trace", trace]
        proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=errf, cwd=h.scratch_dir())
        self.addCleanup(lambda: proc.poll() is None and (proc.kill(), proc.wait(10)))
        routes = [self.route_addr(o, r1), self.route_addr(o, r2)]
        h.wait_trace(trace, lambda rows: h.all_sent(rows, routes), 30,
                     "data over both routes", proc)
        self.assertIsNone(proc.poll(), "transfer ended before the relay was killed")
        r1.proc.send_signal(signal.SIGKILL)
        r1.wait(10)
        try:
            rc = proc.wait(timeout=60 * h.SLOW)
        except subprocess.TimeoutExpired:
            self.fail("get did not finish within 60 s after a relay died")
        errf.seek(0)
        err = errf.read().decode(errors="replace")
        self.assertEqual(rc, 0, err)
        self.assertEqual(h.sha256_file(self.out), self.big_digest)
        dead, alive = self.route_addr(o, r1), self.route_addr(o, r2)
        st = h.check_stats(self, self.stats, name=self.BIG, size=self.BIG_SIZE,
                           block_size=BS, sources=[dead, alive])
        by = {s["address"]: s for s in st["sources"]}
        self.assertTrue(by[dead]["failed"], st)
        self.assertTrue(by[dead]["error"], st)
        self.assertGreater(by[dead]["bytes"], 0, "the killed route carried nothing")
        self.assertFalse(by[alive]["failed"], st)
        self.assertGreater(by[alive]["bytes"], 0, st)
        self.assertGreater(by[alive]["bytes"], by[dead]["bytes"], st)
        self.assertTrue(o.alive())


class RelayRefusals(RelayCase):

    def test_allow_list(self) -> None:
        o = self.origin()
        none = self.relay(None)
        self.assertTrue(h.wait_until(lambda: "every route will be refused" in none.stderr_text(), 5),
                        none.stderr_text())
        other = self.relay([f"127.0.0.1:{h.closed_port()}"])
        for i, r in enumerate((none, other)):
            out = os.path.join(self.tmp, f"refused-{i}.bin")
            res = h.run_cmd(self.via_args(self.SMALL, o.address, [r.address], out=out,
                                          stats=False), timeout=30)
            err = res.stderr.decode(errors="replace")
            self.assertEqual(res.returncode, 6, err)  # refused
            lines = h.nonempty_lines(err)
            self.assertTrue(lines and "allow-list" in lines[-1], err)
            self.assertIn(r.address, lines[-1])
            self.no_output(out)
            self.assertTrue(r.alive())

        # Raw: HELLO + ROUTE to an origin not allowed: ERROR 10, then close.
        for r in (none, other):
            with h.connect(r) as c:
                self.assertEqual(c.hello()["role"], h.ROLE_RELAY)
                c.send_frame(h.ROUTE, h.enc_str(o.address))
                code, msg = c.expect_error()
                self.assertEqual(code, h.kForbiddenPath, msg)
                self.assertIn("allow-list", msg)
                self.assertTrue(c.wait_closed(5), "relay did not close after the ERROR")

        # Matched literally: "localhost:PORT" is not "127.0.0.1:PORT".
        ok = self.relay([o.address])
        with h.connect(ok) as c:
            c.hello()
            c.send_frame(h.ROUTE, h.enc_str(f"localhost:{o.port}"))
            code, msg = c.expect_error()
            self.assertEqual(code, h.kForbiddenPath, msg)

        # A refused route next to a good one is left out (like an unreachable
        # source, with a warning); the get succeeds over the good one.
        res = h.run_cmd(self.via_args(self.SMALL, o.address, [ok.address, none.address]),
                        timeout=30)
        err = res.stderr.decode(errors="replace")
        self.assertEqual(res.returncode, 0, err)
        self.assertEqual(h.sha256_file(self.out), self.small_digest)
        # Left out before the start, or failed after it (a file starts on
        # the first answer).
        refused = re.escape(self.route_addr(o, none))
        self.assertRegex(err, rf"leaving out source {refused}|source {refused} failed")
        st = h.check_stats(self, self.stats, name=self.SMALL, size=self.SMALL_SIZE,
                           block_size=BS, sources=[self.route_addr(o, ok)])
        self.assertEqual(st["sources"][0]["bytes"], self.SMALL_SIZE, st)

    def test_garbage(self) -> None:
        o = self.origin()
        r = self.relay([o.address])
        hello = h.frame(h.HELLO, h.hello_body())
        rng = random.Random(1234)
        # name -> (bytes, expected ERROR code, or None for "ERROR or close")
        cases = {
            "random bytes": (bytes(rng.randrange(256) for _ in range(200)), None),
            "http request": (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", h.kUnknownType),
            "unknown type": (h.frame(0x7F, b"abc"), h.kUnknownType),
            "unknown type after HELLO": (hello + h.frame(0x7F, b"abc"), h.kUnknownType),
            "oversized length": (h.header(0xFFFFFFF0, h.HELLO), h.kFrameTooLarge),
            "oversized ROUTE": (hello + h.header(100_000, h.ROUTE), h.kFrameTooLarge),
            "length 0": (h.u32(0) + h.u8(h.HELLO), h.kMalformed),
            "ROUTE before HELLO": (h.frame(h.ROUTE, h.enc_str(o.address)), h.kBadState),
            "DATA after HELLO": (hello + h.frame(h.DATA, h.u64(0) + h.u32(4) + b"abcd"),
                                 h.kBadState),
            "second HELLO": (hello + hello, h.kBadState),
            "ROUTED from the client": (hello + h.frame(h.ROUTED), h.kBadState),
            "origin no-port": (hello + h.frame(h.ROUTE, h.enc_str("no-port")), h.kMalformed),
            "origin host:99999": (hello + h.frame(h.ROUTE, h.enc_str("127.0.0.1:99999")),
                                  h.kMalformed),
            "origin empty": (hello + h.frame(h.ROUTE, h.enc_str("")), h.kMalformed),
            "ROUTE trailing bytes": (hello + h.frame(h.ROUTE, h.enc_str(o.address) + b"x"),
                                     h.kMalformed),
            "ROUTE str past end": (hello + h.frame(h.ROUTE, h.u16(40) + b"127.0.0.1"),
                                   h.kMalformed),
            "bad magic": (h.frame(h.HELLO, h.hello_body(magic=b"XXXX")), h.kBadMagic),
            "bad version": (h.frame(h.HELLO, h.hello_body(min_version=3, max_version=4)),
                            h.kBadVersion),
            "truncated frame": (hello + h.frame(h.ROUTE, h.enc_str(o.address))[:7], None),
        }
        for name, (data, want) in cases.items():
            with self.subTest(name), h.connect(r) as c:
                c.send_raw(data)
                if name == "truncated frame":
                    c.shutdown_write()
                got = []
                try:
                    while True:
                        f = c.recv_frame(5)
                        if f is None or f.type == h.ERROR:
                            got.append(f)
                            break
                        got.append(f)
                except h.Closed:
                    got.append(None)
                self.assertNotIn(h.ROUTED, [f.type for f in got if f is not None], got)
                # At most our HELLO answered before the ERROR.
                self.assertLessEqual(len(got), 2, got)
                if len(got) == 2:
                    self.assertEqual(got[0].type, h.HELLO, got)
                last = got[-1]
                if want is not None:
                    self.assertIsNotNone(last, f"{name}: closed without an ERROR")
                    self.assertEqual(h.parse_error(last.body)[0], want, got)
                self.assertTrue(c.wait_closed(5), f"{name}: relay did not close")
                self.assertTrue(r.alive(), f"relay died on {name}: {r.stderr_text()[-3000:]}")
        # Still serving: a raw route and a full transfer through it.
        self.relay_serves(r, o)
        by = self.get_ok(self.SMALL, o, [r])
        self.assertEqual(by[self.route_addr(o, r)]["bytes"], self.SMALL_SIZE)

    def test_origin_unreachable(self) -> None:
        closed = f"127.0.0.1:{h.closed_port()}"
        r = self.relay([closed])
        started = time.monotonic()
        res = h.run_cmd(self.via_args(self.SMALL, closed, [r.address], stats=False),
                        timeout=30)
        err = res.stderr.decode(errors="replace")
        self.assertEqual(res.returncode, 4, err)  # network
        self.assertLess(time.monotonic() - started, 15, "took too long to give up")
        lines = h.nonempty_lines(err)
        self.assertTrue(lines, "no error line")
        self.assertIn("error", lines[-1])
        self.assertIn(closed, lines[-1])
        self.assertIn(r.address, lines[-1])
        self.assertIn("unavailable", lines[-1])
        self.no_output(self.out)
        # Raw: ERROR kUnavailable, then close; the relay lives.
        with h.connect(r) as c:
            c.hello()
            c.send_frame(h.ROUTE, h.enc_str(closed))
            code, msg = c.expect_error()
            self.assertEqual(code, h.kUnavailable, msg)
            self.assertTrue(c.wait_closed(5))
        self.assertTrue(r.alive())

    def test_usage_errors(self) -> None:
        o = self.origin()
        r = self.relay([o.address])
        cases = [
            (["--via", r.address], "--origin"),
            (["--via", "direct"], "--origin"),
            (["--origin", o.address], "--via"),
            (["--origin", o.address, "--via", "not-an-address"], "--via"),
            (["--origin", "nonsense", "--via", r.address], "--origin"),
        ]
        for extra, word in cases:
            with self.subTest(extra=extra):
                out = os.path.join(self.tmp, "usage.bin")
                res = h.run_braid(["get", self.SMALL] + extra + ["-o", out], timeout=15)
                err = res.stderr.decode(errors="replace")
                self.assertEqual(res.returncode, 2, err)
                self.assertIn(word, err)
                self.no_output(out)
        self.assertNotIn("->", r.stderr_text(), "a usage error still opened a route")

    def test_handshake_timeout(self) -> None:
        # A client that connects and says nothing (or HELLO and then nothing)
        # is cut off with kTimeout after 10 s; others are served meanwhile.
        o = self.origin()
        r = self.relay([o.address])
        started = time.monotonic()
        with h.connect(r, timeout=20) as silent, h.connect(r, timeout=20) as half:
            half.hello()
            self.relay_serves(r, o)
            for c in (silent, half):
                got = c.error_or_close(15 - (time.monotonic() - started))
                self.assertIsNotNone(got, "closed without an ERROR")
                self.assertEqual(got[0], h.kTimeout, got)
                self.assertTrue(c.wait_closed(5))
        self.assertGreater(time.monotonic() - started, 9)
        self.relay_serves(r, o)

    def test_route_limit_per_peer(self) -> None:
        o = self.origin()
        r = self.relay([o.address])
        conns = [h.connect(r) for _ in range(16)]  # --max-routes-per-client
        try:
            # All 16 accepted and waiting in the handshake.
            for c in conns[:1]:
                self.assertEqual(c.hello()["role"], h.ROLE_RELAY)
            with h.connect(r) as c:
                got = c.error_or_close(5)
                self.assertIsNotNone(got, "17th route from one address: closed without ERROR")
                self.assertEqual(got[0], h.kLimit, got)
        finally:
            for c in conns:
                c.close()

        def serves() -> bool:
            with h.connect(r) as c:
                c.send_frame(h.HELLO, h.hello_body())
                f = c.recv_frame(5)
                return f is not None and f.type == h.HELLO

        self.assertTrue(h.wait_until(serves, 5, 0.1), "slots not given back after close")


class RelayPassThrough(RelayCase):

    def test_bytes_pass_unchanged(self) -> None:
        o = self.origin()
        r = self.relay([o.address])
        c = self.routed(r, o.address)
        hl = c.hello()
        self.assertEqual(hl["magic"], h.MAGIC)
        self.assertEqual(hl["role"], h.ROLE_SERVER, hl)
        payload = os.urandom(100 * 1000)
        self.assertEqual(c.ping(0x1122334455667788, payload), (0x1122334455667788, payload))
        # The origin's own answers come through: its listing and an OPEN.
        self.assertEqual(c.list(), {self.BIG: self.BIG_SIZE, self.SMALL: self.SMALL_SIZE})
        opened = c.open(self.SMALL, block_size=BS)
        self.assertEqual(opened["size"], self.SMALL_SIZE)

    def test_pipelined_handshake(self) -> None:
        # HELLO, ROUTE, the origin's HELLO and a PING in one write: the bytes
        # after ROUTE are read with the handshake and must still reach the origin.
        o = self.origin()
        r = self.relay([o.address])
        payload = os.urandom(100 * 1000)
        with h.connect(r) as c:
            c.send_raw(h.frame(h.HELLO, h.hello_body()) + h.frame(h.ROUTE, h.enc_str(o.address))
                       + h.frame(h.HELLO, h.hello_body())
                       + h.frame(h.PING, h.ping_body(99, payload)))
            self.assertEqual(h.parse_hello(c.expect(h.HELLO).body)["role"], h.ROLE_RELAY)
            c.expect(h.ROUTED)
            self.assertEqual(h.parse_hello(c.expect(h.HELLO).body)["role"], h.ROLE_SERVER)
            self.assertEqual(h.parse_pong(c.expect(h.PONG).body), (99, payload))

    def test_origin_close_closes_route(self) -> None:
        # Garbage to the origin through the relay: the origin's ERROR comes
        # back and the origin's close ends the route.
        o = self.origin()
        r = self.relay([o.address])
        c = self.routed(r, o.address)
        c.send_frame(h.ROUTE, h.enc_str(o.address))  # not HELLO: the origin refuses
        code, msg = c.expect_error()
        self.assertIn(code, (h.kBadState, h.kUnknownType), msg)
        self.assertTrue(c.wait_closed(5), "route stayed open after the origin closed")
        self.relay_serves(r, o)


if __name__ == "__main__":
    unittest.main()
