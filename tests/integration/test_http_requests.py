"""Integration tests: how `braid get` asks HTTP mirrors (curl's flags).

The mirror is a small range-serving HTTP/1.1 server in this process that
records every request's headers and may require HTTP Basic credentials; the
proxies (an HTTP forward proxy and a SOCKS5 proxy) are small servers in this
process too, each counting what went through it. Everything listens on
127.0.0.1:0. Every output is compared by SHA-256.
"""

from __future__ import annotations

import base64
import http.client
import http.server
import os
import re
import select
import socket
import socketserver
import struct
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness as h  # noqa: E402

SIZE = 3_000_000
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
    """Serves `data` at /f.bin with byte ranges; records each request's
    headers; with `credentials` ("user:pw") answers 401 without them."""

    def __init__(self, data: bytes, credentials: str | None = None) -> None:
        self.requests: list[dict[str, str]] = []
        self.ports: set[int] = set()  # the client's end of each connection
        mirror = self

        class Handler(Quiet):
            def do_GET(self) -> None:  # noqa: N802 (the library's name)
                mirror.requests.append({k.lower(): v for k, v in self.headers.items()})
                mirror.ports.add(self.client_address[1])
                want = "Basic " + base64.b64encode(credentials.encode()).decode() \
                    if credentials else None
                if want and self.headers.get("Authorization") != want:
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="m"')
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                m = re.fullmatch(r"bytes=(\d+)-(\d+)", self.headers.get("Range", ""))
                if self.path != "/f.bin" or not m:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                first, last = int(m.group(1)), min(int(m.group(2)), len(data) - 1)
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {first}-{last}/{len(data)}")
                self.send_header("Content-Length", str(last - first + 1))
                self.end_headers()
                self.wfile.write(data[first:last + 1])

        self.serve(Threaded(("127.0.0.1", 0), Handler))

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


class MirrorRequests(unittest.TestCase):

    @classmethod
    def setUpClass(cls) -> None:
        cls.data = os.urandom(SIZE)
        cls.digest = h.sha256_bytes(cls.data)

    def setUp(self) -> None:
        self.tmp = h.make_temp_dir(self)
        self.out = os.path.join(self.tmp, "out.bin")

    def mirror(self, **kw) -> RangeMirror:
        m = RangeMirror(self.data, **kw)
        self.addCleanup(m.stop)
        return m

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
