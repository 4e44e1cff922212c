"""Small HTTP servers for the integration tests, each in a thread of the
test's own process on 127.0.0.1:0: a range-serving mirror that records
every request (optionally asking for credentials, or slow), an HTTP
forward proxy and a SOCKS5 proxy that count what went through them."""

from __future__ import annotations

import base64
import hashlib
import os
import http.client
import http.server
import re
import select
import socket
import socketserver
import struct
import threading
import time
import unittest

import harness as h

# Proxy variables of the machine running the tests must not reach braid.
NO_PROXY_ENV = {k: "" for k in ("http_proxy", "https_proxy", "all_proxy", "no_proxy",
                                "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")}


class Threaded(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class Quiet(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:
        pass


class Background:
    """A server on 127.0.0.1:0 in a thread of this process."""

    def serve(self, server: socketserver.BaseServer) -> None:
        self.server = server
        threading.Thread(target=server.serve_forever, daemon=True).start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class RangeMirror(Background):
    """Serves `data` at every path (but those naming "gone": 404) with byte
    ranges; records each request's
    headers; with `credentials` ("user:pw") answers 401 without them."""

    def __init__(self, data: bytes, credentials: str | None = None,
                 bytes_per_second: float = 0, port: int = 0,
                 ranges: bool = True, stated: bytes | None = None,
                 gate: threading.Event | None = None, suffix: bool = True,
                 link: str | None = None, redirect: str | None = None,
                 session_cookie: str | None = None) -> None:
        """bytes_per_second: a bound on each response (0: none); without
        `ranges` every GET gets the whole file (200); `stated`: the bytes
        whose SHA-256 its Digest field states (RFC 3230); with a `gate`,
        each request waits for it to be set (at most 60 s) before it is
        answered; without `suffix`, "bytes=-N" is refused (416); `link`: a
        Link field on every 206 (RFC 6249); `redirect`: every GET is answered
        302 to that URL; `session_cookie` ("NAME=VALUE"): every answer sets
        it (Set-Cookie), and `cookie_asks` records for each request whether
        an earlier answer on its connection set it, and whether it carried
        it."""
        digest = ("SHA-256=" + base64.b64encode(hashlib.sha256(stated).digest()).decode()
                  if stated is not None else None)
        self.requests: list[dict[str, str]] = []
        self.answered = 0  # requests past the gate
        self.ports: set[int] = set()  # the client's end of each connection
        self.cookie_asks: list[tuple[bool, bool]] = []  # (set before, carried)
        cookie_conns: set[int] = set()  # connections an answer set it on
        mirror = self

        class Handler(Quiet):
            def do_GET(self) -> None:  # noqa: N802 (the library's name)
                mirror.requests.append({k.lower(): v for k, v in self.headers.items()})
                if session_cookie:
                    sent = self.headers.get("Cookie", "").split("; ")
                    mirror.cookie_asks.append((self.client_address[1] in cookie_conns,
                                               session_cookie in sent))
                mirror.ports.add(self.client_address[1])
                want = "Basic " + base64.b64encode(credentials.encode()).decode() \
                    if credentials else None
                if want and self.headers.get("Authorization") != want:
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="m"')
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if redirect:
                    self.send_response(302)
                    self.send_header("Location", redirect)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if gate is not None:
                    gate.wait(60)
                mirror.answered += 1
                m = re.fullmatch(r"bytes=(\d*)-(\d+)", self.headers.get("Range", ""))
                if m and not m.group(1) and not suffix:
                    self.send_response(416)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if not ranges:
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                if "gone" in self.path or not m:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if m.group(1):
                    first, last = int(m.group(1)), min(int(m.group(2)), len(data) - 1)
                else:  # the last N bytes
                    first, last = max(0, len(data) - int(m.group(2))), len(data) - 1
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {first}-{last}/{len(data)}")
                self.send_header("ETag", '"v1"')  # a version: a partial file may resume
                if session_cookie:
                    self.send_header("Set-Cookie", session_cookie + "; Path=/")
                    cookie_conns.add(self.client_address[1])
                if digest:
                    self.send_header("Digest", digest)
                if link:
                    self.send_header("Link", link)
                self.send_header("Content-Length", str(last - first + 1))
                self.end_headers()
                body = data[first:last + 1]
                step = 64 * 1024
                for at in range(0, len(body), step):
                    self.wfile.write(body[at:at + step])
                    if bytes_per_second:
                        time.sleep(step / bytes_per_second)

        self.serve(Threaded(("127.0.0.1", port), Handler))

    @property
    def url(self) -> str:
        return f"http://{self.address}/f.bin"


class ForwardProxy(Background):
    """An HTTP proxy: GET with an absolute URL, forwarded over a connection
    of its own; counts the requests it forwarded."""

    def __init__(self) -> None:
        self.forwarded = 0
        proxy = self

        class Handler(Quiet):
            def do_GET(self) -> None:  # noqa: N802
                m = re.fullmatch(r"http://([^/:]+):(\d+)(/.*)", self.path)
                if not m:
                    self.send_error(400)
                    return
                conn = http.client.HTTPConnection(m.group(1), int(m.group(2)), timeout=30)
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in ("proxy-connection", "connection")}
                conn.request("GET", m.group(3), headers=headers)
                r = conn.getresponse()
                body = r.read()
                proxy.forwarded += 1
                self.send_response(r.status)
                for k, v in r.getheaders():
                    if k.lower() not in ("connection", "transfer-encoding", "content-length"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                conn.close()

        self.serve(Threaded(("127.0.0.1", 0), Handler))


class Socks5Proxy(Background):
    """A SOCKS5 proxy (no authentication, CONNECT to an IPv4 address or a
    name); counts the connections it relayed."""

    def __init__(self) -> None:
        self.connections = 0
        proxy = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                c = self.request
                n = c.recv(2)[1]
                c.recv(n)
                c.sendall(b"\x05\x00")
                ver, cmd, _, atyp = c.recv(4)
                if atyp == 1:
                    host = socket.inet_ntoa(c.recv(4))
                elif atyp == 3:
                    host = c.recv(c.recv(1)[0]).decode()
                else:
                    return
                port = struct.unpack("!H", c.recv(2))[0]
                if ver != 5 or cmd != 1:
                    return
                up = socket.create_connection((host, port), timeout=30)
                proxy.connections += 1
                c.sendall(b"\x05\x00\x00\x01" + socket.inet_aton("0.0.0.0") + b"\x00\x00")
                with up:
                    self.relay(c, up)

            @staticmethod
            def relay(a: socket.socket, b: socket.socket) -> None:
                while True:
                    ready, _, _ = select.select([a, b], [], [], 30)
                    if not ready:
                        return
                    for s in ready:
                        data = s.recv(65536)
                        if not data:
                            return
                        (b if s is a else a).sendall(data)

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.serve(Server(("127.0.0.1", 0), Handler))


class MirrorCase(unittest.TestCase):
    """Tests against RangeMirrors of one random file of SIZE bytes; self.out
    is an output path in the test's own temporary directory."""

    SIZE = 2_000_000

    @classmethod
    def setUpClass(cls) -> None:
        cls.data = os.urandom(cls.SIZE)
        cls.digest = h.sha256_bytes(cls.data)

    def setUp(self) -> None:
        self.tmp = h.make_temp_dir(self)
        self.out = os.path.join(self.tmp, "out.bin")

    def mirror(self, data: bytes | None = None, **kw) -> RangeMirror:
        m = RangeMirror(self.data if data is None else data, **kw)
        self.addCleanup(m.stop)
        return m
