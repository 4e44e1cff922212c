"""Integration tests: HTTP mirrors (nginx) as sources of `braid get`.

Each mirror is its own nginx process (single process, no daemon) on a
127.0.0.1 port, with a temporary config and prefix dir, killed by its PID at
the end. Locations: / serves the root, /err/ answers 500, /norange/ ignores
Range (max_ranges 0), /slow/ is rate limited per connection.
Every output is compared by SHA-256.
"""

from __future__ import annotations

import hashlib
import http.client
import http.server
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness as h  # noqa: E402

MB = 1_000_000
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"

NGINX_CONF = """\
daemon off;
master_process off;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 64; }}
http {{
    default_type application/octet-stream;
    types {{ }}
    log_format proto '$server_protocol $connection';
    access_log {access_log};
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    sendfile on;
    server {{
        listen 127.0.0.1:{port}{ssl};
        root {root};
        location / {{ }}
        location /err/ {{ return 500; }}
        location /norange/ {{ alias {root}/; max_ranges 0; }}
        location /slow/ {{ alias {root}/; limit_rate {slow}; }}
{extra}
    }}
}}
"""


def free_tcp_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


class WebServer:
    """A web server process on a free loopback port; stop() kills exactly
    the process started."""

    scheme = "http"

    def start(self, tmp: str, what: str, conf_of, argv_of) -> None:
        """Writes conf_of(port) to tmp/WHAT.conf and runs argv_of(conf) until
        the port answers (another port if it was taken meanwhile)."""
        os.makedirs(tmp, exist_ok=True)
        self.proc = None
        for _ in range(3):  # the port may be taken between choice and bind
            self.port = free_tcp_port()
            conf = os.path.join(tmp, f"{what}.conf")
            with open(conf, "w") as f:
                f.write(conf_of(self.port))
            with open(os.path.join(tmp, "stderr.log"), "wb") as err:
                self.proc = subprocess.Popen(argv_of(conf), stdin=subprocess.DEVNULL,
                                             stdout=subprocess.DEVNULL, stderr=err)
            if h.wait_until(lambda: port_open(self.port) or self.proc.poll() is not None, 10):
                if self.proc.poll() is None:
                    return
        raise RuntimeError(f"{what} did not start; see {tmp}/stderr.log")

    def url(self, path: str) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}/{path}"

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


class Nginx(WebServer):
    """One nginx mirror of `root`."""

    def __init__(self, root: str, tmp: str, slow: str = "2m",
                 tls: tuple[str, str] | None = None, http2: bool = False,
                 extra: str = ""):
        """With `tls` (certificate, key PEM files) it serves https, and with
        http2 offers HTTP/2 too; each request's protocol and connection
        number go to self.access_log. `extra`: more of the server block."""
        self.tmp = tmp
        self.scheme = "https" if tls else "http"
        self.access_log = os.path.join(tmp, "access.log")
        h2 = " http2" if http2 else ""
        ssl = (f" ssl{h2}; ssl_certificate {tls[0]}; ssl_certificate_key {tls[1]}"
               if tls else "")
        self.start(tmp, "nginx",
                   lambda port: NGINX_CONF.format(
                       tmp=tmp, port=port, root=root, slow=slow, ssl=ssl,
                       access_log=f"{self.access_log} proto", extra=extra),
                   lambda conf: [NGINX, "-c", conf, "-p", tmp,
                                 "-e", os.path.join(tmp, "error.log")])


LIGHTTPD = shutil.which("lighttpd") or "/usr/sbin/lighttpd"


class Lighttpd(WebServer):
    """One lighttpd serving `root` (another web server than nginx, as a
    mirror network has)."""

    def __init__(self, root: str, tmp: str):
        self.start(tmp, "lighttpd",
                   lambda port: (f'server.document-root = "{root}"\n'
                                 f'server.bind = "127.0.0.1"\nserver.port = {port}\n'
                                 f'server.errorlog = "{tmp}/error.log"\n'
                                 'server.modules = ()\n'),
                   lambda conf: [LIGHTTPD, "-D", "-f", conf])


class EmptyFile416:
    """A server of one empty file that answers a Range the way Apache does:
    416 with "Content-Range: bytes */0"."""

    def __init__(self) -> None:
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (the library's name)
                self.send_response(416 if self.headers.get("Range") else 200)
                if self.headers.get("Range"):
                    self.send_header("Content-Range", "bytes */0")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/{path}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@unittest.skipUnless(os.path.exists(NGINX), "nginx is not installed")
class HttpMirrors(unittest.TestCase):
    SIZE = 24 * MB

    @classmethod
    def setUpClass(cls) -> None:
        cls.digest = h.class_root(cls, "data.bin", cls.SIZE)
        # Same size, other bytes; and a copy with one byte changed per 64 KiB.
        h.write_random_file(os.path.join(cls.root, "other.bin"), cls.SIZE)
        with open(os.path.join(cls.root, "data.bin"), "rb") as f:
            data = bytearray(f.read())
        for at in range(1000, cls.SIZE, 1 << 16):
            data[at] ^= 0x5A
        with open(os.path.join(cls.root, "liar.bin"), "wb") as f:
            f.write(data)
        # "four.bin": a copy with one byte changed in every 64 KiB block but
        # the first and the last, away from the samples mirrors are compared
        # on (start, end). It was 4 bytes once, then 16 in 16 blocks; work
        # stealing on loopback, which moves most blocks (155 of 367 in one
        # run, 262 in another), left the corrupt mirror none of them and it
        # was not dropped. Now any block it serves past the first is wrong.
        with open(os.path.join(cls.root, "data.bin"), "rb") as f:
            data = bytearray(f.read())
        for at in range(1 << 16, cls.SIZE - (1 << 16), 1 << 16):
            data[at + 30000] ^= 0xFF
        with open(os.path.join(cls.root, "four.bin"), "wb") as f:
            f.write(data)
        h.write_random_file(os.path.join(cls.root, "short.bin"), cls.SIZE - 4096)

    def setUp(self) -> None:
        h.braid_bin()
        self.work = h.make_temp_dir(self)
        self.out = os.path.join(self.work, "out.bin")
        self.stats = os.path.join(self.work, "stats.json")

    def mirror(self, **kw) -> Nginx:
        n = Nginx(self.root, os.path.join(self.work, f"nginx{len(os.listdir(self.work))}"), **kw)
        self.addCleanup(n.stop)
        return n

    def get(self, items: list[str], extra: list[str] | None = None,
            timeout: float = 120, quiet: bool = True) -> subprocess.CompletedProcess:
        """braid get; quiet=False keeps the warnings (sources left out)."""
        args = ["get", *items, "-o", self.out, "--stats-json", self.stats]
        args += ["-q"] if quiet else []
        return h.run_braid(args + list(extra or []), timeout=timeout)

    def assert_ok(self, r: subprocess.CompletedProcess) -> dict:
        err = r.stderr.decode("utf-8", "replace")
        self.assertEqual(r.returncode, 0, err)
        self.assertEqual(h.sha256_file(self.out), self.digest)
        with open(self.stats) as f:
            return json.load(f)

    def bytes_from(self, st: dict, url: str) -> int:
        return sum(s["bytes"] for s in st["sources"] if s["address"] == url)

    def assert_unused(self, st: dict, url: str) -> None:
        """url took no part in the output: left out before the start (not
        listed), or failed with no bytes taken from it."""
        for s in st["sources"]:
            if s["address"] == url:
                self.assertTrue(s["failed"], s)
                self.assertEqual(s["bytes"], 0, s)

    def assert_failed(self, r: subprocess.CompletedProcess, *needles: str) -> str:
        err = r.stderr.decode("utf-8", "replace")
        self.assertNotEqual(r.returncode, 0, err)
        lines = h.nonempty_lines(err)
        self.assertEqual(len(lines), 1, f"want one clear line: {err}")
        for n in needles:
            self.assertIn(n, lines[0])
        self.assertFalse(os.path.exists(self.out))
        return lines[0]

    def test_three_mirrors(self) -> None:
        ms = [self.mirror() for _ in range(3)]
        st = self.assert_ok(self.get([m.url("data.bin") for m in ms]))
        self.assertEqual(st["name"], "data.bin")
        self.assertEqual(st["bytes"], self.SIZE)
        self.assertFalse(st["verified"], "mirrors alone have no manifest")
        self.assertEqual(len(st["sources"]), 3)
        for s in st["sources"]:
            self.assertGreater(s["bytes"], 0, s)
        self.assertEqual(sum(s["bytes"] for s in st["sources"]), self.SIZE)

    def test_three_mirrors_to_stdout(self) -> None:
        ms = [self.mirror() for _ in range(3)]
        r = h.run_braid(["get", *[m.url("data.bin") for m in ms], "-o", "-", "-q",
                         "--max-buffer", "8MiB"], timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        self.assertEqual(h.sha256_bytes(r.stdout), self.digest)

    def test_name_then_urls_and_default_output(self) -> None:
        m = self.mirror()
        r = h.run_braid(["get", m.url("data.bin"), m.url("data.bin") + "?copy", "-q"],
                        timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        out = os.path.join(h.scratch_dir(), "data.bin")
        self.addCleanup(os.remove, out)
        self.assertEqual(h.sha256_file(out), self.digest)

    def test_mixed_braid_servers_and_mirrors(self) -> None:
        servers = [h.start_server(self.root, log_dir=self.work) for _ in range(2)]
        for s in servers:
            self.addCleanup(s.stop)
        ms = [self.mirror() for _ in range(2)]
        items = ["data.bin"] + [m.url("data.bin") for m in ms]
        extra = [a for s in servers for a in ("--source", s.address)]
        st = self.assert_ok(self.get(items, extra))
        self.assertTrue(st["verified"], "a braid server gives the manifest")
        self.assertEqual({s["address"] for s in st["sources"]},
                         {s.address for s in servers} | {m.url("data.bin") for m in ms})
        self.assertGreater(sum(s["bytes"] for s in st["sources"] if "http" in s["address"]), 0)

    def test_lying_mirror_is_dropped_when_a_manifest_exists(self) -> None:
        server = h.start_server(self.root, log_dir=self.work)
        self.addCleanup(server.stop)
        liar, good = self.mirror(), self.mirror()
        st = self.assert_ok(self.get(
            ["data.bin", liar.url("liar.bin"), good.url("data.bin"), "--source", server.address],
            quiet=False))
        by = {s["address"]: s for s in st["sources"]}
        self.assertTrue(by[liar.url("liar.bin")]["failed"], st)
        self.assertIn("bad data", by[liar.url("liar.bin")]["error"])

    def metalink(self, urls: list[str]) -> str:
        """`braid metalink` of data.bin with these mirror URLs; its path."""
        meta = os.path.join(self.work, f"data{len(os.listdir(self.work))}.meta4")
        r = h.run_braid(["metalink", os.path.join(self.root, "data.bin"), *urls, "-o", meta])
        self.assertEqual(r.returncode, 0, r.stderr)
        return meta

    def test_a_corrupt_mirror_is_found_by_a_metalinks_piece_hashes(self) -> None:
        m = self.mirror()
        good, four = m.url("data.bin"), m.url("four.bin")
        r = self.get([self.metalink([four, good])], quiet=False)
        st = self.assert_ok(r)
        self.assertTrue(st["verified"])
        by = {s["address"]: s for s in st["sources"]}
        self.assertTrue(by[four]["failed"], st)
        self.assertIn("does not match", by[four]["error"])
        # Alone, the corrupt mirror cannot make the file: integrity, exit 5.
        os.remove(self.out)
        r = self.get([self.metalink([four])])
        self.assertEqual(r.returncode, 5, r.stderr)
        self.assertFalse(os.path.exists(self.out))

    def test_a_metalink_by_url(self) -> None:
        m = self.mirror()
        good, four = m.url("data.bin"), m.url("four.bin")
        published = os.path.join(self.work, "published")
        os.makedirs(published)
        os.rename(self.metalink([four, good]), os.path.join(published, "data.bin.meta4"))
        web = Nginx(published, os.path.join(self.work, "nginx-meta"))
        self.addCleanup(web.stop)
        st = self.assert_ok(self.get([web.url("data.bin.meta4")]))
        self.assertEqual(st["name"], "data.bin")  # the file the metalink names
        self.assertTrue(st["verified"])
        self.assertTrue({s["address"]: s for s in st["sources"]}[four]["failed"])
        os.remove(self.out)
        self.assert_failed(self.get([web.url("nothere.meta4")]), "HTTP 404")

    def linker(self, link: str, published: str | None = None) -> Nginx:
        """A mirror whose /linked/ answers carry this Link field (RFC 6249),
        and which serves `published` under /pub/."""
        pub = f"location /pub/ {{ alias {published}/; }}" if published else ""
        return self.mirror(extra=f"location /linked/ {{ alias {self.root}/; "
                                 f"add_header Link '{link}'; }} {pub}")

    def test_a_mirror_linking_a_metalink(self) -> None:
        """The mirror's Link names a Metalink (a path on its origin) whose
        piece hashes check every block and whose mirror serves changed
        bytes: that one is found and dropped."""
        m = self.mirror()
        four = m.url("four.bin")
        published = os.path.join(self.work, "published")
        os.makedirs(published)
        os.rename(self.metalink([four]), os.path.join(published, "data.bin.meta4"))
        web = self.linker('</pub/data.bin.meta4>; rel=describedby; '
                          'type="application/metalink4+xml"', published)
        url = web.url("linked/data.bin")
        r = self.get([url], quiet=False)
        st = self.assert_ok(r)
        self.assertIn("links a Metalink " + web.url("pub/data.bin.meta4"), r.stderr.decode())
        self.assertTrue(st["verified"], "the linked Metalink's piece hashes")
        self.assertEqual(st["name"], "data.bin")
        by = {s["address"]: s for s in st["sources"]}
        self.assertEqual(set(by), {url, four}, st)
        self.assertTrue(by[four]["failed"], st)
        self.assertIn("does not match", by[four]["error"])
        self.assertEqual(by[url]["bytes"], self.SIZE - self.bytes_from(st, four))
        # Links ignored: the linking mirror alone, nothing verified per block.
        os.remove(self.out)
        st = self.assert_ok(self.get([url, "--no-mirror-links"]))
        self.assertFalse(st["verified"])
        self.assertEqual([s["address"] for s in st["sources"]], [url])

    def test_a_mirror_linking_duplicates(self) -> None:
        others = [self.mirror(), self.mirror()]
        dups = [o.url("data.bin") for o in others]
        web = self.linker(f"<{dups[0]}>; rel=duplicate; pri=2, "
                          f"<{dups[1]}>; rel=\"duplicate\"; pri=1")
        url = web.url("linked/data.bin")
        r = self.get([url], quiet=False)
        st = self.assert_ok(r)
        self.assertIn("links 2 other mirror(s): starting again", r.stderr.decode())
        self.assertEqual({s["address"] for s in st["sources"]}, {url, *dups}, st)
        for s in st["sources"]:
            self.assertGreater(s["bytes"], 0, s)
            self.assertFalse(s["failed"], s)
        self.assertEqual(sum(s["bytes"] for s in st["sources"]), self.SIZE)

    def test_a_linked_metalink_that_is_missing(self) -> None:
        web = self.linker('</pub/nothere.meta4>; rel=describedby; '
                          'type="application/metalink4+xml"', self.work)
        url = web.url("linked/data.bin")
        r = self.get([url], quiet=False)
        st = self.assert_ok(r)
        self.assertIn("the linked Metalink is not used", r.stderr.decode())
        self.assertIn("HTTP 404", r.stderr.decode())
        self.assertEqual([s["address"] for s in st["sources"]], [url])

    def test_braid_serve_publishes_metalinks_that_web_mirrors_link(self) -> None:
        """`braid serve --metalinks ROOT` keeps NAME.meta4 beside each file;
        an nginx mirror of that root links it, another nginx serves the file
        with changed bytes: a get of the first finds and drops the second."""
        root, other = os.path.join(self.work, "root"), os.path.join(self.work, "other")
        os.makedirs(root)
        os.makedirs(other)
        shutil.copy(os.path.join(self.root, "data.bin"), root)
        shutil.copy(os.path.join(self.root, "four.bin"), os.path.join(other, "data.bin"))
        link = '<$uri.meta4>; rel=describedby; type="application/metalink4+xml"'
        a = Nginx(root, os.path.join(self.work, "nginx-a"),
                  extra=f"location /pub/ {{ alias {root}/; add_header Link '{link}'; }}")
        self.addCleanup(a.stop)
        b = Nginx(other, os.path.join(self.work, "nginx-b"))
        self.addCleanup(b.stop)
        srv = h.start_server(root, log_dir=self.work, extra=[
            "--metalinks", root, "--mirror", a.url("pub"), "--mirror", b.url("")])
        self.addCleanup(srv.stop)
        doc = os.path.join(root, "data.bin.meta4")
        self.assertTrue(h.wait_until(lambda: os.path.exists(doc), 30), srv.stderr_text())
        url, bad = a.url("pub/data.bin"), b.url("data.bin")
        st = self.assert_ok(self.get([url]))
        self.assertTrue(st["verified"], "every block checked against the piece hashes")
        by = {s["address"]: s for s in st["sources"]}
        self.assertEqual(set(by), {url, bad}, st)
        self.assertTrue(by[bad]["failed"], st)
        self.assertIn("does not match", by[bad]["error"])
        # A file added gets its document, one removed loses it.
        late = os.path.join(root, "late.bin")
        h.write_random_file(late, 300000)
        self.assertTrue(h.wait_until(lambda: os.path.exists(late + ".meta4"), 30))
        with open(late + ".meta4") as f:
            self.assertIn("<size>300000</size>", f.read())
        os.remove(late)
        self.assertTrue(h.wait_until(lambda: not os.path.exists(late + ".meta4"), 30))
        self.assertTrue(os.path.exists(doc))
        self.assertFalse(os.path.exists(doc + ".meta4"))

    def test_lighttpd_beside_nginx_and_an_empty_file_on_it(self) -> None:
        lroot = os.path.join(self.work, "lroot")
        os.makedirs(lroot)
        os.link(os.path.join(self.root, "data.bin"), os.path.join(lroot, "data.bin"))
        open(os.path.join(lroot, "empty.bin"), "wb").close()
        light = Lighttpd(lroot, os.path.join(self.work, "lighttpd"))
        self.addCleanup(light.stop)
        n = self.mirror()
        st = self.assert_ok(self.get([light.url("data.bin"), n.url("data.bin")]))
        for s in st["sources"]:
            self.assertGreater(s["bytes"], 0, s)
            self.assertFalse(s["failed"], s)
        # lighttpd answers a range of an empty file with 200 and no body.
        os.remove(self.out)
        r = self.get([light.url("empty.bin")])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(os.path.getsize(self.out), 0)

    def test_a_metalink_without_braid_piece_hashes_checks_the_whole_file(self) -> None:
        m = self.mirror()
        meta = os.path.join(self.work, "foreign.meta4")
        with open(meta, "w") as f:
            f.write(f'''<?xml version="1.0" encoding="UTF-8"?>
<metalink xmlns="urn:ietf:params:xml:ns:metalink">
  <file name="data.bin">
    <size>{self.SIZE}</size>
    <hash type="sha-256">{self.digest}</hash>
    <pieces length="1048576" type="sha-1"><hash>00</hash></pieces>
    <url priority="1">{m.url("four.bin")}</url>
  </file>
</metalink>''')
        r = self.get([meta], quiet=False)
        self.assertEqual(r.returncode, 2, r.stderr)  # 1 piece hash for 24 MB
        self.assertIn(b"piece hashes for", r.stderr)
        with open(meta) as f:
            text = f.read().replace('<pieces length="1048576" type="sha-1"><hash>00</hash>'
                                    "</pieces>", "")
        with open(meta, "w") as f:
            f.write(text)
        r = self.get([meta])
        self.assertEqual(r.returncode, 5, r.stderr)
        self.assertIn(b"SHA-256", r.stderr)
        os.remove(self.out + ".braid-bad")
        # The same Metalink by URL: its SHA-256 is checked too.
        web = Nginx(self.work, os.path.join(self.work, "nginx-meta"))
        self.addCleanup(web.stop)
        r = self.get([web.url("foreign.meta4")])
        self.assertEqual(r.returncode, 5, r.stderr)
        self.assertIn(b"SHA-256", r.stderr)
        self.assertFalse(os.path.exists(self.out))
        with open(meta, "w") as f:
            f.write(text.replace(m.url("four.bin"), m.url("data.bin")))
        st = self.assert_ok(self.get([meta]))
        self.assertTrue(st["sha256_checked"])

    def test_mirror_of_another_file_same_size_is_left_out(self) -> None:
        ms = [self.mirror() for _ in range(3)]
        urls = [ms[0].url("data.bin"), ms[1].url("other.bin"), ms[2].url("data.bin")]
        r = self.get(urls, quiet=False)
        st = self.assert_ok(r)
        self.assertIn(urls[1], r.stderr.decode())
        self.assert_unused(st, urls[1])

    def test_mirror_of_another_size_is_left_out(self) -> None:
        ms = [self.mirror() for _ in range(3)]
        urls = [ms[0].url("short.bin"), ms[1].url("data.bin"), ms[2].url("data.bin")]
        r = self.get(urls, quiet=False)
        st = self.assert_ok(r)
        self.assertIn(urls[0], r.stderr.decode())
        self.assert_unused(st, urls[0])

    def test_mirror_answering_500_or_404_is_left_out(self) -> None:
        ms = [self.mirror() for _ in range(3)]
        urls = [ms[0].url("err/data.bin"), ms[1].url("data.bin"), ms[2].url("nothere.bin")]
        r = self.get(["data.bin", *urls], quiet=False)
        self.assert_ok(r)
        err = r.stderr.decode()
        self.assertIn("HTTP 500", err)
        self.assertIn("HTTP 404", err)

    def run_with_fault(self, fault) -> None:
        """Three slow mirrors; fault(mirror 0) once the transfer runs."""
        # nginx limits each request after a first second's worth: 1 MiB
        # requests (on loopback a mirror asks for 1 MiB at a time) at 512
        # KB/s take about 1 s, 2 at a time per mirror: the transfer takes
        # about 4 s.
        ms = [self.mirror(slow="512k") for _ in range(3)]
        urls = [m.url("slow/data.bin") for m in ms]
        trace = os.path.join(self.work, "trace.jsonl")
        args = [h.braid_bin(), "get", *urls, "-o", self.out, "-q", "--stats-json", self.stats,
                "--block-size", "1MiB", "--trace", trace]
        bg = h.BackgroundGet(args, self.work)
        try:
            # The fault comes once mirror 0 has delivered data.
            h.wait_trace(trace, lambda rows: h.sent_by(rows, urls[0]), 30,
                         "data from mirror 0", bg.proc)
            self.assertIsNone(bg.proc.poll(), "transfer ended before the fault")
            fault(ms[0])
            rc = bg.wait(120)
        finally:
            bg.kill()
        self.assertEqual(rc, 0, bg.stderr())
        self.assertEqual(h.sha256_file(self.out), self.digest)
        with open(self.stats) as f:
            st = json.load(f)
        by = {s["address"]: s for s in st["sources"]}
        self.assertTrue(by[ms[0].url("slow/data.bin")]["failed"], st)

    def test_mirror_killed_mid_transfer(self) -> None:
        self.run_with_fault(lambda m: m.stop())

    def test_mirror_frozen_mid_transfer(self) -> None:
        def freeze(m: Nginx) -> None:
            m.proc.send_signal(signal.SIGSTOP)
            self.addCleanup(m.proc.send_signal, signal.SIGCONT)
        self.run_with_fault(freeze)

    def python_http_server(self) -> str:
        """`python3 -m http.server` on the root (it ignores Range); its URL."""
        for _ in range(3):  # the port may be taken between choice and bind
            port = free_tcp_port()
            proc = subprocess.Popen([sys.executable, "-m", "http.server", str(port),
                                     "--bind", "127.0.0.1", "--directory", self.root],
                                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
            self.addCleanup(lambda p=proc: p.poll() is None and (p.kill(), p.wait(10)))
            if h.wait_until(lambda: port_open(port) or proc.poll() is not None, 10) \
                    and proc.poll() is None:
                return f"http://127.0.0.1:{port}/data.bin"
        self.fail("python3 -m http.server did not start")

    def test_a_server_without_ranges_alone_is_fetched_whole(self) -> None:
        for url in (self.mirror().url("norange/data.bin"), self.python_http_server()):
            with self.subTest(url=url):
                r = self.get([url], quiet=False)
                st = self.assert_ok(r)
                self.assertIn("does not serve byte ranges; fetching the whole file",
                              r.stderr.decode())
                self.assertEqual(st["sources"][0]["bytes"], self.SIZE)
                os.remove(self.out)
        # Standard output too; --range needs ranges: a clear error.
        r = h.run_braid(["get", url, "-o", "-", "-q"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(h.sha256_bytes(r.stdout), self.digest)
        self.assert_failed(self.get([url], ["--range", "0-9"]), "byte ranges")

    def test_a_server_without_ranges_among_others_is_left_out(self) -> None:
        m = self.mirror()
        r = self.get([m.url("norange/data.bin"), m.url("data.bin")], quiet=False)
        st = self.assert_ok(r)
        self.assertIn("byte ranges", r.stderr.decode())
        bad = re.escape(m.url("norange/data.bin"))
        self.assertRegex(r.stderr.decode(), rf"(leaving out source {bad}|source {bad} failed): ")
        self.assert_unused(st, m.url("norange/data.bin"))
        self.assertEqual(self.bytes_from(st, m.url("data.bin")), self.SIZE)

    def test_bad_urls_are_clear_errors(self) -> None:
        m = self.mirror()
        self.assert_failed(self.get([m.url("nothere.bin")]), "HTTP 404")
        self.assert_failed(self.get([f"http://127.0.0.1:{h.closed_port()}/data.bin"]),
                           "cannot connect")
        r = self.get(["ftp://127.0.0.1/data.bin"])
        self.assertEqual(r.returncode, 2)
        self.assertIn("only http and https", r.stderr.decode())
        r = self.get(["data.bin", "127.0.0.1:7070"])
        self.assertEqual(r.returncode, 2)
        self.assertIn("not a URL", r.stderr.decode())

    def test_content_id_needs_a_braid_source(self) -> None:
        m = self.mirror()
        self.assert_failed(self.get([m.url("data.bin")], ["--content-id", "ab" * 32]),
                           "no manifest", "--sha256")

    def test_sha256(self) -> None:
        m = self.mirror()
        st = self.assert_ok(self.get([m.url("data.bin")], ["--sha256", self.digest]))
        self.assertTrue(st["sha256_checked"])
        wrong = "0" * 64
        os.remove(self.out)
        r = self.get([m.url("data.bin")], ["--sha256", wrong])
        self.assertEqual(r.returncode, 5, r.stderr)  # integrity
        self.assert_failed(r, "SHA-256", wrong, "kept as")
        # Kept for a look, not under the output's name.
        self.assertEqual(h.sha256_file(self.out + ".braid-bad"), self.digest)


    def test_an_empty_file(self) -> None:
        # nginx answers a Range on an empty file with 200 and no body;
        # Apache with 416 "bytes */0" (played here by a small server).
        open(os.path.join(self.root, "empty.bin"), "wb").close()
        self.addCleanup(os.unlink, os.path.join(self.root, "empty.bin"))
        m = self.mirror()
        apache = EmptyFile416()
        self.addCleanup(apache.stop)
        for urls in ([m.url("empty.bin")], [m.url("empty.bin"), apache.url("empty.bin")]):
            r = self.get(urls)
            self.assertEqual(r.returncode, 0, r.stderr.decode())
            self.assertEqual(os.path.getsize(self.out), 0)
            os.unlink(self.out)
        proxy = self.proxy_of([m.url("empty.bin")])
        status, _, body = self.http(proxy, "GET", "/empty.bin")
        self.assertEqual((status, body), (200, b""))

    def interrupted_get(self, urls: list[str]) -> None:
        """braid get of urls, interrupted (Ctrl-C) once its resume state
        names 2 MB; the partial file and its state must be kept."""
        args = [h.braid_bin(), "get", *urls, "-o", self.out, "-q"]
        rc, err = h.interrupt_when_saved(self, args, self.out + ".braid-state", 2 * MB,
                                         signal.SIGINT)
        self.assertNotEqual(rc, 0)
        self.assertIn("resume", err)
        self.assertTrue(os.path.exists(self.out + ".braid-part"))

    def slow_file(self) -> tuple[str, str]:
        """A 16 MB file and one mirror of it at 512 KB/s per connection.
        nginx's limit_rate binds a range longer than a second's worth only
        (each request may send its first second's worth at once): on
        loopback a mirror asks for 1 MiB at a time, 1 s each, two at a time
        (about 8 s; the first resume state comes at 2 s)."""
        path = os.path.join(self.root, "resume.bin")
        digest = h.write_random_file(path, 16 * MB)
        self.addCleanup(os.unlink, path)
        return self.mirror(slow="512k").url("slow/resume.bin"), digest

    def test_mirrors_alone_resume_while_they_serve_the_same_version(self) -> None:
        url, digest = self.slow_file()
        self.interrupted_get([url])
        r = self.get([url])
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        self.assertEqual(h.sha256_file(self.out), digest)
        with open(self.stats) as f:
            st = json.load(f)
        self.assertGreater(st["resumed_bytes"], 2 * MB, st)
        fetched = sum(src["bytes"] for src in st["sources"])
        self.assertEqual(fetched + st["resumed_bytes"], 16 * MB, st)
        self.assertEqual(st["content_id"], "", "mirrors name no content")
        self.assertFalse(os.path.exists(self.out + ".braid-state"))

    def test_mirrors_alone_start_over_when_the_file_changed(self) -> None:
        url, digest = self.slow_file()
        self.interrupted_get([url])
        # A new version: the same bytes here, but a new Last-Modified and ETag.
        path = os.path.join(self.root, "resume.bin")
        later = os.stat(path).st_mtime + 60
        os.utime(path, (later, later))
        r = self.get([url])
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        self.assertEqual(h.sha256_file(self.out), digest)
        with open(self.stats) as f:
            self.assertEqual(json.load(f)["resumed_bytes"], 0)

    # -- braid proxy with mirrors alone

    def proxy_of(self, urls: list[str]) -> h.Server:
        p = h.start_proxy(urls, log_dir=self.work)
        self.addCleanup(p.stop)
        return p

    def http(self, proxy: h.Server, method: str, path: str,
             headers: dict | None = None) -> tuple[int, dict, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=60)
        try:
            conn.request(method, path, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
        finally:
            conn.close()

    def test_proxy_of_mirrors_alone_serves_their_file_and_only_it(self) -> None:
        ms = [self.mirror() for _ in range(2)]
        proxy = self.proxy_of([m.url("data.bin") for m in ms])
        status, headers, body = self.http(proxy, "GET", "/data.bin")
        self.assertEqual(status, 200, body[:300])
        self.assertEqual(len(body), self.SIZE)
        self.assertEqual(hashlib.sha256(body).hexdigest(), self.digest)
        # Mirrors name no content: no ETag made of an unknown id.
        self.assertNotIn("etag", headers)
        status, _, part = self.http(proxy, "GET", "/data.bin", {"Range": "bytes=1000-" + str(
            1000 + 3 * MB - 1)})
        self.assertEqual(status, 206)
        with open(os.path.join(self.root, "data.bin"), "rb") as f:
            f.seek(1000)
            self.assertEqual(part, f.read(3 * MB))
        # Another name: the mirror URLs are data.bin's, not a source of it.
        status, _, body = self.http(proxy, "GET", "/other.bin")
        self.assertEqual(status, 404, body)
        self.assertIn(b"other.bin", body)
        self.assertTrue(proxy.alive(), proxy.stderr_text())

    def test_proxy_follows_a_mirrors_links_once_per_session(self) -> None:
        other = self.mirror()
        web = self.linker(f"<{other.url('data.bin')}>; rel=duplicate")
        proxy = self.proxy_of([web.url("linked/data.bin")])
        for ask in ({}, {"Range": "bytes=0-999"}, {"Range": f"bytes={5 * MB}-"}):
            status, _, body = self.http(proxy, "GET", "/data.bin", ask)
            self.assertIn(status, (200, 206), body[:300])
        self.assertEqual(status, 206)
        self.assertEqual(len(body), self.SIZE - 5 * MB)
        log = proxy.stderr_text()
        self.assertEqual(log.count("links 1 other mirror(s): starting again"), 1, log)
        # The duplicate served too.
        with open(other.access_log) as f:
            self.assertGreater(len(f.readlines()), 2)

    def test_proxy_of_a_server_without_ranges_gives_the_whole_file(self) -> None:
        proxy = self.proxy_of([self.python_http_server()])
        status, headers, _ = self.http(proxy, "HEAD", "/data.bin")
        self.assertEqual(status, 200)
        self.assertEqual(int(headers["content-length"]), self.SIZE)
        self.assertEqual(headers["accept-ranges"], "none")
        # A Range is ignored, as HTTP lets a server do: the whole file, 200.
        for ask in ({}, {"Range": "bytes=100-199"}):
            status, headers, body = self.http(proxy, "GET", "/data.bin", ask)
            self.assertEqual(status, 200, body[:300])
            self.assertEqual(hashlib.sha256(body).hexdigest(), self.digest)
        self.assertTrue(proxy.alive(), proxy.stderr_text())

    def test_proxy_refuses_a_file_that_changed_size_since_its_session_opened(self) -> None:
        # Mirrors name no content: the size the session described (and the
        # proxy sends as Content-Length) is what each fetch holds them to.
        path = os.path.join(self.root, "swap.bin")
        digest = h.write_random_file(path, 3 * MB)
        self.addCleanup(os.unlink, path)
        m = self.mirror()
        proxy = self.proxy_of([m.url("swap.bin")])
        status, headers, body = self.http(proxy, "GET", "/swap.bin")
        self.assertEqual((status, hashlib.sha256(body).hexdigest()), (200, digest))
        h.write_random_file(path, 2 * MB)  # replaced within the session's 10 s
        status, headers, body = self.http(proxy, "GET", "/swap.bin")
        self.assertEqual(status, 502, body[:300])
        self.assertIn(b"as when the session opened", body)
        self.assertTrue(proxy.alive(), proxy.stderr_text())

    def test_proxy_answers_502_when_the_mirror_is_gone_before_the_first_byte(self) -> None:
        m = self.mirror()
        proxy = self.proxy_of([m.url("data.bin")])
        status, _, _ = self.http(proxy, "HEAD", "/data.bin")
        self.assertEqual(status, 200)  # the session is open (kept 10 s)
        m.stop()
        status, headers, body = self.http(proxy, "GET", "/data.bin")
        self.assertEqual(status, 502, body[:300])
        self.assertIn(b"cannot connect", body)
        self.assertNotIn("content-range", headers)
        self.assertTrue(proxy.alive(), proxy.stderr_text())


if __name__ == "__main__":
    unittest.main()
