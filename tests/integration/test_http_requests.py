"""Integration tests: how `braid get` asks HTTP mirrors (curl's flags).

The mirror and the proxies are the small servers of http_fakes.py, in this
process on 127.0.0.1:0. Every output is compared by SHA-256.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness as h  # noqa: E402
from http_fakes import (NO_PROXY_ENV, ForwardProxy, MirrorCase, RangeMirror,  # noqa: E402
                        Socks5Proxy)

class MirrorRequests(MirrorCase):
    SIZE = 3_000_000

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

    def test_credentials_and_cookies_go_to_the_mirrors_named_only(self) -> None:
        """--user, --cookie NAME=VALUE and an Authorization header reach the
        mirror named; the mirror it links (RFC 6249) gets the other headers
        and none of those, as curl sends none to a redirect's other host."""
        for cookie, sent in ((["-b", "sid=abc; lang=fr"], "sid=abc; lang=fr"),
                             (["-H", "Cookie: extra=1"], "extra=1")):
            other = self.mirror()
            named = self.mirror(credentials="ann:s3cret",
                                link=f"<{other.url}>; rel=duplicate")
            self.assert_intact(self.get([named.url], ["-u", "ann:s3cret", "-H",
                                                      "X-Trace: t", *cookie]))
            os.remove(self.out)
            self.assertGreater(len(other.requests), 0, "the linked mirror was not used")
            for req in named.requests:
                self.assertIn("authorization", req)
                self.assertEqual(sorted(req.get("cookie", "").split("; ")),
                                 sorted(sent.split("; ")))
            for req in other.requests:
                self.assertEqual(req.get("x-trace"), "t")
                self.assertNotIn("authorization", req)
                self.assertNotIn("cookie", req)

    def test_a_redirect_to_another_port_takes_no_cookie_given_as_text(self) -> None:
        # The same host on another port is another origin: braid follows a
        # mirror's redirects itself and gives --cookie's text only to the
        # origins named (the jar keeps only the cookie file's and what
        # mirrors set, so its host rule does not apply to them).
        target = self.mirror()
        named = self.mirror(redirect=target.url)
        self.assert_intact(self.get([named.url], ["-b", "sid=abc"]))
        self.assertEqual(named.requests[0].get("cookie"), "sid=abc")
        self.assertGreater(len(target.requests), 0)
        for req in target.requests:
            self.assertNotIn("cookie", req)

    def test_a_redirect_to_another_origin_takes_no_credentials(self) -> None:
        # Another host name for the same address: cookies do not isolate
        # ports (RFC 6265), hosts they do.
        target = self.mirror()
        named = self.mirror(redirect=target.url.replace("127.0.0.1", "localhost"))
        self.assert_intact(self.get([named.url], ["-u", "ann:s3cret", "-b", "sid=abc",
                                                  "-H", "Cookie: extra=1"]))
        self.assertGreater(len(named.requests), 0)
        self.assertIn("authorization", named.requests[0])
        self.assertGreater(len(target.requests), 0)
        for req in target.requests:
            self.assertNotIn("authorization", req)
            self.assertNotIn("cookie", req)

    def test_a_metalink_url_named_takes_the_credentials_to_its_mirrors(self) -> None:
        # The user named the Metalink's URL: it and the mirrors it lists
        # are the user's, as a Metalink file's are.
        mirror = self.mirror(credentials="ann:s3cret")
        data = os.path.join(self.tmp, "f.bin")
        with open(data, "wb") as f:
            f.write(self.data)
        meta = os.path.join(self.tmp, "f.meta4")
        r = h.run_braid(["metalink", data, mirror.url, "-o", meta])
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(meta, "rb") as f:
            doc = self.mirror(data=f.read(), credentials="ann:s3cret", ranges=False)
        url = f"http://{doc.address}/f.meta4"
        self.assert_intact(self.get([url], ["-u", "ann:s3cret"]))
        self.assertTrue(all("authorization" in q for q in mirror.requests))

    def test_a_cookie_file_sends_each_cookie_to_its_domain(self) -> None:
        m = self.mirror()
        jar = os.path.join(self.tmp, "cookies.txt")
        with open(jar, "w") as f:
            f.write("# Netscape HTTP Cookie File\n"
                    "127.0.0.1\tFALSE\t/\tFALSE\t0\tsession\txyz\n"
                    "elsewhere.example\tFALSE\t/\tFALSE\t0\tnot\tme\n")
        self.assert_intact(self.get([m.url], ["--cookie", jar]))
        self.assertGreater(len(m.requests), 1)
        for req in m.requests:
            self.assertEqual(req.get("cookie"), "session=xyz")
        r = self.get([m.url], ["--cookie", os.path.join(self.tmp, "none.txt")])
        self.assertEqual(r.returncode, 2)
        self.assertIn(b"cannot read the cookie file", r.stderr)

    def test_a_cookie_the_mirror_sets_goes_with_its_later_requests(self) -> None:
        """A session cookie a mirror sets (Set-Cookie) is kept for every later
        request to it, on every connection, as a browser or `curl -c` keeps
        it; and with the user's own cookies beside it."""
        m = self.mirror(bytes_per_second=1_500_000, session_cookie="sid=s3ss10n")
        self.assert_intact(self.get([m.url], ["-b", "lang=fr"]))
        # A request on a connection an answer set the cookie on was sent
        # after that answer was read (HTTP/1.1 does not overlap them): it
        # must carry it. Others may have been sent before any answer.
        after = [carried for set_before, carried in m.cookie_asks if set_before]
        self.assertGreaterEqual(len(after), 1, m.cookie_asks)
        self.assertTrue(all(after), m.cookie_asks)
        for req in m.requests:
            self.assertIn("lang=fr", req.get("cookie", ""))

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


class MirrorsStartAtOnce(MirrorCase):
    """Each mirror starts on its own answer; their samples (the file's first
    and last bytes, with its size) vote while the file comes."""

    SIZE = 8_000_000

    def get(self, urls: list[str], extra: list[str] | None = None):
        stats = os.path.join(self.tmp, "stats.json")
        r = h.run_cmd([h.braid_bin(), "get", *urls, "-o", self.out, "-v", "--stats-json",
                       stats, *(extra or [])], timeout=120, env=NO_PROXY_ENV)
        self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace"))
        self.assertEqual(h.sha256_file(self.out), self.digest)
        with open(stats) as f:
            return r.stderr.decode(errors="replace"), json.load(f)

    def gated(self, gate: threading.Event, **kw) -> RangeMirror:
        m = self.mirror(gate=gate, **kw)
        self.addCleanup(gate.set)  # before the mirror stops (last in, first out)
        return m

    def by_address(self, st: dict) -> dict:
        return {s["address"]: s for s in st["sources"]}

    def test_mirrors_fetch_before_another_has_answered(self) -> None:
        # The third mirror answers only once another was asked for blocks
        # (not a probe): a transfer that waited for every answer would not
        # get there before giving the third up.
        gate = threading.Event()
        late = self.gated(gate)
        fast = [self.mirror(), self.mirror()]
        probes = ("bytes=0-4095", "bytes=-4096")

        def open_the_gate() -> None:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not any(
                    r.get("range") not in probes for m in fast for r in m.requests):
                time.sleep(0.005)
            gate.set()
        threading.Thread(target=open_the_gate, daemon=True).start()
        _, st = self.get([fast[0].url, late.url, fast[1].url])
        self.assertGreater(late.answered, 0)
        self.assertFalse(self.by_address(st)[late.url]["failed"], st)

    def test_the_mirrors_a_linked_mirror_links_join_too(self) -> None:
        """Links (RFC 6249) are followed from every mirror, not only from the
        first to answer: the mirror named links a second (the fetch starts
        again with both), which links a third and the first again; the
        third joins the running fetch, and each mirror takes part once."""
        first_port = h.closed_port()  # the first mirror's, known before it starts
        first_url = f"http://127.0.0.1:{first_port}/f.bin"
        third = self.mirror(bytes_per_second=1_000_000)
        second = self.mirror(bytes_per_second=1_000_000,
                             link=f"<{third.url}>; rel=duplicate, <{first_url}>; rel=duplicate")
        first = self.mirror(bytes_per_second=1_000_000, port=first_port,
                            link=f"<{second.url}>; rel=duplicate")
        self.assertEqual(first.url, first_url)
        err, st = self.get([first.url])
        took_part = [s["address"] for s in st["sources"]]
        self.assertEqual(sorted(took_part), sorted([first.url, second.url, third.url]), err)
        for s in st["sources"]:
            self.assertGreater(s["bytes"], 0, st)
        self.assertIn(f"links mirror {third.url}: it joins", err)

    def test_a_session_keeps_the_mirrors_a_later_mirror_links(self) -> None:
        """The links (RFC 6249) of a mirror that answers after the first:
        the mirror they name serves the session's later fetches too (a
        proxy's session here: its description, then two GETs), not only
        the transfer that learned of it."""
        first_port = h.closed_port()
        first_url = f"http://127.0.0.1:{first_port}/f.bin"
        third = self.mirror()
        second = self.mirror(link=f"<{third.url}>; rel=duplicate, <{first_url}>; rel=duplicate")
        first = self.mirror(port=first_port, link=f"<{second.url}>; rel=duplicate")
        proxy = h.start_daemon([h.braid_bin(), "proxy", "--listen", "127.0.0.1:0",
                                "--source", first.url], "braid proxy", log_dir=self.tmp,
                               env={**os.environ, **NO_PROXY_ENV})
        self.addCleanup(proxy.stop)
        asked = []
        for _ in range(2):
            conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=60)
            try:
                conn.request("GET", "/f.bin")
                resp = conn.getresponse()
                body = resp.read()
            finally:
                conn.close()
            self.assertEqual(resp.status, 200, body[:300])
            self.assertEqual(h.sha256_bytes(body), self.digest)
            asked.append(len(third.requests))
        self.assertGreater(asked[0], 0, proxy.stderr_text())
        self.assertGreater(asked[1], asked[0], proxy.stderr_text())

    # Under ctest with the sanitized binary the late mirror is not given up
    # on before the others finish (it passes run directly, sanitized or
    # not): not understood yet, so it runs in the release suite only and
    # the sanitized suite says it skipped it.
    @unittest.skipIf(h.SANITIZED, "the late mirror is not given up on in time "
                     "under ctest with the sanitized binary (known, open)")
    def test_a_mirror_given_up_on_while_opening_joins_when_it_answers(self) -> None:
        # The late mirror answers nothing until the trace shows it given up
        # on (the stall timer's second; a lost SYN on a far link costs as
        # much): then it answers, joins on a new connection, its samples
        # are compared, and it is given blocks.
        gate = threading.Event()
        late = self.gated(gate)
        # Slow enough (about 7 s) for a busy machine's stall timer to fire.
        fast = [self.mirror(bytes_per_second=300_000),
                self.mirror(bytes_per_second=300_000)]
        trace = os.path.join(self.tmp, "trace.jsonl")

        def open_the_gate() -> None:
            h.wait_until(lambda: any(r.get("kind") == "failed" and r["address"] == late.url
                                     for r in h.read_jsonl(trace)), 30)
            gate.set()
        threading.Thread(target=open_the_gate, daemon=True).start()
        err, st = self.get([fast[0].url, late.url, fast[1].url], ["--trace", trace])
        self.assertTrue(gate.is_set(), "the late mirror was never given up on")
        self.assertIn("answered after it was given up on: joining", err)
        rows = [s for s in st["sources"] if s["address"] == late.url]
        self.assertEqual([(r["failed"], r["joined"]) for r in rows],
                         [(True, False), (False, True)], rows)
        # Its share of blocks is not asserted: on a busy machine the others
        # may finish what is left before its samples are in (seen in the
        # flake hunt: joined, 0 bytes).

    def test_a_start_on_a_mirror_of_other_bytes_starts_again_without_it(self) -> None:
        # The odd mirror answers alone until it has sent blocks; the two
        # others then outvote it: nothing from it is kept.
        gate = threading.Event()
        odd = self.mirror(data=os.urandom(self.SIZE))
        good = [self.gated(gate), self.gated(gate)]

        def open_the_gate() -> None:  # once its first two runs were answered
            deadline = time.monotonic() + 30
            while odd.answered < 4 and time.monotonic() < deadline:
                time.sleep(0.01)
            time.sleep(0.5 * h.SLOW)  # its blocks reach the output meanwhile
            gate.set()
        threading.Thread(target=open_the_gate, daemon=True).start()
        err, st = self.get([odd.url, *(m.url for m in good)])
        self.assertGreaterEqual(odd.answered, 4)
        self.assertIn("serves other bytes than the majority of mirrors", err)
        self.assertIn("starting again", err)
        self.assertTrue(self.by_address(st)[odd.url]["failed"])
        self.assertEqual(self.by_address(st)[odd.url]["bytes"], 0)

    def test_mirrors_without_suffix_ranges_still_compare_their_ends(self) -> None:
        # "bytes=-N" refused: the end's sample is asked by offset instead.
        odd = self.mirror(data=os.urandom(self.SIZE), suffix=False)
        good = [self.mirror(suffix=False), self.mirror(suffix=False)]
        err, st = self.get([m.url for m in (good[0], odd, good[1])])
        self.assertIn("serves other bytes than the majority of mirrors", err)
        self.assertEqual(self.by_address(st).get(odd.url, {}).get("bytes", 0), 0)
        self.assertTrue(any("bytes=-" in r.get("range", "") for r in odd.requests))


class MirrorRequestsStopped(MirrorCase):
    SIZE = 4_000_000

    def test_a_request_whose_blocks_all_went_elsewhere_is_stopped(self) -> None:
        # The slow mirror's first requests (1 MiB each, 10 s at its rate)
        # are under way when the end game asks the fast one for all their
        # blocks: they are stopped, not left to bring those blocks again.
        slow = self.mirror(bytes_per_second=100_000)
        fast = self.mirror()
        stats = os.path.join(self.tmp, "stats.json")
        r = h.run_cmd([h.braid_bin(), "get", slow.url, fast.url, "-o", self.out,
                       "-v", "-v", "--stats-json", stats], timeout=60, env=NO_PROXY_ENV)
        err = r.stderr.decode(errors="replace")
        self.assertEqual(r.returncode, 0, err[-3000:])
        self.assertEqual(h.sha256_file(self.out), self.digest)
        self.assertRegex(err, r"GET blocks \d+\+\d+ cancelled after \d+ \(skipped\)")
        with open(stats) as f:
            st = json.load(f)
        self.assertLess(st["duplicate_bytes"], 256 * 1024, st)


if __name__ == "__main__":
    unittest.main()
