"""Integration tests: the server under abuse keeps bounded memory and keeps
serving a concurrent good client."""

from __future__ import annotations

import os
import select
import socket
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness as h  # noqa: E402

MB = 1_000_000


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


class Hardening(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.digest = h.class_root(cls, "f.bin", 32 * MB)

    def setUp(self) -> None:
        self.server = h.start_server(self.root, log_dir=self.tmp)
        self.addCleanup(self.server.stop)
        self.addr = f"127.0.0.1:{self.server.port}"

    def good_get(self) -> None:
        out = os.path.join(self.tmp, f"good-{self._testMethodName}.bin")
        r = h.run_get("f.bin", [self.addr], out, quiet=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        self.assertEqual(h.sha256_file(out), self.digest)
        os.remove(out)

    def connect(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.server.port), timeout=5)

    def hello(self, s: socket.socket) -> None:
        s.sendall(h.frame(h.HELLO, h.hello_body()))

    def test_ten_thousand_connections_opened_and_dropped(self) -> None:
        deadline = time.monotonic() + 120
        opened = 0
        while opened < 10_000 and time.monotonic() < deadline:
            batch = []
            for _ in range(50):
                try:
                    batch.append(self.connect())
                except OSError:
                    pass
            for i, s in enumerate(batch):
                if i % 2:
                    self.hello(s)  # half say HELLO first, half nothing at all
                s.close()
            opened += 50
        self.assertGreaterEqual(opened, 10_000, "bounded loop ran out of time")
        self.assertTrue(self.server.alive())
        self.good_get()

    def test_clients_that_never_read(self) -> None:
        stalled = []
        for _ in range(16):
            s = self.connect()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            self.hello(s)
            s.sendall(h.frame(h.OPEN, h.open_body("f.bin", block_size=65536)))
            s.sendall(h.frame(h.START))
            stalled.append(s)
        before = rss_kib(self.server.proc.pid)
        self.good_get()  # served while 16 clients hold streams they never read
        self.assertTrue(self.server.alive())
        self.assertLess(rss_kib(self.server.proc.pid) - before, 64 * 1024)
        for s in stalled:
            s.close()

    def test_ping_flood_without_reading(self) -> None:
        s = self.connect()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.hello(s)
        payload = b"x" * (1 << 20)
        ping = h.frame(h.PING, h.ping_body(1, payload))
        s.settimeout(0.2)
        sent = 0
        flood = 1000  # 1 GiB of PINGs if the server never stopped reading
        deadline = time.monotonic() + 20
        while sent < flood and time.monotonic() < deadline:
            try:
                s.sendall(ping)
                sent += 1
            except (socket.timeout, BlockingIOError):
                break  # the server stopped reading us: that is the point
            except OSError:
                break
        # The server stopped reading us long before the flood was through,
        # and its memory stays bounded (sanitizer builds carry their own
        # allocator overhead: twice the bound, still far below the flood).
        self.assertLess(sent, flood)
        bound = 200 * 1024 * (2 if h.SANITIZED else 1)
        self.assertLess(rss_kib(self.server.proc.pid), bound)
        self.good_get()
        s.close()

    def test_per_peer_connection_limit(self) -> None:
        conns = [self.connect() for _ in range(80)]  # silent: accepted ones wait for HELLO
        # The ones over the limit get ERROR kLimit at once; the others stay
        # silent. Read until 80 - 64 refusals have come (bounded).
        refused, pending = 0, {s.fileno(): s for s in conns}
        deadline = time.monotonic() + 10 * h.SLOW
        while refused < 80 - 64 and pending and time.monotonic() < deadline:
            ready, _, _ = select.select(list(pending), [], [], 0.2)
            for fd in ready:
                refused += self.refused_for_limit(pending.pop(fd))
        self.assertGreaterEqual(refused, 80 - 64, "the per-peer limit (64) did not apply")
        for s in conns:
            s.close()
        # Once the server has seen the closes, this peer may connect again.
        self.assertTrue(h.wait_until(self.answers_hello, 10),
                        "the server did not take a new connection after the others closed")
        self.good_get()

    @staticmethod
    def refused_for_limit(s: socket.socket) -> bool:
        """Reads what a readable connection got: True for an ERROR kLimit
        (a few bytes, they come whole), False for anything else or a close."""
        s.settimeout(2.0)
        try:
            data = s.recv(4096)
        except OSError:
            return False
        if len(data) < 5 or data[4] != h.ERROR:
            return False
        code, _ = h.parse_error(data[5:4 + int.from_bytes(data[:4], "big")])
        return code == h.kLimit

    def answers_hello(self) -> bool:
        try:
            h.server_healthy(self.server, timeout=2.0)
            return True
        except (AssertionError, OSError, TimeoutError, h.Closed):
            return False


if __name__ == "__main__":
    unittest.main()
