"""Integration tests: the server against hostile or broken clients.

Every test runs while a good, rate-limited `braid get` of a ~20 MiB file is in
flight against the same server; after each test the server must still be alive
and answer, and that download must finish byte-identical.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness as h  # noqa: E402

BIG_SIZE = 20 * h.MIB
SMALL_BS = 4096
SMALL_SIZE = 10 * SMALL_BS + 1
INNER_SIZE = 3 * SMALL_BS


class BadInput(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        h.braid_bin()
        cls.tmp = h.make_temp_dir()
        cls.addClassCleanup(shutil.rmtree, cls.tmp, True)
        cls.root = os.path.join(cls.tmp, "root")
        cls.outside = os.path.join(cls.tmp, "outside")
        os.makedirs(cls.root)
        os.makedirs(cls.outside)
        cls.big_digest = h.write_random_file(os.path.join(cls.root, "big.bin"), BIG_SIZE)
        cls.small_path = os.path.join(cls.root, "small.bin")
        h.write_random_file(cls.small_path, SMALL_SIZE)
        with open(cls.small_path, "rb") as f:
            cls.small_data = f.read()
        h.write_random_file(os.path.join(cls.root, "sub", "inner.bin"), INNER_SIZE)
        with open(os.path.join(cls.outside, "secret.txt"), "wb") as f:
            f.write(b"this file is outside the root\n")
        # A symlink inside the root that points to a file outside it, one to a
        # directory outside it, and a harmless one that stays inside.
        os.symlink(os.path.join(cls.outside, "secret.txt"), os.path.join(cls.root, "escape.txt"))
        os.symlink(cls.outside, os.path.join(cls.root, "escdir"))
        os.symlink("../../outside/secret.txt", os.path.join(cls.root, "sub", "relescape.txt"))
        # A dangling symlink must not break LIST (nor the server).
        os.symlink("does-not-exist.bin", os.path.join(cls.root, "dangling.bin"))
        os.symlink("small.bin", os.path.join(cls.root, "alias.bin"))
        cls._start_server()
        cls.last_test = "(none)"

    @classmethod
    def _start_server(cls) -> None:
        cls.server = h.start_server(cls.root, max_rate="20MB", log_dir=cls.tmp)
        cls.addClassCleanup(cls.server.stop)

    # -- the concurrent good download ---------------------------------------

    def setUp(self) -> None:
        cls = type(self)
        if not cls.server.alive():
            # Died after the previous test's checks (e.g. while its connections
            # were being closed). Restart so later tests still say something.
            dead = cls.server
            cls._start_server()
            self.fail(f"the server died after {cls.last_test} (exit {dead.proc.poll()}); "
                      f"stderr tail:\n{dead.stderr_text()[-3000:]}")
        cls.last_test = self.id()
        self.work = h.make_temp_dir(self)
        self.outdir = os.path.join(self.work, "out")
        os.makedirs(self.outdir)
        self.big_out = os.path.join(self.outdir, "big.out")
        self.bg = h.start_get("big.bin", [self.server.address], self.big_out, self.work,
                              quiet=True)
        self.addCleanup(self.bg.kill)
        # Bounded wait until the download is under way (temp file created).
        h.wait_until(lambda: bool(os.listdir(self.outdir)) or self.bg.proc.poll() is not None,
                     5.0)
        self.conns: list[h.RawConn] = []
        self.addCleanup(self._close_conns)

    def _close_conns(self) -> None:
        for c in self.conns:
            c.close()

    def tearDown(self) -> None:
        code = self.bg.wait(90)
        self.assertEqual(code, 0, f"concurrent good download failed:\n{self.bg.stderr()}")
        self.assertEqual(os.path.getsize(self.big_out), BIG_SIZE)
        self.assertEqual(h.sha256_file(self.big_out), self.big_digest,
                         "concurrent good download is not byte-identical")
        h.server_healthy(self.server)

    def conn(self, timeout: float = h.FRAME_TIMEOUT) -> h.RawConn:
        c = h.connect(self.server, timeout)
        self.conns.append(c)
        return c

    def assertErrorThenClose(self, c: h.RawConn, codes, what: str) -> int:
        codes = {codes} if isinstance(codes, int) else set(codes)
        f = c.recv_frame()
        self.assertIsNotNone(f, f"{what}: server closed without an ERROR frame")
        self.assertEqual(f.type, h.ERROR, f"{what}: expected ERROR, got {f!r}")
        code, msg = h.parse_error(f.body)
        self.assertIn(code, codes, f"{what}: ERROR code {code} ({msg!r}), expected {codes}")
        self.assertTrue(c.wait_closed(h.FRAME_TIMEOUT),
                        f"{what}: server did not close the connection after ERROR")
        return code

    def assertError(self, c: h.RawConn, codes, what: str) -> int:
        codes = {codes} if isinstance(codes, int) else set(codes)
        f = c.recv_frame()
        self.assertIsNotNone(f, f"{what}: server closed without an ERROR frame")
        self.assertEqual(f.type, h.ERROR, f"{what}: expected ERROR, got {f!r}")
        code, msg = h.parse_error(f.body)
        self.assertIn(code, codes, f"{what}: ERROR code {code} ({msg!r}), expected {codes}")
        self.assertLessEqual(len(msg.encode()), 512)
        self.assertNotIn("\n", msg.strip(), "ERROR message must be one line")
        return code

    # -- framing ---------------------------------------------------------------

    def test_random_garbage(self) -> None:
        conns = []
        for i in range(5):
            c = self.conn(timeout=20)
            c.send_raw(os.urandom(4096))
            conns.append(c)
        for i, c in enumerate(conns):
            # Any ERROR, or a close; bounded by the 10 s HELLO deadline + slack.
            try:
                c.error_or_close(timeout=20)
            except TimeoutError:
                self.fail(f"garbage connection {i}: server neither sent ERROR nor closed")

    def test_garbage_after_hello(self) -> None:
        c = self.conn(timeout=20)
        c.hello()
        c.send_raw(b"\xff" * 64)  # length 0xFFFFFFFF, type 0xFF
        res = c.error_or_close(timeout=20)
        if res is not None:
            self.assertIn(res[0], {h.kFrameTooLarge, h.kUnknownType})

    def test_truncated_frame_then_close(self) -> None:
        c = self.conn()
        body = h.hello_body()
        c.send_raw(h.u32(1 + len(body)) + h.u8(h.HELLO) + body[:5])
        c.close()
        h.server_healthy(self.server)

    def test_truncated_frame_then_half_close(self) -> None:
        c = self.conn()
        body = h.hello_body()
        c.send_raw(h.u32(1 + len(body)) + h.u8(h.HELLO) + body[:5])
        c.shutdown_write()
        res = c.error_or_close()
        if res is not None:
            self.assertEqual(res[0], h.kTruncated, f"truncated frame: {res}")

    def test_truncated_header_after_hello(self) -> None:
        c = self.conn()
        c.hello()
        c.send_raw(b"\x00\x00")  # 2 of 5 header bytes
        c.shutdown_write()
        res = c.error_or_close()
        if res is not None:
            self.assertEqual(res[0], h.kTruncated, f"truncated header: {res}")

    def test_giant_length_before_hello(self) -> None:
        for t in (h.DATA, h.HELLO):
            with self.subTest(type=t):
                c = self.conn()
                c.send_raw(h.header(0xFFFFFFF0, t))
                self.assertErrorThenClose(c, h.kFrameTooLarge, f"giant length, type {t:#x}")

    def test_giant_length_after_hello(self) -> None:
        for t in (h.DATA, h.HELLO, h.PING, h.OPEN):
            with self.subTest(type=t):
                c = self.conn()
                c.hello()
                c.send_raw(h.header(0xFFFFFFF0, t))
                self.assertErrorThenClose(c, h.kFrameTooLarge, f"giant length, type {t:#x}")

    def test_body_one_byte_over_max(self) -> None:
        # The check happens on the 5 header bytes alone: no body is sent.
        for t in (h.PING, h.OPEN, h.LIST, h.START):
            with self.subTest(type=t):
                c = self.conn()
                c.hello()
                c.send_raw(h.header(1 + h.MAX_BODY[t] + 1, t))
                self.assertErrorThenClose(c, h.kFrameTooLarge, f"max body + 1, type {t:#x}")

    def test_hello_over_max_before_hello(self) -> None:
        c = self.conn()
        c.send_raw(h.header(1 + h.MAX_BODY[h.HELLO] + 1, h.HELLO))
        self.assertErrorThenClose(c, h.kFrameTooLarge, "HELLO of 1 KiB + 1")

    def test_unknown_type(self) -> None:
        for t in (0x7F, 0x00, 0x60, 0xFF):
            with self.subTest(type=t):
                c = self.conn()
                c.send_raw(h.header(1, t))
                self.assertErrorThenClose(c, h.kUnknownType, f"unknown type {t:#x}")

    def test_unknown_type_after_hello(self) -> None:
        c = self.conn()
        c.hello()
        c.send_raw(h.header(1, 0x7F))
        self.assertErrorThenClose(c, h.kUnknownType, "unknown type 0x7f after HELLO")

    def test_zero_length_frame(self) -> None:
        c = self.conn()
        c.send_raw(h.header(0, h.HELLO))
        try:
            c.error_or_close(timeout=15)
        except TimeoutError:
            self.fail("frame with length 0: server neither sent ERROR nor closed")

    # -- HELLO -----------------------------------------------------------------

    def test_hello_answer(self) -> None:
        # The highest version both speak (braid: 1..2).
        for lo, hi, agreed in ((1, 1, 1), (1, 7, 2), (0, 1, 1), (1, 2, 2), (2, 2, 2)):
            with self.subTest(versions=(lo, hi)):
                c = self.conn()
                got = c.hello(min_version=lo, max_version=hi)
                self.assertEqual(got["magic"], h.MAGIC)
                self.assertEqual((got["min_version"], got["max_version"]), (agreed, agreed))
                self.assertEqual(got["role"], h.ROLE_SERVER)
                self.assertLessEqual(len(got["agent"].encode()), 256)

    def test_bad_magic(self) -> None:
        for magic in (b"BRAX", b"\x00\x00\x00\x00", b"brad"):
            with self.subTest(magic=magic):
                c = self.conn()
                c.send_frame(h.HELLO, h.hello_body(magic=magic))
                self.assertErrorThenClose(c, h.kBadMagic, f"HELLO magic {magic!r}")

    def test_bad_version(self) -> None:
        for lo, hi in ((99, 99), (3, 5), (0, 0)):
            with self.subTest(versions=(lo, hi)):
                c = self.conn()
                c.send_frame(h.HELLO, h.hello_body(min_version=lo, max_version=hi))
                self.assertErrorThenClose(c, h.kBadVersion, f"HELLO versions {lo}..{hi}")

    def test_malformed_hello(self) -> None:
        cases = {
            "trailing byte": h.hello_body() + b"\x00",
            "string runs past end": h.MAGIC + h.u16(1) + h.u16(1) + h.u8(1) + h.u16(50) + b"ab",
            "agent longer than 256": h.hello_body(agent="x" * 257),
            "cut inside fixed fields": h.MAGIC + h.u16(1),
        }
        for what, body in cases.items():
            with self.subTest(case=what):
                c = self.conn()
                c.send_frame(h.HELLO, body)
                self.assertErrorThenClose(c, h.kMalformed, f"HELLO {what}")

    def test_frames_before_hello(self) -> None:
        for t, body in ((h.PING, h.ping_body(1, b"x")), (h.LIST, b""),
                        (h.OPEN, h.open_body("small.bin")), (h.START, b"")):
            with self.subTest(type=t):
                c = self.conn()
                c.send_frame(t, body)
                self.assertErrorThenClose(c, h.kBadState, f"type {t:#x} before HELLO")

    def test_second_hello(self) -> None:
        c = self.conn()
        c.hello()
        c.send_frame(h.HELLO, h.hello_body())
        self.assertErrorThenClose(c, h.kBadState, "second HELLO")

    def test_server_only_frame_from_client(self) -> None:
        c = self.conn()
        c.hello()
        c.send_frame(h.DATA, h.u64(0) + h.u32(0) + b"abc")
        self.assertErrorThenClose(c, {h.kBadState, h.kUnknownType}, "client sent DATA")

    # -- PING, LIST --------------------------------------------------------------

    def test_ping_pong(self) -> None:
        c = self.conn()
        c.hello()
        for token, payload in ((0x0123456789ABCDEF, os.urandom(64 * 1024)),
                               (0, b""), (0xFFFFFFFFFFFFFFFF, b"\x00"),
                               (42, os.urandom(1 * h.MIB))):
            with self.subTest(token=token, payload=len(payload)):
                got_token, got_payload = c.ping(token, payload)
                self.assertEqual(got_token, token)
                self.assertEqual(len(got_payload), len(payload))
                self.assertEqual(got_payload, payload)

    def test_list_toc(self) -> None:
        c = self.conn()
        c.hello()
        toc = c.list()
        self.assertEqual(toc.get("big.bin"), BIG_SIZE, f"TOC: {toc}")
        self.assertEqual(toc.get("small.bin"), SMALL_SIZE, f"TOC: {toc}")
        self.assertEqual(toc.get("sub/inner.bin"), INNER_SIZE, f"TOC: {toc}")
        for name in toc:
            self.assertFalse(name.startswith("/"), f"TOC name is absolute: {name!r}")
            self.assertNotIn("..", name.split("/"), f"TOC name leaves the root: {name!r}")
            self.assertNotIn("\\", name)
        # The connection stays usable.
        self.assertEqual(c.ping(7, b"after list"), (7, b"after list"))

    def test_list_with_body(self) -> None:
        # A LIST body holds only an access token (a str): one byte is none.
        c = self.conn()
        c.hello()
        c.send_frame(h.LIST, b"x")
        self.assertErrorThenClose(c, h.kMalformed, "LIST with a body")

    # -- OPEN ------------------------------------------------------------------

    def _open_expect(self, name, code: int | set, what: str) -> None:
        c = self.conn()
        c.hello()
        c.send_frame(h.OPEN, h.open_body(name))
        f = c.recv_frame()
        self.assertIsNotNone(f, f"{what}: closed without ERROR")
        self.assertNotEqual(f.type, h.OPENED, f"{what}: server OPENED {name!r}!")
        self.assertEqual(f.type, h.ERROR, f"{what}: got {f!r}")
        got, msg = h.parse_error(f.body)
        codes = {code} if isinstance(code, int) else code
        self.assertIn(got, codes, f"{what}: ERROR {got} {msg!r}, expected {codes}")
        # Nothing from the file may follow.
        c.send_frame(h.START)
        while True:
            try:
                nxt = c.recv_frame(timeout=2.0)
            except (TimeoutError, h.Closed):
                break
            if nxt is None:
                break
            self.assertNotEqual(nxt.type, h.DATA, f"{what}: server sent DATA after refusing")

    def test_open_forbidden_paths(self) -> None:
        for name in ("../etc/passwd", "/etc/passwd", "escape.txt", "escdir/secret.txt",
                     "sub/relescape.txt", "sub/../small.bin", "..", "sub/../../outside/secret.txt",
                     ""):
            with self.subTest(name=name):
                self._open_expect(name, h.kForbiddenPath, f"OPEN {name!r}")

    def test_open_name_with_nul(self) -> None:
        # docs: NUL in a str is not allowed; OPEN lists NUL as kForbiddenPath.
        self._open_expect(b"small.bin\x00.txt", {h.kForbiddenPath, h.kMalformed}, "OPEN with NUL")

    def test_open_not_found(self) -> None:
        for name in ("nope.bin", "sub/nope.bin", "nodir/x.bin", "dangling.bin"):
            with self.subTest(name=name):
                self._open_expect(name, h.kNotFound, f"OPEN {name!r}")

    def test_open_symlink_inside_root_is_allowed(self) -> None:
        c = self.conn()
        c.hello()
        opened = c.open("alias.bin", block_size=SMALL_BS)
        self.assertEqual(opened, {"size": SMALL_SIZE, "block_size": SMALL_BS,
                                  "block_count": -(-SMALL_SIZE // SMALL_BS),
                                  "content_id": h.content_id(self.small_data)})

    def test_open_bad_fields(self) -> None:
        cases = [
            ("empty pattern", h.open_body("small.bin", pattern=[]), {h.kBadPattern, h.kMalformed}),
            ("pattern id 1024", h.open_body("small.bin", my_id=0, pattern=[0, 1024]),
             {h.kBadPattern, h.kMalformed}),
            ("pattern of 4097", h.open_body("small.bin", my_id=0, pattern=[0] * 4097),
             {h.kBadPattern, h.kMalformed}),
            ("block size 511", h.open_body("small.bin", block_size=511), {h.kMalformed}),
            ("block size 4 MiB + 1", h.open_body("small.bin", block_size=4 * h.MIB + 1),
             {h.kMalformed}),
            ("trailing byte", h.open_body("small.bin") + b"\x00", {h.kMalformed}),
            ("name runs past end", h.open_body("small.bin")[:-3], {h.kMalformed}),
            ("name longer than 1024", h.open_body("a" * 1025), {h.kMalformed}),
        ]
        for what, body, codes in cases:
            with self.subTest(case=what):
                c = self.conn()
                c.hello()
                c.send_frame(h.OPEN, body)
                self.assertErrorThenClose(c, codes, f"OPEN {what}")

    def _blocks_until_end(self, c: h.RawConn) -> list[tuple[int, int, bytes]]:
        """(seq, epoch, payload) of every DATA up to END, in order."""
        got = []
        for _ in range(10000):
            f = c.recv_frame()
            self.assertIsNotNone(f, "server closed before END")
            if f.type == h.END:
                return got
            self.assertEqual(f.type, h.DATA, f"unexpected {f!r}")
            got.append(h.parse_data(f.body))
        self.fail("no END")

    def test_reopen_mid_stream_starts_the_new_stream(self) -> None:
        # docs/protocol.md OPEN: a second OPEN ends the stream open so far;
        # every frame after its OPENED is the new stream's.
        c = self.conn()
        c.hello()
        c.open("small.bin", block_size=SMALL_BS, pattern=[0], my_id=0)
        c.send_frame(h.START)
        c.send_frame(h.OPEN, h.open_body("small.bin", block_size=SMALL_BS, my_id=1,
                                         pattern=[0, 1], epoch=7))
        # The old stream's blocks (any number of them) come before OPENED.
        for _ in range(100):
            f = c.recv_frame()
            self.assertIsNotNone(f, "server closed on a re-OPEN")
            if f.type == h.OPENED:
                break
            self.assertIn(f.type, (h.DATA, h.END), f"unexpected {f!r}")
            seq, epoch, payload = h.parse_data(f.body) if f.type == h.DATA else (0, 0, b"")
            self.assertEqual(epoch, 0)
        else:
            self.fail("no OPENED after the re-OPEN")
        c.send_frame(h.START)
        got = self._blocks_until_end(c)
        nblocks = -(-SMALL_SIZE // SMALL_BS)
        self.assertEqual([s for s, _, _ in got], list(range(1, nblocks, 2)),
                         "after the re-OPEN: exactly the new pattern's blocks, in order")
        for seq, epoch, payload in got:
            self.assertEqual(epoch, 7)
            self.assertEqual(payload, self.small_data[seq * SMALL_BS:(seq + 1) * SMALL_BS])

    def test_reopen_stops_the_old_stream_at_once(self) -> None:
        # A re-OPEN mid-way through 20 MiB in 4 KiB blocks: what comes of
        # the old stream before OPENED is what was on its way (socket
        # buffers), not the rest of the file.
        c = self.conn()
        c.hello()
        c.open("big.bin", block_size=SMALL_BS, pattern=[0], my_id=0)
        c.send_frame(h.START)
        self.assertEqual(c.recv_frame().type, h.DATA)
        c.send_frame(h.OPEN, h.open_body("small.bin", block_size=SMALL_BS))
        total = BIG_SIZE // SMALL_BS
        old = 0
        while old <= total:
            f = c.recv_frame()
            self.assertIsNotNone(f, "server closed on a re-OPEN")
            if f.type == h.OPENED:
                break
            old += 1
        self.assertLess(old, total // 4, "the old stream went on after the re-OPEN")

    def test_reopen_of_a_missing_name_leaves_the_session_ready(self) -> None:
        c = self.conn()
        c.hello()
        c.open("small.bin", block_size=SMALL_BS)
        c.send_frame(h.OPEN, h.open_body("no-such.bin", block_size=SMALL_BS))
        self.assertEqual(c.expect_error()[0], h.kNotFound)
        # No stream is open any more; the connection still serves.
        self.assertEqual(c.ping(3, b"still here"), (3, b"still here"))
        c.send_frame(h.START)
        self.assertErrorThenClose(c, h.kBadState, "START after a failed re-OPEN")

    def test_start_before_open(self) -> None:
        c = self.conn()
        c.hello()
        c.send_frame(h.START)
        self.assertErrorThenClose(c, h.kBadState, "START before OPEN")

    # -- raw transfers -------------------------------------------------------------

    def _raw_transfer(self, my_id: int, pattern: list[int], bs: int = SMALL_BS) -> None:
        c = self.conn()
        c.hello()
        opened = c.open("small.bin", block_size=bs, my_id=my_id, pattern=pattern)
        nblocks = -(-SMALL_SIZE // bs)
        self.assertEqual(opened, {"size": SMALL_SIZE, "block_size": bs, "block_count": nblocks,
                                  "content_id": h.content_id(self.small_data)})
        c.send_frame(h.START)
        expected = [s for s in range(nblocks) if pattern[s % len(pattern)] == my_id]
        got: list[int] = []
        nbytes = 0
        while True:
            f = c.recv_frame()
            self.assertIsNotNone(f, "server closed before END")
            if f.type == h.END:
                blocks_sent, bytes_sent = h.parse_end(f.body)
                break
            self.assertEqual(f.type, h.DATA, f"unexpected {f!r}")
            seq, epoch, payload = h.parse_data(f.body)
            self.assertEqual(epoch, 0)
            self.assertLess(seq, nblocks)
            self.assertEqual(payload, self.small_data[seq * bs:(seq + 1) * bs], f"block {seq}")
            got.append(seq)
            nbytes += len(payload)
        self.assertEqual(sorted(got), expected, "server sent blocks it does not own "
                                                "or left some out")
        self.assertEqual(len(got), len(set(got)), "a block was sent twice")
        self.assertEqual((blocks_sent, bytes_sent), (len(expected), nbytes))
        self.assertEqual(c.ping(9, b"after END"), (9, b"after END"),
                         "connection must stay open after END")

    def test_raw_transfer_single_source(self) -> None:
        self._raw_transfer(0, [0])

    def test_raw_transfer_pattern_share(self) -> None:
        for my_id, pattern in ((0, [0, 1]), (1, [0, 1]), (1, [0, 1, 1]), (2, [2, 0, 1, 0])):
            with self.subTest(my_id=my_id, pattern=pattern):
                self._raw_transfer(my_id, pattern)

    # -- idle / half-open clients -----------------------------------------------------

    def test_half_open_connections_do_not_block(self) -> None:
        idle = [self.conn() for _ in range(5)]
        partial = self.conn()
        partial.send_raw(b"\x00\x00\x00")  # 3 of 5 header bytes
        greeted = self.conn()
        greeted.hello()
        t0 = time.monotonic()
        c = self.conn(timeout=5)
        c.hello()
        self.assertEqual(c.list().get("small.bin"), SMALL_SIZE)
        self.assertLess(time.monotonic() - t0, 5)
        out = os.path.join(self.work, "small.out")
        r = h.run_get("small.bin", [self.server.address], out, block_size=SMALL_BS, quiet=True,
                      timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace"))
        with open(out, "rb") as f:
            self.assertEqual(f.read(), self.small_data)
        del idle

    def test_hello_deadline(self) -> None:
        # docs: HELLO must complete within 10 s, else kTimeout (and close).
        c = self.conn(timeout=20)
        t0 = time.monotonic()
        try:
            res = c.error_or_close(timeout=20)
        except TimeoutError:
            self.fail("a silent connection was not closed within 20 s (HELLO deadline is 10 s)")
        took = time.monotonic() - t0
        if res is not None:
            self.assertEqual(res[0], h.kTimeout, f"silent connection: {res}")
        self.assertGreaterEqual(took, 5.0, "silent connection closed much earlier than 10 s")


if __name__ == "__main__":
    unittest.main(verbosity=2)
