"""Integration tests: the director, registration, `braid ls`, `get --director`
and `get --discover`.

A director keeps a SQLite catalog of which server holds which content;
servers register (again when their root changes) and send heartbeats; a
client asks the director who holds a name, subscribes, and takes in servers
that appear during the transfer and drops the ones the director removes.
Everything runs on 127.0.0.1; discovery broadcasts on 127.255.255.255 to a
random UDP port.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness as h  # noqa: E402

MB = 1_000_000
BS = h.DEFAULT_BLOCK_SIZE
# Bounds on things that should take well under a second.
REGISTER_TIMEOUT = 10.0
REMOVE_TIMEOUT = 5.0


def read_cid(path: str) -> str:
    with open(path, "rb") as f:
        return h.content_id(f.read())


class DirectorCase(unittest.TestCase):
    """Per-test temp dir; directors and servers stopped by the test's cleanup."""

    def setUp(self) -> None:
        h.braid_bin()
        self.tmp = h.make_temp_dir(self)

    # -- processes

    def director(self, *, db: str | None = None, heartbeat_ms: int | None = None,
                 listen: str = "127.0.0.1:0") -> h.Server:
        if db is None:
            db = os.path.join(self.tmp, "catalog.db")
        d = h.start_director(db, heartbeat_ms=heartbeat_ms, listen=listen, log_dir=self.tmp)
        self.addCleanup(d.stop)
        return d

    def serve(self, root: str, director: h.Server | None, *, rate: str | None = None,
              extra: list[str] | None = None) -> h.Server:
        args = list(extra or [])
        if director is not None:
            args += ["--director", director.address]
        srv = h.start_server(root, max_rate=rate, extra=args, log_dir=self.tmp)
        self.addCleanup(srv.stop)
        return srv

    def freeze(self, srv: h.Server) -> None:
        """SIGSTOP; the cleanup (run before the stop cleanup) sends SIGCONT."""
        srv.signal(signal.SIGSTOP)
        self.addCleanup(lambda: srv.alive() and srv.signal(signal.SIGCONT))

    # -- braid ls

    def try_ls(self, address: str) -> list[dict] | None:
        r = h.run_braid(["ls", "--director", address, "--json"], timeout=15)
        if r.returncode != 0:
            self.last_ls_error = r.stderr.decode(errors="replace")
            return None
        return json.loads(r.stdout)

    def ls(self, address: str) -> list[dict]:
        r = h.run_braid(["ls", "--director", address, "--json"], timeout=15)
        self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace"))
        rows = json.loads(r.stdout)
        self.assertIsInstance(rows, list)
        for row in rows:
            self.assertEqual(set(row), {"name", "size", "content_id", "servers"}, row)
        return rows

    def wait_ls(self, address: str, pred, timeout: float, what: str) -> list[dict]:
        """Polls `braid ls` until pred(rows) holds; fails with the last rows."""
        self.last_ls_error = ""
        last: list = [None]

        def check() -> bool:
            last[0] = self.try_ls(address)
            return last[0] is not None and bool(pred(last[0]))

        if not h.wait_until(check, timeout, interval=0.1):
            self.fail(f"within {timeout}s: {what}; last ls: {last[0]} "
                      f"{self.last_ls_error}")
        return last[0]

    @staticmethod
    def rows(rows: list[dict], name: str) -> list[dict]:
        return [r for r in rows if r.get("name") == name]

    @classmethod
    def servers_of(cls, rows: list[dict], name: str) -> int:
        """The servers count of the single row named `name`, 0 if none."""
        named = cls.rows(rows, name)
        return named[0]["servers"] if len(named) == 1 else 0

    # -- braid get

    def director_get_args(self, name: str, director: str, out: str, *,
                          stats: str | None = None, extra: list[str] | None = None):
        return h.get_args(name, [], out, stats=stats,
                          extra=["--director", director] + list(extra or []))

    def load_stats(self, path: str) -> dict:
        with open(path) as f:
            return json.load(f)

    def no_output(self, out: str) -> None:
        for p in (out, out + ".braid-part", out + ".braid-state"):
            self.assertFalse(os.path.exists(p), f"{p} left behind by a failed get")


class DirectorTransferCase(DirectorCase):
    """A 60 MB file on three servers capped at 40 mbit/s each (about 4 s);
    helpers only (also for test_director_etcd)."""

    SIZE = 60 * MB
    NAME = "big.bin"
    RATE = "40mbit"

    @classmethod
    def setUpClass(cls) -> None:
        cls.digest = h.class_root(cls, cls.NAME, cls.SIZE)
        cls.cid = read_cid(os.path.join(cls.root, cls.NAME))

    def setUp(self) -> None:
        super().setUp()
        self.out = os.path.join(self.tmp, "out.bin")
        self.stats = os.path.join(self.tmp, "stats.json")
        self.trace = os.path.join(self.tmp, "trace.jsonl")

    def three(self, **kw) -> tuple[h.Server, list[h.Server]]:
        d = self.director(**kw)
        servers = [self.serve(self.root, d, rate=self.RATE) for _ in range(3)]
        self.wait_ls(d.address, lambda rows: self.servers_of(rows, self.NAME) == 3,
                     REGISTER_TIMEOUT, f"{self.NAME} registered by 3 servers")
        return d, servers

    def get_with_event(self, director: str, servers: list[h.Server], event) -> tuple[int, str]:
        """Runs `get --director` in the background, calls event() once the
        trace shows data from every one of `servers` (about 0.5 s into a 4 s
        transfer, which must still be running), waits for the end."""
        bg = h.BackgroundGet(self.director_get_args(
            self.NAME, director, self.out, stats=self.stats, extra=["--trace", self.trace]),
            self.tmp)
        self.addCleanup(bg.kill)
        addresses = [s.address for s in servers]
        h.wait_trace(self.trace, lambda rows: h.all_sent(rows, addresses), 30,
                     "data from every server", bg.proc)
        self.assertIsNone(bg.proc.poll(), f"transfer ended before the event: {bg.stderr()}")
        event()
        self.assertIsNone(bg.proc.poll(), f"transfer ended during the event: {bg.stderr()}")
        rc = bg.wait(60)
        return rc, bg.stderr()

    def check_output(self, rc: int, err: str, addresses: list[str]) -> dict:
        self.assertEqual(rc, 0, err)
        self.assertEqual(h.sha256_file(self.out), self.digest)
        st = h.check_stats(self, self.stats, name=self.NAME, size=self.SIZE, block_size=BS,
                           sources=addresses)
        self.assertEqual(st["content_id"], self.cid)
        return st

    def by_addr(self, st: dict) -> dict[str, dict]:
        return {s["address"]: s for s in st["sources"]}


class DirectorTransfers(DirectorTransferCase):
    """Transfers by name through one director (SQLite)."""

    def test_ls_and_get_from_three_servers(self) -> None:
        d, servers = self.three()
        rows = self.rows(self.ls(d.address), self.NAME)
        self.assertEqual(rows, [{"name": self.NAME, "size": self.SIZE, "content_id": self.cid,
                                 "servers": 3}])
        for s in servers:
            self.assertIn(f"registered 1 stream(s) as {s.address} with director {d.address}",
                          s.stderr_text())
        # One server's own listing.
        r = h.run_braid(["ls", "--source", servers[0].address, "--json"], timeout=15)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout), [{"name": self.NAME, "size": self.SIZE}])

        r = h.run_cmd(self.director_get_args(self.NAME, d.address, self.out, stats=self.stats),
                      timeout=60)
        st = self.check_output(r.returncode, r.stderr.decode(errors="replace"),
                               [s.address for s in servers])
        self.assertEqual(sorted(self.by_addr(st)), sorted(s.address for s in servers))
        for s in st["sources"]:
            self.assertGreater(s["bytes"], 0, st)
            self.assertFalse(s["failed"], st)
            self.assertFalse(s["joined"], st)

    def test_server_joins_mid_transfer(self) -> None:
        d, servers = self.three()
        root4 = os.path.join(self.tmp, "root4")
        os.makedirs(root4)
        shutil.copy(os.path.join(self.root, self.NAME), os.path.join(root4, self.NAME))
        fourth: list[h.Server] = []
        rc, err = self.get_with_event(
            d.address, servers, lambda: fourth.append(self.serve(root4, d, rate=self.RATE)))
        st = self.check_output(rc, err, [s.address for s in servers + fourth])
        srcs = self.by_addr(st)
        self.assertIn(fourth[0].address, srcs, st)
        joiner = srcs[fourth[0].address]
        self.assertTrue(joiner["joined"], st)
        self.assertGreater(joiner["bytes"], 0, st)
        self.assertFalse(joiner["failed"], st)
        for s in servers:
            self.assertFalse(srcs[s.address]["joined"], st)
            self.assertGreater(srcs[s.address]["bytes"], 0, st)
        with open(self.trace) as f:
            joined = [json.loads(ln) for ln in f if '"joined"' in ln]
        self.assertEqual([(j["kind"], j["address"]) for j in joined],
                         [("joined", fourth[0].address)])

    def test_killed_server_is_removed(self) -> None:
        d, servers = self.three()
        victim = servers[1]
        rc, err = self.get_with_event(d.address, servers, victim.kill)
        # The registration connection closed with the process: removed.
        self.wait_ls(d.address, lambda rows: self.servers_of(rows, self.NAME) == 2,
                     REMOVE_TIMEOUT, "the killed server removed from the catalog")
        st = self.check_output(rc, err, [s.address for s in servers])
        srcs = self.by_addr(st)
        self.assertTrue(srcs[victim.address]["failed"], st)
        for s in (servers[0], servers[2]):
            self.assertFalse(srcs[s.address]["failed"], st)

    def test_director_restart_mid_transfer(self) -> None:
        db = os.path.join(self.tmp, "restart.db")
        d, servers = self.three(db=db)
        port = d.port
        before = [s.stderr_text().count("registered 1 stream(s)") for s in servers]
        restarted: list[h.Server] = []
        first_ls: list[list[dict]] = []

        def restart() -> None:
            d.kill()  # SIGKILL: no chance to tidy up
            restarted.append(self.director(db=db, listen=f"127.0.0.1:{port}"))
            # At once, before the servers' reconnect back-off (200 ms) ends:
            # the catalog comes from the database.
            first_ls.append(self.ls(restarted[0].address))

        rc, err = self.get_with_event(d.address, servers, restart)
        d2 = restarted[0]
        self.assertEqual(d2.port, port)
        self.assertEqual(self.rows(first_ls[0], self.NAME),
                         [{"name": self.NAME, "size": self.SIZE, "content_id": self.cid,
                           "servers": 3}])
        st = self.check_output(rc, err, [s.address for s in servers])
        for s in st["sources"]:
            self.assertFalse(s["failed"], f"a director restart must not drop sources: {st}")
        # Every server registered again with the new director.
        ok = h.wait_until(
            lambda: all(s.stderr_text().count("registered 1 stream(s)") > n
                        for s, n in zip(servers, before)), REGISTER_TIMEOUT, 0.1)
        self.assertTrue(ok, "servers did not register again after the restart:\n" +
                        "\n".join(s.stderr_text()[-1500:] for s in servers))
        self.assertEqual(self.servers_of(self.ls(d2.address), self.NAME), 3)


class DirectorCatalog(DirectorCase):
    """Small files: persistence, expiry, inotify, conflicts, errors."""

    def small_root(self, name: str, files: dict[str, int]) -> tuple[str, dict[str, str]]:
        """A root with random files; returns (root, name -> sha256)."""
        root = os.path.join(self.tmp, name)
        os.makedirs(root)
        return root, {n: h.write_random_file(os.path.join(root, n), size)
                      for n, size in files.items()}

    def test_catalog_survives_restart_without_servers(self) -> None:
        db = os.path.join(self.tmp, "persist.db")
        root, _ = self.small_root("root", {"keep.bin": 3 * MB})
        cid = read_cid(os.path.join(root, "keep.bin"))
        # Heartbeats every 200 ms (600 ms sanitized: under load a sanitized
        # server's were late and it expired before the restart, once).
        beat = int(200 * h.SLOW)
        d = self.director(db=db, heartbeat_ms=beat)
        srv = self.serve(root, d)
        self.wait_ls(d.address, lambda rows: self.servers_of(rows, "keep.bin") == 1,
                     REGISTER_TIMEOUT, "keep.bin registered")
        self.assertEqual(d.stop(), 0, d.stderr_text())
        srv.kill()  # never comes back
        d2 = self.director(db=db, heartbeat_ms=beat)
        self.assertEqual(self.ls(d2.address),
                         [{"name": "keep.bin", "size": 3 * MB, "content_id": cid, "servers": 1}])
        # A server from before the restart gets 10 s plus one expiry period
        # to come back; this one never does.
        self.wait_ls(d2.address, lambda rows: not rows, 10 + REMOVE_TIMEOUT,
                     "the server that never came back expired")

    def test_silent_server_expires_and_comes_back(self) -> None:
        # The heartbeat period scales with the build's speed (1.2 s under
        # sanitizers): a live server slowed by a busy machine (etcd members
        # starting in a parallel test) must not miss 3 of them.
        period = 0.4 * h.SLOW
        root, _ = self.small_root("root", {"hb.bin": 2 * MB})
        d = self.director(heartbeat_ms=int(period * 1000))
        a = self.serve(root, d)
        b = self.serve(root, d)
        self.wait_ls(d.address, lambda rows: self.servers_of(rows, "hb.bin") == 2,
                     REGISTER_TIMEOUT, "hb.bin registered by 2 servers")
        # Still there after several heartbeat periods while both are alive.
        time.sleep(5 * period)
        self.assertEqual(self.servers_of(self.ls(d.address), "hb.bin"), 2)
        self.freeze(b)
        t0 = time.monotonic()
        self.wait_ls(d.address, lambda rows: self.servers_of(rows, "hb.bin") == 1,
                     REMOVE_TIMEOUT + 3 * period, "the frozen server expired (3 heartbeats)")
        # Silent for 3 heartbeats, not 1 (the last PING may be 1 period old).
        self.assertGreaterEqual(time.monotonic() - t0, 1.5 * period,
                                "removed before 3 heartbeats")
        b.signal(signal.SIGCONT)
        self.wait_ls(d.address, lambda rows: self.servers_of(rows, "hb.bin") == 2,
                     REGISTER_TIMEOUT, "the resumed server registered again")
        self.assertTrue(a.alive() and b.alive())

    def test_root_changes_are_registered(self) -> None:
        root, _ = self.small_root("root", {"seed.bin": 100_000})
        d = self.director()
        self.serve(root, d)
        self.wait_ls(d.address, lambda rows: self.servers_of(rows, "seed.bin") == 1,
                     REGISTER_TIMEOUT, "seed.bin registered")
        src = os.path.join(self.tmp, "new.bin")
        h.write_random_file(src, 2 * MB)
        cid = read_cid(src)
        shutil.copy(src, os.path.join(root, "new.bin"))
        rows = self.wait_ls(d.address, lambda rows: self.servers_of(rows, "new.bin") == 1,
                            REGISTER_TIMEOUT, "new.bin appears after being copied in")
        self.assertEqual(self.rows(rows, "new.bin"),
                         [{"name": "new.bin", "size": 2 * MB, "content_id": cid, "servers": 1}])
        # Rewritten in place: the new content id replaces the old one.
        h.write_random_file(os.path.join(root, "new.bin"), 1 * MB)
        cid2 = read_cid(os.path.join(root, "new.bin"))
        rows = self.wait_ls(
            d.address, lambda rows: [r["content_id"] for r in self.rows(rows, "new.bin")] == [cid2],
            REGISTER_TIMEOUT, "the rewritten new.bin registered with its new content id")
        self.assertEqual(self.rows(rows, "new.bin")[0]["size"], 1 * MB)
        os.remove(os.path.join(root, "new.bin"))
        rows = self.wait_ls(d.address, lambda rows: not self.rows(rows, "new.bin"),
                            REGISTER_TIMEOUT, "new.bin disappears after being deleted")
        self.assertEqual(self.servers_of(rows, "seed.bin"), 1)

    def test_two_contents_under_one_name(self) -> None:
        root_a, dig_a = self.small_root("a", {"same.bin": 2 * MB})
        root_b, dig_b = self.small_root("b", {"same.bin": 2 * MB})
        cid_a = read_cid(os.path.join(root_a, "same.bin"))
        cid_b = read_cid(os.path.join(root_b, "same.bin"))
        d = self.director()
        self.serve(root_a, d)
        self.serve(root_b, d)
        rows = self.wait_ls(d.address, lambda rows: len(self.rows(rows, "same.bin")) == 2,
                            REGISTER_TIMEOUT, "two rows for same.bin")
        self.assertEqual(
            sorted((r["content_id"], r["servers"], r["size"]) for r in rows),
            sorted([(cid_a, 1, 2 * MB), (cid_b, 1, 2 * MB)]))

        out = os.path.join(self.tmp, "same.bin")
        r = h.run_cmd(self.director_get_args("same.bin", d.address, out), timeout=30)
        err = r.stderr.decode(errors="replace")
        self.assertEqual(r.returncode, 5, err)  # integrity: two contents, none chosen
        lines = h.nonempty_lines(err)
        self.assertTrue(lines and "--content-id" in lines[-1], err)
        self.assertIn(cid_a, lines[-1])
        self.assertIn(cid_b, lines[-1])
        self.no_output(out)

        stats = os.path.join(self.tmp, "stats.json")
        r = h.run_cmd(self.director_get_args("same.bin", d.address, out, stats=stats,
                                             extra=["--content-id", cid_b]), timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace"))
        self.assertEqual(h.sha256_file(out), dig_b["same.bin"])
        self.assertEqual(self.load_stats(stats)["content_id"], cid_b)

    def test_unknown_name_and_no_director(self) -> None:
        root, _ = self.small_root("root", {"here.bin": 100_000})
        d = self.director()
        self.serve(root, d)
        self.wait_ls(d.address, lambda rows: self.servers_of(rows, "here.bin") == 1,
                     REGISTER_TIMEOUT, "here.bin registered")
        out = os.path.join(self.tmp, "nope.bin")
        r = h.run_cmd(self.director_get_args("nope.bin", d.address, out), timeout=30)
        err = r.stderr.decode(errors="replace")
        self.assertEqual(r.returncode, 7, err)  # not found
        lines = h.nonempty_lines(err)
        self.assertTrue(lines and "error" in lines[-1] and "nope.bin" in lines[-1]
                        and "director" in lines[-1], err)
        self.no_output(out)

        closed = f"127.0.0.1:{h.closed_port()}"
        t0 = time.monotonic()
        r = h.run_cmd(self.director_get_args("here.bin", closed, out), timeout=30)
        err = r.stderr.decode(errors="replace")
        self.assertEqual(r.returncode, 4, err)  # network
        lines = h.nonempty_lines(err)
        self.assertTrue(lines and "error" in lines[-1] and closed in lines[-1], err)
        self.assertLess(time.monotonic() - t0, 15)
        self.no_output(out)
        r = h.run_braid(["ls", "--director", closed, "--json"], timeout=30)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(closed, r.stderr.decode(errors="replace"))


class BadRegistrations(DirectorCase):
    """Registrations that break the rules, over raw sockets."""

    CID = bytes(range(32))

    def setUp(self) -> None:
        super().setUp()
        self.d = self.director()

    def conn(self) -> h.RawConn:
        c = h.connect(self.d.port)
        self.addCleanup(c.close)
        return c

    def server_conn(self) -> h.RawConn:
        c = self.conn()
        hello = c.hello(role=h.ROLE_SERVER)
        self.assertEqual(hello["role"], h.ROLE_DIRECTOR)
        return c

    def assert_error_then_close(self, c: h.RawConn, code: int, what: str) -> None:
        f = c.recv_frame()
        self.assertIsNotNone(f, f"{what}: closed without an ERROR")
        self.assertEqual(f.type, h.ERROR, f"{what}: got {f!r}")
        got, msg = h.parse_error(f.body)
        self.assertEqual(got, code, f"{what}: ERROR {got} {msg!r}")
        self.assertTrue(c.wait_closed(), f"{what}: connection not closed after ERROR")

    def test_bad_registrations(self) -> None:
        ok_entry = ("ok.bin", 1000, self.CID)
        cases = [
            ("impossible size", h.kMalformed,
             [h.register_body("127.0.0.1:9", [("huge.bin", 2 ** 63, self.CID)])]),
            ("name ../x", h.kMalformed, [h.register_body("127.0.0.1:9", [("../x", 10, self.CID)])]),
            ("absolute name", h.kMalformed,
             [h.register_body("127.0.0.1:9", [("/etc/passwd", 10, self.CID)])]),
            ("empty name", h.kMalformed, [h.register_body("127.0.0.1:9", [("", 10, self.CID)])]),
            ("advertise without port", h.kMalformed, [h.register_body("nonsense", [ok_entry])]),
            ("advertise port out of range", h.kMalformed,
             [h.register_body("127.0.0.1:70000", [ok_entry])]),
            ("duplicate name", h.kMalformed,
             [h.register_body("127.0.0.1:9", [ok_entry, ("dup.bin", 5, self.CID),
                                              ("dup.bin", 5, self.CID)])]),
            ("duplicate name across parts", h.kMalformed,
             [h.register_body("127.0.0.1:9", [("dup.bin", 5, self.CID)], flags=h.REGISTER_FIRST),
              h.register_body("127.0.0.1:9", [("dup.bin", 5, self.CID)], flags=h.REGISTER_LAST)]),
            ("last part without a first part", h.kBadState,
             [h.register_body("127.0.0.1:9", [ok_entry], flags=h.REGISTER_LAST)]),
            ("middle part without a first part", h.kBadState,
             [h.register_body("127.0.0.1:9", [ok_entry], flags=0)]),
            ("unknown flag", h.kMalformed, [h.register_body("127.0.0.1:9", [ok_entry], flags=4)]),
            ("count larger than the body", h.kMalformed,
             [h.register_body("127.0.0.1:9", [ok_entry])[:-(2 + 6 + 8 + 32)]]),
        ]
        for what, code, bodies in cases:
            with self.subTest(what):
                c = self.server_conn()
                for b in bodies:
                    c.send_frame(h.REGISTER, b)
                self.assert_error_then_close(c, code, what)

        with self.subTest("REGISTER before HELLO"):
            c = self.conn()
            c.send_frame(h.REGISTER, h.register_body("127.0.0.1:9", [ok_entry]))
            self.assert_error_then_close(c, h.kBadState, "REGISTER before HELLO")

        with self.subTest("two addresses on one connection"):
            c = self.server_conn()
            c.send_frame(h.REGISTER, h.register_body("127.0.0.1:9", [ok_entry]))
            self.assertEqual(h.parse_registered(c.expect(h.REGISTERED).body)[0], 1)
            c.send_frame(h.REGISTER, h.register_body("127.0.0.1:10", [ok_entry]))
            self.assert_error_then_close(c, h.kBadState, "second address")

        with self.subTest("flood"):
            c = self.server_conn()
            accepted = 0
            for i in range(50):
                self.assertTrue(c.send_frame(
                    h.REGISTER, h.register_body("127.0.0.1:11", [("flood.bin", i, self.CID)])),
                    f"connection closed after {accepted} registrations without an ERROR")
                f = c.recv_frame()
                self.assertIsNotNone(f, f"closed after {accepted} registrations, no ERROR")
                if f.type == h.REGISTERED:
                    accepted += 1
                    continue
                self.assertEqual(f.type, h.ERROR, f)
                self.assertEqual(h.parse_error(f.body)[0], h.kLimit, f)
                self.assertTrue(c.wait_closed(), "not closed after the flood ERROR")
                break
            else:
                self.fail("50 registrations in a row on one connection were all accepted")
            self.assertGreaterEqual(accepted, 1, "the first registration must be accepted")

        # The director still works, and nothing of the above is in the catalog
        # (the connections that registered are closed, so their entries left).
        rows = self.wait_ls(self.d.address, lambda rows: not rows, REMOVE_TIMEOUT,
                            "nothing left from the bad registrations")
        self.assertEqual(rows, [])
        c = self.server_conn()
        cid = os.urandom(32)
        c.send_frame(h.REGISTER, h.register_body("127.0.0.1:12", [("good.bin", 4242, cid)]))
        entries, heartbeat_ms = h.parse_registered(c.expect(h.REGISTERED).body)
        self.assertEqual((entries, heartbeat_ms), (1, 1000))
        self.assertEqual(self.ls(self.d.address),
                         [{"name": "good.bin", "size": 4242, "content_id": cid.hex(),
                           "servers": 1}])
        # A raw LIST gets the same catalog.
        lc = self.conn()
        lc.hello()
        lc.send_frame(h.LIST)
        self.assertEqual(h.parse_catalog(lc.expect(h.CATALOG).body),
                         (True, [{"name": "good.bin", "size": 4242, "content_id": cid.hex(),
                                  "servers": 1}]))
        # Closing the registration connection removes the server.
        c.close()
        self.wait_ls(self.d.address, lambda rows: not rows, REMOVE_TIMEOUT,
                     "good.bin removed when its registration connection closed")
        self.assertTrue(self.d.alive(), self.d.stderr_text())


class Discovery(DirectorCase):
    SIZE = 12 * MB

    def test_discover_two_servers(self) -> None:
        root = os.path.join(self.tmp, "root")
        digest = h.write_random_file(os.path.join(root, "disc.bin"), self.SIZE)
        udp = h.free_udp_port()
        servers = [self.serve(root, None, rate="40mbit",
                              extra=["--discovery", f"0.0.0.0:{udp}"]) for _ in range(2)]
        out = os.path.join(self.tmp, "disc.bin")
        stats = os.path.join(self.tmp, "stats.json")
        r = h.run_get("disc.bin", [], out, stats=stats, timeout=60,
                      extra=["--discover", "--discover-to", f"127.255.255.255:{udp}",
                             "--discover-wait", "500"])
        self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace"))
        self.assertEqual(h.sha256_file(out), digest)
        st = h.check_stats(self, stats, name="disc.bin", size=self.SIZE, block_size=BS,
                           sources=[s.address for s in servers])
        self.assertEqual(sorted(s["address"] for s in st["sources"]),
                         sorted(s.address for s in servers))
        for s in st["sources"]:
            self.assertGreater(s["bytes"], 0, st)

        # Nobody answers on another port.
        other = h.free_udp_port()
        while other == udp:
            other = h.free_udp_port()
        out2 = os.path.join(self.tmp, "none.bin")
        t0 = time.monotonic()
        r = h.run_get("disc.bin", [], out2, timeout=30,
                      extra=["--discover", "--discover-to", f"127.255.255.255:{other}",
                             "--discover-wait", "300"])
        err = r.stderr.decode(errors="replace")
        self.assertEqual(r.returncode, 7, err)  # not found
        lines = h.nonempty_lines(err)
        self.assertTrue(lines and "error" in lines[-1] and "discovery" in lines[-1]
                        and f"127.255.255.255:{other}" in lines[-1], err)
        self.assertLess(time.monotonic() - t0, 10)
        self.no_output(out2)


if __name__ == "__main__":
    unittest.main()
