"""Integration tests: directors sharing one catalog in etcd
(`braid director --store etcd://...`).

Real etcd processes (a three-member cluster on loopback, etcd_cluster.py),
three directors over it, servers and clients given every director's address.
A director killed mid-transfer is failed over from; a server that registers
with any director is announced by every other; an etcd member killed
changes nothing; a server whose lease is no longer kept leaves the
transfers it was in; with the store out of reach the directors answer from
what they last read.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import etcd_cluster as ec  # noqa: E402
import harness as h  # noqa: E402
import test_director as td  # noqa: E402
import test_tls as tt  # noqa: E402

REGISTER_TIMEOUT = td.REGISTER_TIMEOUT


class EtcdCase(td.DirectorTransferCase):
    """Per test: a fresh three-member etcd and three directors over it."""

    # Slower than the SQLite tests' servers: about 6 s a transfer, so that a
    # 2 s lease can expire within one.
    RATE = "25mbit"
    LEASE_TTL = 2

    def setUp(self) -> None:
        super().setUp()
        self.assertTrue(ec.have_etcd(), "etcd is not installed (scripts/setup.sh)")
        self.etcd = ec.EtcdCluster(self.tmp)
        self.addCleanup(self.etcd.stop)  # after the directors (LIFO)
        self.dirs = [self.etcd_director() for _ in range(3)]

    def etcd_director(self) -> h.Server:
        d = h.start_director("", store=self.etcd.url(), log_dir=self.tmp,
                             extra=["--lease-ttl", str(self.LEASE_TTL)])
        self.addCleanup(d.stop)
        return d

    @staticmethod
    def addresses(directors: list[h.Server]) -> str:
        return ",".join(d.address for d in directors)

    def serve_via(self, root: str, directors: list[h.Server]) -> h.Server:
        """A server given these directors, in this order (it registers with
        the first that answers)."""
        return self.serve(root, None, rate=self.RATE,
                          extra=["--director", self.addresses(directors)])

    def spread_servers(self) -> list[h.Server]:
        """Three servers, server i registered through director i; every
        director lists all three."""
        servers = [self.serve_via(self.root, self.dirs[i:] + self.dirs[:i]) for i in range(3)]
        for d in self.dirs:
            self.wait_ls(d.address, lambda rows: self.servers_of(rows, self.NAME) == 3,
                         REGISTER_TIMEOUT, f"{self.NAME} listed by {d.address} with 3 servers")
        return servers

    def copy_root(self, name: str) -> str:
        root = os.path.join(self.tmp, name)
        os.makedirs(root)
        shutil.copy(os.path.join(self.root, self.NAME), os.path.join(root, self.NAME))
        return root

    def newcomer_joins(self, client_directors: str, servers: list[h.Server], event,
                       newcomer_via: h.Server) -> tuple[dict, str]:
        """A get through client_directors; mid-transfer, event() and then a
        fourth server that knows only newcomer_via. The output is intact, no
        server failed, and the newcomer joined. Returns (stats, stderr)."""
        fourth: list[h.Server] = []

        def event_then_newcomer() -> None:
            event()
            fourth.append(self.serve_via(self.copy_root("root4"), [newcomer_via]))

        rc, err = self.get_with_event(client_directors, servers, event_then_newcomer)
        st = self.check_output(rc, err, [s.address for s in servers + fourth])
        srcs = self.by_addr(st)
        for s in servers:
            self.assertFalse(srcs[s.address]["failed"], st)
        joiner = srcs[fourth[0].address]
        self.assertTrue(joiner["joined"], f"{st}\n{err}\n{self.logs()}")
        self.assertGreater(joiner["bytes"], 0, st)
        return st, err

    def logs(self) -> str:
        return "\n".join(f"--- {d.address}\n{d.stderr_text()[-3000:]}" for d in self.dirs)


class EtcdDirectors(EtcdCase):
    def test_a_director_killed_mid_transfer_is_failed_over_from(self) -> None:
        servers = self.spread_servers()
        victim = self.dirs[0]  # the client's, and server 0's
        rc, err = self.get_with_event(self.addresses(self.dirs), servers, victim.kill)
        st = self.check_output(rc, err, [s.address for s in servers])
        for s in st["sources"]:
            self.assertFalse(s["failed"], f"a director's death dropped a source: {st}\n{err}")
        self.assertIn("subscribed again", err)
        # Server 0 registered again through another director; the others
        # were not disturbed.
        ok = h.wait_until(lambda: any(
            f"with director {d.address}" in servers[0].stderr_text() for d in self.dirs[1:]),
            REGISTER_TIMEOUT, 0.1)
        self.assertTrue(ok, servers[0].stderr_text()[-2000:])
        for d in self.dirs[1:]:
            self.assertEqual(self.servers_of(self.ls(d.address), self.NAME), 3)

    def test_a_director_frozen_mid_transfer_is_failed_over_from(self) -> None:
        # Servers register through directors 1 and 2; the client follows
        # director 0, which freezes (no connection reset: only silence).
        servers = [self.serve_via(self.root, [self.dirs[1 + i % 2]]) for i in range(3)]
        for d in self.dirs:
            self.wait_ls(d.address, lambda rows: self.servers_of(rows, self.NAME) == 3,
                         REGISTER_TIMEOUT, f"{self.NAME} listed by {d.address}")
        frozen = self.dirs[0]
        self.addCleanup(lambda: frozen.alive() and frozen.signal(signal.SIGCONT))
        _, err = self.newcomer_joins(self.addresses(self.dirs), servers,
                                     lambda: frozen.signal(signal.SIGSTOP), self.dirs[2])
        self.assertIn("subscribed again", err)

    def test_a_server_started_mid_transfer_is_announced_by_another_director(self) -> None:
        # The client follows director 0; the newcomer knows only director 2.
        self.newcomer_joins(self.dirs[0].address, self.spread_servers(), lambda: None,
                            self.dirs[2])

    def test_an_etcd_member_killed_mid_transfer_changes_nothing(self) -> None:
        # Member 0 is the one every director reads first.
        self.newcomer_joins(self.dirs[0].address, self.spread_servers(),
                            lambda: self.etcd.kill(0), self.dirs[1])
        for d in self.dirs:
            self.assertEqual(self.servers_of(self.ls(d.address), self.NAME), 4, self.logs())

    def test_a_server_whose_lease_expires_leaves_the_transfer(self) -> None:
        servers = self.spread_servers()
        # A fourth server that knows only director 2: when director 2 dies,
        # nobody keeps its lease, and it cannot register elsewhere.
        lone = self.serve_via(self.copy_root("root4"), [self.dirs[2]])
        self.wait_ls(self.dirs[0].address, lambda rows: self.servers_of(rows, self.NAME) == 4,
                     REGISTER_TIMEOUT, "the fourth server listed")
        # Servers 0 and 1 go on through directors 0 and 1.
        keep = servers[:2]
        rc, err = self.get_with_event(self.dirs[0].address, keep + [lone],
                                      self.dirs[2].kill)
        st = self.check_output(rc, err, [s.address for s in servers + [lone]])
        gone = self.by_addr(st)[lone.address]
        self.assertTrue(gone["failed"], st)
        self.assertIn("withdrawn by the director", gone["error"], st)
        # Server 2 went on through another director and stayed.
        self.assertFalse(self.by_addr(st)[servers[2].address]["failed"], st)
        self.assertEqual(self.servers_of(self.ls(self.dirs[0].address), self.NAME), 3)


class EtcdRoutes(EtcdCase):
    def test_a_relay_registered_with_one_director_is_a_route_through_another(self) -> None:
        # Fast enough that the transfer takes about 5 s.
        server = self.serve(self.root, None, rate="100mbit",
                            extra=["--director", self.dirs[1].address])
        relay = h.start_relay([server.address], extra=["--director", self.dirs[0].address],
                              log_dir=self.tmp)
        self.addCleanup(relay.stop)
        want = {relay.address: [server.address]}
        self.wait_ls(self.dirs[2].address, lambda rows: self.servers_of(rows, self.NAME) == 1 and {
            r["relay"]: r["origins"] for r in rows if "relay" in r} == want,
            REGISTER_TIMEOUT, f"the server and the relay listed by {self.dirs[2].address}")
        r = h.run_cmd(self.director_get_args(self.NAME, self.dirs[2].address, self.out,
                                             stats=self.stats, extra=["--routes"]), timeout=120)
        route = f"{server.address} via {relay.address}"
        st = self.check_output(r.returncode, r.stderr.decode(errors="replace"),
                               [server.address, route])
        for s in st["sources"]:
            self.assertGreater(s["bytes"], 0, st)


class EtcdOutage(EtcdCase):
    """The store out of reach, and back."""

    def test_directors_answer_from_what_they_read_while_the_store_is_away(self) -> None:
        servers = self.spread_servers()
        # Two of three members frozen: no quorum, every request fails.
        self.etcd.freeze(1)
        self.etcd.freeze(2)
        self.addCleanup(lambda: [self.etcd.thaw(i) for i in (1, 2) if i in self.etcd.frozen])
        ok = h.wait_until(lambda: all("answering from what it last said" in d.stderr_text()
                                      for d in self.dirs), 15, 0.2)
        self.assertTrue(ok, f"no director noticed the store's loss:\n{self.logs()}")
        for d in self.dirs:
            self.assertEqual(self.servers_of(self.ls(d.address), self.NAME), 3, self.logs())
            r = h.run_braid(["ls", "--director", d.address], timeout=15)
            self.assertIn(b"cannot reach its store", r.stderr)
        r = h.run_cmd(self.director_get_args(self.NAME, self.dirs[1].address,
                                             self.out, stats=self.stats))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(h.sha256_file(self.out), self.digest)
        self.assertIn(b"cannot reach its store", r.stderr)
        # Longer than a lease: when the store is back, the registrations are
        # kept alive (or made again) and the catalog is whole.
        time.sleep(self.LEASE_TTL + 1)
        self.etcd.thaw(1)
        self.etcd.thaw(2)
        self.etcd.wait_healthy(range(3))
        ok = h.wait_until(lambda: all("etcd: following" in d.stderr_text().rsplit(
            "answering from what it last said", 1)[-1] for d in self.dirs), 20, 0.2)
        self.assertTrue(ok, f"a director did not follow the store again:\n{self.logs()}")
        time.sleep(self.LEASE_TTL + 1)
        for d in self.dirs:
            self.assertEqual(self.servers_of(self.ls(d.address), self.NAME), 3, self.logs())
        self.assertEqual(self.etcd.keys(), 3)  # one part per server
        r = h.run_braid(["ls", "--director", self.dirs[0].address], timeout=15)
        self.assertNotIn(b"cannot reach its store", r.stderr)
        self.assertTrue(all(s.alive() for s in servers))


class EtcdPartition(EtcdCase):
    """One director cut off from the store while the others reach it."""

    def test_a_client_prefers_a_director_that_reaches_the_store(self) -> None:
        self.spread_servers()
        # A fourth director that knows only member 2; member 2 frozen: the
        # others keep their quorum, the fourth is stale.
        lonely = h.start_director("", store="etcd://" + self.etcd.endpoint(2),
                                  log_dir=self.tmp,
                                  extra=["--lease-ttl", str(self.LEASE_TTL)])
        self.addCleanup(lonely.stop)
        self.wait_ls(lonely.address, lambda rows: self.servers_of(rows, self.NAME) == 3,
                     REGISTER_TIMEOUT, "the fourth director read the catalog")
        self.etcd.freeze(2)
        self.addCleanup(lambda: 2 in self.etcd.frozen and self.etcd.thaw(2))
        ok = h.wait_until(lambda: "answering from what it last said" in lonely.stderr_text(),
                          15, 0.2)
        self.assertTrue(ok, lonely.stderr_text()[-2000:])
        fresh = self.dirs[0].address
        r = h.run_cmd(self.director_get_args(self.NAME, f"{lonely.address},{fresh}",
                                             self.out, stats=self.stats))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(h.sha256_file(self.out), self.digest)
        err = r.stderr.decode(errors="replace")
        self.assertIn(f"director {lonely.address} cannot reach its store", err)
        self.assertIn(f"director {fresh}: 3 holder(s)", err)


class EtcdLargeTables(EtcdCase):
    """A table larger than one etcd value: written in parts, read whole by
    every director, and shrunk again (the parts beyond deleted)."""

    def etcd_director(self) -> h.Server:
        # The test's raw connection beats only between `braid ls` runs,
        # which a sanitized build on a busy machine can stretch past 3 s:
        # 5 s heartbeats (expiry 15 s) keep the registration meanwhile.
        d = h.start_director("", store=self.etcd.url(), log_dir=self.tmp,
                             extra=["--lease-ttl", str(self.LEASE_TTL), "--heartbeat-ms", "5000"])
        self.addCleanup(d.stop)
        return d

    def register(self, conn: h.RawConn, advertise: str, names: int) -> None:
        entries = [(f"tables/{i:06d}-" + "x" * 40 + ".bin", i, bytes([i % 251]) * 32)
                   for i in range(names)]
        parts = [h.u8(h.REGISTER_FIRST | h.REGISTER_LAST), h.enc_str(advertise),
                 h.u32(len(entries))]
        parts += [h.enc_str(n) + h.u64(size) + cid for n, size, cid in entries]
        conn.send_raw(h.frame(h.REGISTER, b"".join(parts)))
        conn.expect(h.REGISTERED)

    def wait_listed(self, conn: h.RawConn, n: int) -> None:
        """Until every director lists n of the table's names."""
        for d in self.dirs:
            self.assertTrue(h.wait_until(lambda: self.names_listed(d, conn) == n,
                                         REGISTER_TIMEOUT, 0.2),
                            f"{d.address} lists {self.names_listed(d, conn)}\n{self.logs()}")

    def names_listed(self, d: h.Server, conn: h.RawConn) -> int:
        conn.ping(1)  # the registration's heartbeat, while the test waits
        return sum(1 for row in self.ls(d.address) if row["name"].startswith("tables/"))

    def test_a_table_of_several_parts_is_read_whole_and_shrinks(self) -> None:
        conn = h.RawConn(self.dirs[0].port)
        self.addCleanup(conn.close)
        conn.hello(role=h.ROLE_SERVER)
        advertise = "127.0.0.1:7"
        # About 130 bytes a line: 1.1 MiB, five parts of 256 KiB.
        self.register(conn, advertise, 9000)
        self.wait_listed(conn, 9000)
        self.assertEqual(self.etcd.keys(), 5)
        self.register(conn, advertise, 100)
        self.wait_listed(conn, 100)
        self.assertEqual(self.etcd.keys(), 1)


class EtcdSecured(td.DirectorTransferCase):
    """Three etcd members that serve TLS only, ask clients for a certificate
    and have authentication enabled (a user with a role on /braid/ alone)."""

    RATE = "80mbit"

    def setUp(self) -> None:
        super().setUp()
        self.assertTrue(ec.have_etcd(), "etcd is not installed (scripts/setup.sh)")
        self.ca = tt.Authority(self.tmp)
        # etcd's JSON gateway refuses a client certificate with a common
        # name (3.4: it would be taken for a user name): this one has none.
        self.cert, self.key = self.ca.issue(["127.0.0.1"], subject="/O=braid test")
        self.etcd = ec.EtcdCluster(self.tmp, tls=(self.ca.pem, self.cert, self.key))
        self.addCleanup(self.etcd.stop)
        for args in (["user", "add", "root:rootpw"], ["user", "add", "braid:s3cret pass"],
                     ["role", "add", "braid"],
                     ["role", "grant-permission", "braid", "--prefix=true", "readwrite",
                      "/braid/"],
                     ["user", "grant-role", "braid", "braid"], ["auth", "enable"]):
            self.etcd.ctl(*args)
        self.password = self.secret("password", "s3cret pass\n")

    def secret(self, name: str, text: str) -> str:
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, 0o600)
        return path

    def secured_director(self, *, cacert: bool = True, cert: bool = True,
                         password: str | None = None) -> h.Server:
        extra = ["-v", "--lease-ttl", "3", "--etcd-user", "braid",
                 "--etcd-password-file", password or self.password]
        if cacert:
            extra += ["--etcd-cacert", self.ca.pem]
        if cert:
            extra += ["--etcd-cert", self.cert, "--etcd-key", self.key]
        d = h.start_director("", store=self.etcd.url(), log_dir=self.tmp, extra=extra)
        self.addCleanup(d.stop)
        return d

    def braid_keys(self) -> int:
        out = self.etcd.ctl("get", "/braid/", "--prefix", "--keys-only", user="root:rootpw")
        return len([line for line in out.splitlines() if line.strip()])

    def test_a_director_keeps_its_catalog_over_tls_as_an_etcd_user(self) -> None:
        d = self.secured_director()
        servers = [self.serve(self.root, d, rate=self.RATE) for _ in range(2)]
        self.wait_ls(d.address, lambda rows: self.servers_of(rows, self.NAME) == 2,
                     REGISTER_TIMEOUT, f"{self.NAME} registered by 2 servers")
        self.assertGreater(self.braid_keys(), 0)
        # Tokens die when authentication is switched off and on: the director
        # asks for a new one, and no lease is lost meanwhile (--lease-ttl 3:
        # a keep-alive refused for good would let one expire in the wait).
        self.etcd.ctl("auth", "disable", user="root:rootpw")
        self.etcd.ctl("auth", "enable")
        self.assertTrue(h.wait_until(lambda: d.stderr_text().count("a token for 'braid'") >= 2,
                                     20), d.stderr_text()[-3000:])
        time.sleep(4)
        self.wait_ls(d.address, lambda rows: self.servers_of(rows, self.NAME) == 2,
                     REGISTER_TIMEOUT, f"{self.NAME} still held by 2 servers")
        r = h.run_cmd(self.director_get_args(self.NAME, d.address, self.out, stats=self.stats),
                      timeout=60)
        self.check_output(r.returncode, r.stderr.decode(errors="replace"),
                          [s.address for s in servers])
        self.assertNotIn("s3cret", d.stderr_text())
        self.assertNotIn("expired; registering it again", d.stderr_text())

    def test_a_dead_member_is_passed_over_for_a_token(self) -> None:
        self.etcd.kill(0)  # the first named
        # If it led, the others answer 503 ("no leader") until they elect one:
        # that would be the cluster's failure, not the dead member's.
        self.etcd.wait_healthy([1, 2])
        d = self.secured_director()
        self.serve(self.root, d, rate=self.RATE)
        self.wait_ls(d.address, lambda rows: self.servers_of(rows, self.NAME) == 1,
                     REGISTER_TIMEOUT, f"{self.NAME} registered")
        self.assertIn("a token for 'braid'", d.stderr_text())
        # The next member gave it at once: no failure was ever reported.
        self.assertNotIn("authentication as 'braid'", d.stderr_text())
        self.assertFalse(self.token_from(d, 0), d.stderr_text()[-3000:])

    def token_from(self, d: h.Server, i: int) -> bool:
        """Whether the director logged a token from member i."""
        pattern = f"a token for 'braid' from {re.escape(self.etcd.endpoint(i))}(?!\\d)"
        return re.search(pattern, d.stderr_text()) is not None

    def test_a_frozen_member_holds_up_no_token(self) -> None:
        # It takes connections and never answers: every member is asked at
        # once, and a token comes from another.
        self.etcd.freeze(0)
        d = self.secured_director()
        self.serve(self.root, d, rate=self.RATE)
        self.wait_ls(d.address, lambda rows: self.servers_of(rows, self.NAME) == 1,
                     REGISTER_TIMEOUT, f"{self.NAME} registered")
        self.assertFalse(self.token_from(d, 0), d.stderr_text()[-3000:])
        self.assertTrue(self.token_from(d, 1) or self.token_from(d, 2),
                        d.stderr_text()[-3000:])
        # Failures may be logged meanwhile only when the frozen member led:
        # the others answer 503 ("no leader") until they elect another.
        for line in d.stderr_text().splitlines():
            if "authentication as 'braid'" in line:
                self.assertIn("HTTP 503", line)

    def test_a_right_taken_away_and_given_back(self) -> None:
        d = self.secured_director()
        self.serve(self.root, d, rate=self.RATE)
        self.wait_ls(d.address, lambda rows: self.servers_of(rows, self.NAME) == 1,
                     REGISTER_TIMEOUT, f"{self.NAME} registered")
        self.etcd.ctl("role", "revoke-permission", "braid", "--prefix=true", "/braid/",
                      user="root:rootpw")
        self.assertTrue(h.wait_until(lambda: "permission denied" in d.stderr_text(), 20),
                        d.stderr_text()[-3000:])
        # Refused for want of a right, not for a lost token: the director
        # does not ask for token after token.
        tokens = d.stderr_text().count("a token for 'braid'")
        time.sleep(3)
        self.assertLessEqual(d.stderr_text().count("a token for 'braid'"), tokens + 1)
        self.etcd.ctl("role", "grant-permission", "braid", "--prefix=true", "readwrite",
                      "/braid/", user="root:rootpw")

        def fresh() -> bool:
            r = h.run_braid(["ls", "--director", d.address], timeout=15)
            return r.returncode == 0 and b"cannot reach its store" not in r.stderr

        self.assertTrue(h.wait_until(fresh, 20, interval=0.5), d.stderr_text()[-3000:])
        self.wait_ls(d.address, lambda rows: self.servers_of(rows, self.NAME) == 1,
                     REGISTER_TIMEOUT, f"{self.NAME} listed again")

    def assert_store_refused(self, d: h.Server, why: str) -> None:
        """The director runs, says why etcd refused it, and answers from
        nothing it read (ls: the store cannot be reached)."""
        self.assertTrue(h.wait_until(lambda: why in d.stderr_text(), 20),
                        f"{why!r} not in: {d.stderr_text()[-3000:]}")
        r = h.run_braid(["ls", "--director", d.address], timeout=15)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(b"cannot reach its store", r.stderr)
        self.assertIsNone(d.proc.poll())

    def test_a_wrong_password_is_named(self) -> None:
        d = self.secured_director(password=self.secret("wrong", "guess\n"))
        self.assert_store_refused(d, "authentication as 'braid'")
        self.assertIn("invalid user ID or password", d.stderr_text())
        self.assertNotIn("guess", d.stderr_text())

    def test_an_unknown_authority_is_refused(self) -> None:
        d = self.secured_director(cacert=False)
        self.assert_store_refused(d, "SSL certificate problem")

    def test_a_director_without_a_client_certificate_is_refused(self) -> None:
        d = self.secured_director(cert=False)
        self.assert_store_refused(d, f"authentication as 'braid' at {self.etcd.endpoint(0)}: ")
        self.assertIn("--etcd-cert", d.stderr_text())


class EtcdStoreFlags(unittest.TestCase):
    def test_bad_store_urls_are_usage_errors(self) -> None:
        h.braid_bin()
        for store in ("http://127.0.0.1:2379", "etcd://", "etcd://nohost", "etcd://a:1,,b:2"):
            r = h.run_braid(["director", "--listen", "127.0.0.1:0", "--store", store], timeout=10)
            self.assertEqual(r.returncode, 2, (store, r.stderr))
            self.assertIn(b"--store", r.stderr, store)
        r = h.run_braid(["director", "--store", "etcd://127.0.0.1:1", "--db", "x.db"],
                        timeout=10)
        self.assertEqual(r.returncode, 2, r.stderr)

    def test_access_flags_that_cannot_work_are_usage_errors(self) -> None:
        tmp = h.make_temp_dir()
        self.addCleanup(shutil.rmtree, tmp, True)
        pem = os.path.join(tmp, "x.pem")
        with open(pem, "w") as f:
            f.write("not checked before use\n")
        empty = os.path.join(tmp, "empty")
        with open(empty, "w") as f:
            f.write("\nsecond line\n")
        latin1 = os.path.join(tmp, "latin1")
        with open(latin1, "wb") as f:
            f.write(b"caf\xe9\n")
        cases = [
            (["--store", "etcd://127.0.0.1:1", "--etcd-cacert", pem], b"etcds://"),
            (["--store", "etcds://127.0.0.1:1", "--etcd-cert", pem], b"--etcd-key"),
            (["--store", "etcds://127.0.0.1:1", "--etcd-user", "u"], b"--etcd-password-file"),
            (["--store", "etcds://127.0.0.1:1", "--etcd-user", "u", "--etcd-password-file",
              os.path.join(tmp, "none")], b"none"),
            (["--store", "etcds://127.0.0.1:1", "--etcd-cacert", os.path.join(tmp, "none")],
             b"--etcd-cacert"),
            (["--db", ":memory:", "--etcd-user", "u", "--etcd-password-file", pem], b"--store"),
            (["--store", "etcds://127.0.0.1:1", "--etcd-user", "u", "--etcd-password-file",
              empty], b"empty"),
            (["--store", "etcds://127.0.0.1:1", "--etcd-user", "u", "--etcd-password-file",
              latin1], b"UTF-8"),
        ]
        for args, says in cases:
            r = h.run_braid(["director", "--listen", "127.0.0.1:0"] + args, timeout=10)
            self.assertEqual(r.returncode, 2, (args, r.stderr))
            self.assertIn(says, r.stderr, args)


if __name__ == "__main__":
    unittest.main()
