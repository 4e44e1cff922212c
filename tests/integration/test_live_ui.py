"""Integration tests: `braid get --serve-ui`, the live view of a transfer.

Three rate-limited servers make a download last several seconds; while it
runs the test reads the view's /events (the trace lines) and /summary, then
loads the page in headless Chromium and checks in the screenshot that the
rate chart is drawn in the sources' colours. The PNG is decoded here with
zlib (standard library only). Set BRAID_LIVE_UI_SCREENSHOT=FILE to keep the
screenshot (docs/img/live-view.png was made so).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import unittest
import urllib.error
import urllib.request
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness as h  # noqa: E402

MB = 1000 * 1000
URL_RE = re.compile(r"live view at (http://127\.0\.0\.1:(\d+)/)")
# The first sources' colours in src/cli/live_ui/live.js (ids 0, 1, 2).
COLOURS = [(0x1F, 0x77, 0xB4), (0xFF, 0x7F, 0x0E), (0x2C, 0xA0, 0x2C)]
# A source's area in the stacked rate chart is some 1000 x 60 pixels or
# more; its legend swatch is 10 x 10.
MIN_CHART_PIXELS = 5000


def chromium() -> str:
    for name in ("chromium-headless-shell", "chromium"):
        path = shutil.which(name)
        if path:
            return path
    raise AssertionError("no headless Chromium (Debian: chromium-headless-shell)")


def get_text(url: str, host: str | None = None) -> tuple[int, str]:
    req = urllib.request.Request(url)
    if host:
        req.add_header("Host", host)
    try:
        with urllib.request.urlopen(req, timeout=10 * h.SLOW) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def get_json(url: str):
    status, body = get_text(url)
    assert status == 200, (url, status, body)
    return json.loads(body)


def wait_url(bg: h.BackgroundGet) -> str:
    found = []

    def bound() -> bool:
        m = URL_RE.search(bg.stderr())
        if m:
            found.append(m.group(1))
        return bool(m) or bg.proc.poll() is not None

    h.wait_until(bound, 10)
    if not found:
        raise AssertionError(f"no 'live view at' line; stderr:\n{bg.stderr()}")
    return found[0]


def events(url: str) -> list[dict]:
    rows, at = [], 0
    while True:
        answer = get_json(f"{url}events?from={at}")
        rows += answer["events"]
        at = answer["next"]
        if not answer["more"]:
            return rows


def all_rates_seen(url: str, addresses: list[str]) -> bool:
    rows = [r for r in events(url) if r["kind"] == "interval"]
    return any(all(h.sent_by([r], a) for a in addresses) for r in rows)


# ---- PNG (RFC 2083): 8-bit RGB or RGBA, not interlaced.

def _unfilter(kind: int, line: bytearray, prev: bytes, bpp: int) -> None:
    for i in range(len(line)):
        a = line[i - bpp] if i >= bpp else 0
        b = prev[i]
        c = prev[i - bpp] if i >= bpp else 0
        if kind == 1:
            line[i] = (line[i] + a) & 0xFF
        elif kind == 2:
            line[i] = (line[i] + b) & 0xFF
        elif kind == 3:
            line[i] = (line[i] + (a + b) // 2) & 0xFF
        elif kind == 4:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            line[i] = (line[i] + pred) & 0xFF


def read_png(path: str) -> tuple[int, int, int, list[bytes]]:
    """(width, height, bytes per pixel, rows of pixel bytes)."""
    with open(path, "rb") as f:
        data = f.read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    at, idat, width = 8, b"", 0
    while at < len(data):
        length, kind = struct.unpack(">I4s", data[at:at + 8])
        body = data[at + 8:at + 8 + length]
        at += 12 + length
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and colour in (2, 6) and interlace == 0, body
            bpp = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += body
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows, prev = [], bytes(stride)
    for y in range(height):
        start = y * (stride + 1)
        line = bytearray(raw[start + 1:start + 1 + stride])
        _unfilter(raw[start], line, prev, bpp)
        rows.append(bytes(line))
        prev = line
    return width, height, bpp, rows


def count_colour(png: tuple, rgb: tuple[int, int, int]) -> int:
    """Pixels of exactly this colour (a canvas fills shapes with it)."""
    width, _, bpp, rows = png
    want = bytes(rgb)
    return sum(1 for row in rows for x in range(0, width * bpp, bpp)
               if row[x:x + 3] == want)


class LiveView(unittest.TestCase):
    # 64 MB from three servers at 2.5 MB/s each: about 8.5 s, of which the
    # checks and the screenshot take 3 to 4 (more on a busy machine).
    SIZE = 64 * MB

    @classmethod
    def setUpClass(cls) -> None:
        cls.digest = h.class_root(cls, "big.bin", cls.SIZE)

    def setUp(self) -> None:
        self.tmp = h.make_temp_dir(self)

    def start_get(self, rate: str, extra: list[str]) -> tuple[h.BackgroundGet, list[str]]:
        servers = []
        for _ in range(3):
            srv = h.start_server(self.root, max_rate=rate, log_dir=self.tmp)
            self.addCleanup(srv.stop)
            servers.append(srv)
        addresses = [s.address for s in servers]
        out = os.path.join(self.tmp, "out.bin")
        args = h.get_args("big.bin", addresses, out, quiet=True,
                          extra=["--serve-ui", "127.0.0.1:0", "--sha256", self.digest] + extra)
        bg = h.BackgroundGet(args, self.tmp)
        bg.out = out
        self.addCleanup(bg.kill)
        return bg, addresses

    def screenshot(self, url: str) -> str:
        png = os.path.join(self.tmp, "live.png")
        args = [chromium(), "--headless", "--disable-gpu", "--hide-scrollbars",
                "--disable-background-networking", "--no-first-run",
                f"--user-data-dir={os.path.join(self.tmp, 'chromium')}",
                "--window-size=1200,900", "--virtual-time-budget=3000",
                f"--screenshot={png}", url]
        if os.geteuid() == 0:
            args.insert(1, "--no-sandbox")  # Chromium's sandbox refuses root
        r = h.run_cmd(args, timeout=60)
        self.assertTrue(os.path.isfile(png), r.stderr.decode(errors="replace"))
        keep = os.environ.get("BRAID_LIVE_UI_SCREENSHOT")
        if keep:
            shutil.copyfile(png, keep)
        return png

    def check_events(self, url: str, addresses: list[str]) -> None:
        rows = events(url)
        self.assertEqual(rows[0], {"kind": "begin", "name": "big.bin"})
        intervals = [r for r in rows if r["kind"] == "interval"]
        seen = {s["address"] for r in intervals for s in r["sources"]}
        self.assertEqual(seen, set(addresses))
        for a in addresses:
            self.assertTrue(any(h.sent_by([r], a) for r in intervals), a)
        self.assertTrue(any(r["kind"] == "pattern" for r in rows), rows[:5])
        summary = get_json(url + "summary")
        self.assertEqual(summary["name"], "big.bin")
        self.assertFalse(summary["finished"])
        self.assertEqual(summary["progress"]["total_bytes"], self.SIZE)
        self.assertEqual(summary["pattern"]["kind"], "pattern")

    def check_page(self, url: str) -> None:
        """Self-contained (nothing fetched from elsewhere), and only for
        this host."""
        for path in ("", "live.js", "live.css"):
            status, body = get_text(url + path)
            self.assertEqual(status, 200, path)
            self.assertNotIn("://", body, f"{path or 'the page'} names another site")
        status, _ = get_text(url + "summary", host="evil.example")
        self.assertEqual(status, 421)
        self.assertEqual(get_text(url + "events?from=x")[0], 400)

    def test_draws_the_running_transfer(self) -> None:
        bg, addresses = self.start_get("2.5MB", [])
        url = wait_url(bg)
        h.wait_until(lambda: all_rates_seen(url, addresses), 20)
        self.assertIsNone(bg.proc.poll(), "the transfer ended before the page was read")
        self.check_events(url, addresses)
        self.check_page(url)
        png = read_png(self.screenshot(url))
        self.assertIsNone(bg.proc.poll(), "the transfer ended before the screenshot")
        for rgb in COLOURS[:2]:
            self.assertGreater(count_colour(png, rgb), MIN_CHART_PIXELS,
                               f"the chart shows no source in #{bytes(rgb).hex()}")
        h.check_get_during(self, bg, self.digest)
        # No --serve-ui-linger: the view ends with the download.
        with self.assertRaises(urllib.error.URLError):
            urllib.request.urlopen(url, timeout=5)

    def test_lingers_until_interrupted(self) -> None:
        bg, _ = self.start_get("40MB", ["--serve-ui-linger", "600"])
        url = wait_url(bg)
        self.assertTrue(h.wait_until(lambda: get_json(url + "summary")["finished"], 30),
                        bg.stderr())
        # The download is over and the page still answers.
        self.assertEqual(h.sha256_file(bg.out), self.digest)
        self.assertTrue(get_json(url + "summary")["finished"])
        bg.proc.send_signal(signal.SIGINT)
        self.assertEqual(bg.wait(10), 0, bg.stderr())

    def test_refuses_a_bad_address(self) -> None:
        out = os.path.join(self.tmp, "never.bin")
        for value, why in (("nonsense", "--serve-ui nonsense"),
                           ("127.0.0.1:99999", "--serve-ui 127.0.0.1:99999"),
                           ("192.0.2.1:0", "cannot listen")):
            with self.subTest(value=value):
                r = h.run_braid(["get", "big.bin", "--source", "127.0.0.1:1", "-o", out,
                                 "--serve-ui", value], timeout=30)
                err = r.stderr.decode()
                self.assertEqual(r.returncode, 2, err)
                self.assertIn(why, err)
                self.assertFalse(os.path.exists(out))


if __name__ == "__main__":
    unittest.main()
