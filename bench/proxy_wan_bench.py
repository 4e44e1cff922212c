#!/usr/bin/env python3
"""`braid proxy` in front of three servers on delayed links (root).

The namespace star of shaped_bench.py (100/50/25 Mbit/s, round trips
10/40/80 ms by default, through wanem): `braid serve` in each server
namespace, `braid proxy` in the client namespace on 127.0.0.1, curl there.
A player's pattern: a HEAD, then a run of 64 KiB range requests at spread
offsets of one file, one after another. Reports, for each request, when
curl had the answer's first byte (`time_starttransfer`) and its last
(`time_total`), and how many connections the servers served for the run
(from their logs).

    BRAID_BIN=build/braid python3 bench/proxy_wan_bench.py --out proxy_wan.json
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import netns  # noqa: E402

MIB = 1024 * 1024
NAME = "movie.bin"


def curl(url: str, *extra: str) -> tuple[float, float]:
    """curl in the client namespace: its time to the answer's first byte
    (the status line: the proxy sends it before the body's first block) and
    to the last byte, in seconds."""
    out = subprocess.run(
        ["ip", "netns", "exec", netns.CLIENT_NS, "curl", "-sS", "-o", "/dev/null",
         "--max-time", "30", "-w", "%{http_code} %{time_starttransfer} %{time_total}",
         *extra, url],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=40, check=True)
    code, first, total = out.stdout.split()
    if code not in ("200", "206"):
        raise SystemExit(f"curl {url} {extra}: HTTP {code}")
    return float(first), float(total)


def start_proxy(sources: list[str], log: str) -> tuple[subprocess.Popen, int]:
    args = [netns.BRAID_BIN, "proxy", "--listen", "127.0.0.1:0", "-q"]
    for s in sources:
        args += ["--source", s]
    with open(log, "ab") as err:
        p = netns.run_in(netns.CLIENT_NS, args, stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=err)
    line = netns.read_first_line(p, 10)
    m = re.match(r"listening 127\.0\.0\.1:(\d+)", line)
    if not m:
        netns.kill(p)
        raise SystemExit(f"braid proxy: unexpected first line {line!r}")
    return p, int(m.group(1))


def accepted(log: str) -> int:
    """Connections the server closed, as its debug log tells them."""
    with open(log, "rb") as f:
        return sum(1 for line in f if b": connection closed" in line)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size-mib", type=int, default=64)
    ap.add_argument("--rates", default="100,50,25")
    ap.add_argument("--rtt-ms", default="10,40,80")
    ap.add_argument("--requests", type=int, default=8, help="range requests in the run")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--out", help="write the results here as JSON")
    a = ap.parse_args()
    rates = [float(r) for r in a.rates.split(",")]
    wan = [netns.Wan(float(r)) for r in a.rtt_ms.split(",")]
    netns.cleanup_all(verbose=False)
    res: dict[str, object] = {"binary": netns.BRAID_BIN, "rates_mbit": rates,
                              "rtt_ms": a.rtt_ms, "runs": []}
    with netns.Star(rates, wan=wan) as star:
        data = os.path.join(star.tmp, "data")
        os.makedirs(data)
        size = a.size_mib * MIB
        netns.write_random_file(os.path.join(data, NAME), size)
        sources, logs = [], []
        for i in range(1, star.n + 1):
            log = os.path.join(star.tmp, f"serve{i}.log")
            _, addr = netns.start_braid(netns.server_ns(i), netns.server_addr(i),
                                        netns.BRAID_PORT, data, extra=["-v"], log_path=log)
            sources.append(addr)
            logs.append(log)
        for run in range(a.runs):
            proxy, port = start_proxy(sources, os.path.join(star.tmp, "proxy.log"))
            url = f"http://127.0.0.1:{port}/{NAME}"
            before = sum(accepted(log) for log in logs)
            head = curl(url, "-I")[1]
            step = size // (a.requests + 1)
            ranges = [curl(url, "-r", f"{k * step}-{k * step + 65535}")
                      for k in range(1, a.requests + 1)]
            netns.terminate(proxy)
            conns = sum(accepted(log) for log in logs) - before
            row = {"head_total_s": head, "range_first_s": [r[0] for r in ranges],
                   "range_total_s": [r[1] for r in ranges], "connections": conns}
            res["runs"].append(row)
            print(f"run {run + 1}: HEAD {head * 1000:.0f} ms; ranges, answer/last byte "
                  + " ".join(f"{f * 1000:.0f}/{t * 1000:.0f}" for f, t in ranges)
                  + f" ms; {conns} connections to the servers", flush=True)
    for key in ("range_first_s", "range_total_s"):
        res[key + "_median"] = statistics.median(t for r in res["runs"] for t in r[key])
    print(f"median range: answer {res['range_first_s_median'] * 1000:.0f} ms, "
          f"last byte {res['range_total_s_median'] * 1000:.0f} ms")
    if a.out:
        with open(a.out, "w") as f:
            json.dump(res, f, indent=2)


if __name__ == "__main__":
    main()
