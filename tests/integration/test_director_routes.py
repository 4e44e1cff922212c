"""Integration tests: routes from the director (patent FIG. 11).

`braid relay --director D` registers the origins on its allow-list with the
director, with heartbeats and expiry as a server's registration has.
`braid get NAME --director D --routes` then opens, besides each holder
directly, one connection to it through every relay registered for it: each
route a source of the pattern. A relay that dies leaves the transfer, and
one that registers during it joins. `braid ls` lists the relays. Everything
runs on 127.0.0.1 and every wait is bounded.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness as h  # noqa: E402
from test_director import (REGISTER_TIMEOUT, REMOVE_TIMEOUT, DirectorCase,  # noqa: E402
                           DirectorTransferCase)

MB = 1_000_000
REGISTER_RELAY = 8


def lookup_body(name: str, flags: int) -> bytes:
    return h.u8(flags) + h.enc_str(name)


def parse_sources(body: bytes) -> tuple[list[str], list[tuple[str, str]], int | None]:
    """(servers, routes as (relay, origin), flags or None) of a SOURCES body."""
    r = h.Reader(body)
    r.str()
    servers = []
    for _ in range(r.u32()):
        servers.append(r.str())
        r.str(), r.u64(), r.take(32)
    routes: list[tuple[str, str]] = []
    flags = None
    if r.i < len(r.b):
        flags = r.u8()
        if flags & 2:
            for _ in range(r.u32()):
                routes.append((r.str(), r.str()))
    r.done()
    return servers, routes, flags


class RoutesCase(DirectorTransferCase):
    """A 30 MB file on one origin capped at 60 Mbit/s (about 4 s)."""

    SIZE = 30 * MB
    RATE = "60mbit"

    def relay(self, d: h.Server, origin: h.Server, allow: str | None = None) -> h.Server:
        r = h.start_relay([allow or origin.address], extra=["--director", d.address],
                          log_dir=self.tmp)
        self.addCleanup(r.stop)
        return r

    def relays_listed(self, rows: list[dict]) -> dict[str, list[str]]:
        return {row["relay"]: row["origins"] for row in rows if "relay" in row}

    def wait_relays(self, d: h.Server, want: dict[str, list[str]], timeout: float) -> None:
        self.wait_ls(d.address, lambda rows: self.relays_listed(rows) == want, timeout,
                     f"relays {want} listed")

    def director_and_origin(self) -> tuple[h.Server, h.Server]:
        d = self.director()
        o = self.serve(self.root, d, rate=self.RATE)
        self.wait_ls(d.address, lambda rows: self.servers_of(rows, self.NAME) == 1,
                     REGISTER_TIMEOUT, f"{self.NAME} registered")
        return d, o

    def origin_and_relays(self, n: int) -> tuple[h.Server, h.Server, list[h.Server]]:
        d, o = self.director_and_origin()
        relays = [self.relay(d, o) for _ in range(n)]
        self.wait_relays(d, {r.address: [o.address] for r in relays}, REGISTER_TIMEOUT)
        return d, o, relays

    @staticmethod
    def route(o: h.Server, r: h.Server) -> str:
        return f"{o.address} via {r.address}"

    def get_args(self, d: h.Server, routes: str = "--routes") -> list[str]:
        return self.director_get_args(self.NAME, d.address, self.out, stats=self.stats,
                                      extra=[routes, "--trace", self.trace])

    def routes_output(self, rc: int, err: str, addresses: list[str]) -> dict[str, dict]:
        return self.by_addr(self.check_output(rc, err, addresses))

    def assert_every_route_carries(self, r, o: h.Server, relays: list[h.Server]) -> None:
        """The get `r` took blocks from o directly and through each relay."""
        routes = [self.route(o, x) for x in relays]
        by = self.routes_output(r.returncode, r.stderr.decode(errors="replace"),
                               [o.address] + routes)
        for address in [o.address] + routes:
            self.assertGreater(by[address]["bytes"], 0, by)
            self.assertFalse(by[address]["failed"], by)


class DirectorRoutes(RoutesCase):

    def test_every_route_carries_blocks(self) -> None:
        d, o, relays = self.origin_and_relays(2)
        # `ls` in text says the same.
        r = h.run_braid(["ls", "--director", d.address], timeout=15)
        self.assertEqual(r.returncode, 0, r.stderr)
        for relay in relays:
            self.assertIn(f"relay {relay.address} -> {o.address}", r.stdout.decode())
        # One holder: routes without asking (only --no-routes leaves them).
        r = h.run_cmd(self.get_args(d, "--quiet"), timeout=60)
        self.assert_every_route_carries(r, o, relays)
        os.unlink(self.out)
        r = h.run_cmd(self.get_args(d, "--no-routes"), timeout=60)
        self.assertEqual(list(self.routes_output(r.returncode, r.stderr.decode(errors="replace"),
                                                 [o.address])), [o.address])

    def test_a_relay_killed_leaves_and_one_registering_joins(self) -> None:
        d, o, (r1, r2) = self.origin_and_relays(2)
        bg = h.BackgroundGet(self.get_args(d), self.tmp)
        self.addCleanup(bg.kill)
        first = [o.address, self.route(o, r1), self.route(o, r2)]
        h.wait_trace(self.trace, lambda rows: h.all_sent(rows, first), 30,
                     "data over all three routes", bg.proc)
        self.assertIsNone(bg.proc.poll(), f"transfer ended before the events: {bg.stderr()}")
        r1.kill()
        r3 = self.relay(d, o)
        third = self.route(o, r3)
        h.wait_trace(self.trace, lambda rows: h.sent_by(rows, third), 30,
                     "data over the relay that registered mid-transfer", bg.proc)
        rc = bg.wait(60)
        by = self.routes_output(rc, bg.stderr(), first + [third])
        self.assertTrue(by[self.route(o, r1)]["failed"], by)
        self.assertTrue(by[third]["joined"], by)
        self.assertGreater(by[third]["bytes"], 0, by)
        self.assertFalse(by[self.route(o, r2)]["failed"], by)
        # The killed relay's registration went with its connection.
        self.wait_relays(d, {r2.address: [o.address], r3.address: [o.address]},
                         REMOVE_TIMEOUT)


class RoutesByAnyName(RoutesCase):
    """A director names holders by IP; relays may allow an origin by a name
    or another spelling of its IP and still be routes to it."""

    def test_an_origin_allowed_by_name_or_spelled_otherwise_is_a_route(self) -> None:
        d, o = self.director_and_origin()
        port = o.address.rsplit(":", 1)[1]
        relays = [self.relay(d, o, allow) for allow in (f"localhost:{port}", f"127.1:{port}")]
        self.wait_ls(d.address,
                     lambda rows: all(o.address in self.relays_listed(rows).get(r.address, [])
                                      for r in relays),
                     REGISTER_TIMEOUT, f"both relays listed for {o.address}")
        r = h.run_cmd(self.get_args(d), timeout=60)
        self.assert_every_route_carries(r, o, relays)


class RelayRegistrations(DirectorCase):
    """Relay registrations over raw sockets: what is refused, and what a
    LOOKUP with and without the routes flag answers."""

    CID = bytes(range(32))

    def conn(self, d: h.Server, role: int = h.ROLE_CLIENT) -> h.RawConn:
        c = h.connect(d.port)
        self.addCleanup(c.close)
        c.hello(role=role)
        return c

    def refused(self, c: h.RawConn, code: int, what: str) -> None:
        got, msg = c.expect_error()
        self.assertEqual(got, code, f"{what}: ERROR {got} {msg!r}")
        self.assertTrue(c.wait_closed(), f"{what}: connection not closed after ERROR")

    def test_bad_relay_registrations_are_refused(self) -> None:
        d = self.director()
        both = h.REGISTER_FIRST | h.REGISTER_LAST | REGISTER_RELAY
        cases = [
            ("origin without a port", h.kMalformed,
             [h.register_body("127.0.0.1:9", [("nonsense", 0, bytes(32))], flags=both)]),
            ("origin with a newline (a line of the etcd store's table)", h.kMalformed,
             [h.register_body("127.0.0.1:9", [("a\n5 00 x.bin\nb:1", 0, bytes(32))],
                              flags=both)]),
            ("a stream name with a control byte", h.kMalformed,
             [h.register_body("127.0.0.1:9", [("a\x01b.bin", 5, self.CID)])]),
            ("origin too long", h.kMalformed,
             [h.register_body("127.0.0.1:9", [("a" * 400 + ":1", 0, bytes(32))], flags=both)]),
            ("origin twice", h.kMalformed,
             [h.register_body("127.0.0.1:9", [("127.0.0.1:1", 0, bytes(32))] * 2, flags=both)]),
            ("too many origins", h.kLimit,
             [h.register_body("127.0.0.1:9", [(f"127.0.0.1:{i}", 0, bytes(32))
                                              for i in range(1, 1100)], flags=both)]),
            ("a server's part after a relay's first part", h.kBadState,
             [h.register_body("127.0.0.1:9", [("127.0.0.1:1", 0, bytes(32))],
                              flags=h.REGISTER_FIRST | REGISTER_RELAY),
              h.register_body("127.0.0.1:9", [("x.bin", 1, self.CID)], flags=h.REGISTER_LAST)]),
            ("another machine's address", h.kBadState,
             [h.register_body("10.1.2.3:9", [("127.0.0.1:1", 0, bytes(32))], flags=both)]),
        ]
        for what, code, bodies in cases:
            with self.subTest(what):
                c = self.conn(d, h.ROLE_SERVER)
                for b in bodies:
                    c.send_frame(h.REGISTER, b)
                self.refused(c, code, what)
        self.assertEqual(self.relays(d), {})
        self.assertTrue(d.alive(), d.stderr_text())

    def relays(self, d: h.Server) -> dict[str, list[str]]:
        r = h.run_braid(["ls", "--director", d.address, "--json"], timeout=15)
        self.assertEqual(r.returncode, 0, r.stderr)
        return {row["relay"]: row["origins"] for row in json.loads(r.stdout) if "relay" in row}

    def test_routes_only_when_asked_and_only_to_holders(self) -> None:
        d = self.director()
        server = self.conn(d, h.ROLE_SERVER)
        server.send_frame(h.REGISTER, h.register_body("127.0.0.1:9", [("x.bin", 5, self.CID)]))
        server.expect(h.REGISTERED)
        relay = self.conn(d, h.ROLE_RELAY)
        both = h.REGISTER_FIRST | h.REGISTER_LAST | REGISTER_RELAY
        relay.send_frame(h.REGISTER, h.register_body(
            "127.0.0.1:10", [("127.0.0.1:9", 0, bytes(32)), ("127.0.0.1:11", 0, bytes(32))],
            flags=both))
        self.assertEqual(h.parse_registered(relay.expect(h.REGISTERED).body)[0], 2)
        client = self.conn(d)
        client.send_frame(h.LOOKUP, lookup_body("x.bin", 0))
        self.assertEqual(parse_sources(client.expect(h.SOURCES).body), (["127.0.0.1:9"], [], None))
        routed = (["127.0.0.1:9"], [("127.0.0.1:10", "127.0.0.1:9")], 2)
        client.send_frame(h.LOOKUP, lookup_body("x.bin", 2))
        self.assertEqual(parse_sources(client.expect(h.SOURCES).body), routed)
        # Bit 2: routes only while two servers or fewer hold the name.
        client.send_frame(h.LOOKUP, lookup_body("x.bin", 4))
        self.assertEqual(parse_sources(client.expect(h.SOURCES).body), routed)
        others = [self.conn(d, h.ROLE_SERVER) for _ in range(2)]
        for i, c in enumerate(others):
            c.send_frame(h.REGISTER, h.register_body(f"127.0.0.1:{20 + i}",
                                                     [("x.bin", 5, self.CID)]))
            c.expect(h.REGISTERED)
        client.send_frame(h.LOOKUP, lookup_body("x.bin", 4))
        self.assertEqual(parse_sources(client.expect(h.SOURCES).body)[1:], ([], None))
        client.send_frame(h.LOOKUP, lookup_body("x.bin", 2))
        self.assertEqual(len(parse_sources(client.expect(h.SOURCES).body)[1]), 1)
        for c in others:
            c.close()

        def alone() -> bool:
            client.send_frame(h.LOOKUP, lookup_body("x.bin", 0))
            return parse_sources(client.expect(h.SOURCES).body)[0] == ["127.0.0.1:9"]

        self.assertTrue(h.wait_until(alone, REMOVE_TIMEOUT, 0.1), "the other servers left")
        # A stream registered under a route's content id is no relay, and a
        # look-up of it names no route entry.
        fake = self.conn(d, h.ROLE_SERVER)
        route_id = hashlib.sha256(b"braid route 127.0.0.1:9").digest()
        fake.send_frame(h.REGISTER, h.register_body("127.0.0.1:30", [("fake.bin", 5, route_id)]))
        fake.expect(h.REGISTERED)
        client.send_frame(h.LOOKUP, lookup_body("x.bin", 2))
        self.assertEqual(parse_sources(client.expect(h.SOURCES).body), routed)
        client.send_frame(h.LOOKUP, lookup_body("fake.bin", 0))
        self.assertEqual(parse_sources(client.expect(h.SOURCES).body), (["127.0.0.1:30"], [], None))
        # A route is no stream: its name cannot be looked up, nor is it listed.
        client.send_frame(h.LOOKUP, lookup_body("/route/127.0.0.1:9", 0))
        self.assertEqual(client.expect_error()[0], h.kForbiddenPath)
        rows = self.try_ls(d.address)
        self.assertEqual([r["name"] for r in rows if "name" in r], ["fake.bin", "x.bin"])
        self.assertEqual(self.relays(d), {"127.0.0.1:10": ["127.0.0.1:11", "127.0.0.1:9"]})
        # A subscriber hears of the relay leaving.
        sub = self.conn(d)
        sub.send_frame(h.LOOKUP, lookup_body("x.bin", 3))
        self.assertEqual(parse_sources(sub.expect(h.SOURCES).body)[1],
                         [("127.0.0.1:10", "127.0.0.1:9")])
        relay.close()
        self.assertEqual(parse_sources(sub.expect(h.SOURCES, timeout=REMOVE_TIMEOUT).body),
                         (["127.0.0.1:9"], [], None))


class OlderDirector(h.FakeSource):
    """A director from before routes: LOOKUP flags above 1 and a LIST with a
    flags byte are refused (kMalformed, as its decoder did), then closed;
    plain ones are answered with `holder` (or an empty catalog)."""

    def __init__(self, holder: str, size: int, cid: bytes):
        self.holder, self.size, self.cid = holder, size, cid
        self.refused = 0
        super().__init__(connections=10)

    def answer(self, ftype: int, body: bytes) -> bytes:
        if ftype == h.HELLO:
            return h.frame(h.HELLO, h.hello_body(role=h.ROLE_DIRECTOR))
        if ftype == h.LOOKUP and body[0] <= 1:
            name = h.Reader(body[1:]).str()
            return h.frame(h.SOURCES, h.enc_str(name) + h.u32(1) + h.enc_str(self.holder) +
                           h.enc_str(name) + h.u64(self.size) + self.cid)
        plain_list = not body or len(body) == 2 + int.from_bytes(body[:2], "big")
        if ftype == h.LIST and plain_list:
            return h.frame(h.CATALOG, h.u8(1) + h.u32(0))
        self.refused += 1
        self.hang_up = True
        return h.frame(h.ERROR, h.error_body(h.kMalformed, "bad field"))


class WithAnOlderDirector(RoutesCase):
    def test_get_and_ls_ask_again_without_routes(self) -> None:
        o = self.serve(self.root, None, rate="400mbit")
        d = OlderDirector(o.address, self.SIZE, bytes.fromhex(self.cid))
        self.addCleanup(d.close)
        r = h.run_cmd(self.director_get_args(self.NAME, d.address, self.out,
                                             stats=self.stats), timeout=60)
        by = self.routes_output(r.returncode, r.stderr.decode(errors="replace"), [o.address])
        self.assertEqual(list(by), [o.address])
        self.assertIn("predates routes", r.stderr.decode())
        r = h.run_braid(["ls", "--director", d.address], timeout=15)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(d.refused, 2)  # the LOOKUP, the LIST


if __name__ == "__main__":
    unittest.main()
