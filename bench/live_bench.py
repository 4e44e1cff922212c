#!/usr/bin/env python3
"""A live stream at a fixed bitrate from servers whose links are each below it
(run as root; Python 3 standard library).

One producer writes the stream at BITRATE into a FIFO per server; each server
(network namespace brb-sI, link shaped server -> client as in shaped_bench.py)
runs ``braid serve --live cam=FIFO``. The client in brb-c runs
``braid get cam ... -o -`` into this script, which plays it like a player: it
starts after PREROLL seconds of media have arrived, consumes at the bitrate,
and counts a stall whenever it has nothing to play (it then waits for
REBUFFER seconds of media). The end-to-end delay of a byte is the time from
the producer writing it to the player receiving it.

    python3 bench/live_bench.py --bitrate-mbit 40 --rates 20,17.5,12.5 \\
        --seconds 30 --runs all,best --out live.json

``--drop 1:14@10`` changes link 1 to 14 Mbit/s 10 s into the stream.

Runs: ``all`` fetches from every server at once, ``best`` from the fastest
link alone (which is below the bitrate, so it must fall behind).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import netns  # noqa: E402


class Producer(threading.Thread):
    """Writes `seconds` of random bytes at `rate` B/s to every FIFO; records
    (time, bytes so far) after each write."""

    def __init__(self, fifos: list[str], rate: float, seconds: float):
        super().__init__(daemon=True)
        self.fifos, self.rate, self.seconds = fifos, rate, seconds
        self.marks: list[tuple[float, int]] = []
        self.total = 0

    def run(self) -> None:
        files = [open(p, "wb", buffering=0) for p in self.fifos]
        tick = 0.01
        chunk = max(1, int(self.rate * tick))
        start = time.monotonic()
        n = 0
        while time.monotonic() - start < self.seconds:
            b = os.urandom(chunk)
            for f in list(files):
                try:
                    f.write(b)
                except BrokenPipeError:
                    files.remove(f)
            self.total += chunk
            self.marks.append((time.monotonic(), self.total))
            n += 1
            time.sleep(max(0.0, start + n * tick - time.monotonic()))
        for f in files:
            f.close()


def at_bytes(marks: list[tuple[float, int]], x: int) -> float:
    """First time at which `marks` (time, cumulative bytes) reached x bytes."""
    lo, hi = 0, len(marks) - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if marks[mid][1] >= x:
            hi = mid
        else:
            lo = mid + 1
    return marks[lo][0]


def play(arrivals: list[tuple[float, int]], rate: float, total: int,
         preroll: float, rebuffer: float, step: float = 0.005) -> dict:
    """A player consuming `rate` B/s from what arrived; stalls and their time."""
    if not arrivals:
        return {"stalls": None, "stall_seconds": None}
    t, i, got, played = arrivals[0][0], 0, 0, 0.0
    playing, started, stalls, stalled_for = False, False, 0, 0.0
    end = arrivals[-1][0] + total / rate + 1
    while played < total and t < end:
        while i < len(arrivals) and arrivals[i][0] <= t:
            got = arrivals[i][1]
            i += 1
        buffered = got - played
        if playing:
            played = min(played + rate * step, float(got))
            if played >= got and got < total:
                playing, stalls = False, stalls + 1
        else:
            need = (preroll if not started else rebuffer) * rate
            if buffered >= min(need, total - played):
                playing, started = True, True
            elif started:
                stalled_for += step
        t += step
    return {"stalls": stalls, "stall_seconds": round(stalled_for, 2)}


def run_once(star: netns.Star, sources: list[int], bitrate: float, seconds: float,
             fifos: list[str], args) -> dict:
    srcs = []
    for i in sources:
        srcs += ["--source", star.servers[i]["braid_addr"]]
    prod = Producer(fifos, bitrate, seconds)
    client = netns.run_in(netns.CLIENT_NS, [netns.BRAID_BIN, "get", "cam", *srcs, "-o", "-",
                                            "--max-buffer", args.max_buffer, "-q"],
                          stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE)
    prod.start()
    if args.drop:
        link, rest = args.drop.split(":")
        mbit, at = rest.split("@")
        threading.Timer(float(at), star.set_rate, (int(link), float(mbit))).start()
    arrivals: list[tuple[float, int]] = []
    got = 0
    deadline = time.monotonic() + seconds * 4 + 30
    while time.monotonic() < deadline:
        b = client.stdout.read1(1 << 20)
        if not b:
            break
        got += len(b)
        arrivals.append((time.monotonic(), got))
    prod.join(10)
    try:
        rc = client.wait(timeout=10)
    except subprocess.TimeoutExpired:
        netns.kill(client)
        rc = None
    err = client.stderr.read().decode(errors="replace")[-500:]
    total = prod.total
    delays = [a[0] - at_bytes(prod.marks, a[1]) for a in arrivals if a[1] <= total]
    result = {"sources": sources, "rc": rc, "produced": total, "received": got,
              "complete": got == total,
              "max_delay_s": round(max(delays), 3) if delays else None,
              "mean_delay_s": round(sum(delays) / len(delays), 3) if delays else None,
              "end_delay_s": round(arrivals[-1][0] - prod.marks[-1][0], 3) if arrivals else None}
    result.update(play(arrivals, bitrate, total, args.preroll, args.rebuffer))
    if rc != 0:
        result["stderr"] = err
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bitrate-mbit", type=float, default=40)
    ap.add_argument("--rates", default="20,17.5,12.5", help="link rates, Mbit/s")
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--runs", default="all,best")
    ap.add_argument("--preroll", type=float, default=1.0, help="seconds buffered before playing")
    ap.add_argument("--rebuffer", type=float, default=0.5, help="seconds buffered after a stall")
    ap.add_argument("--max-buffer", default="8MiB")
    ap.add_argument("--drop", help="LINK:MBIT@SECONDS: change a link's rate mid-stream")
    ap.add_argument("--out")
    ap.add_argument("--cleanup", action="store_true")
    args = ap.parse_args()
    if args.cleanup:
        netns.cleanup_all()
        return 0
    rates = [float(r) for r in args.rates.split(",")]
    bitrate = args.bitrate_mbit * 1e6 / 8
    tmp = tempfile.mkdtemp(prefix="brb-live-")
    netns.snapshot_braid(tmp)
    results = {"bitrate_mbit": args.bitrate_mbit, "rates_mbit": rates,
               "sum_over_bitrate": round(sum(rates) / args.bitrate_mbit, 3),
               "seconds": args.seconds, "preroll_s": args.preroll, "runs": {}}
    best = max(range(1, len(rates) + 1), key=lambda i: rates[i - 1])
    for run in args.runs.split(","):
        sources = list(range(1, len(rates) + 1)) if run == "all" else [best]
        with netns.Star(rates) as star:
            root = os.path.join(tmp, "root")
            os.makedirs(root, exist_ok=True)
            fifos = []
            for i in range(1, len(rates) + 1):
                fifo = os.path.join(tmp, f"feed-{run}-{i}")
                os.mkfifo(fifo)
                fifos.append(fifo)
                ns, host = netns.server_ns(i), netns.server_addr(i)
                p, addr = netns.start_braid(ns, host, netns.BRAID_PORT, root,
                                            extra=["--discovery", "off", "--live", f"cam={fifo}"],
                                            log_path=star.braid_log(i))
                star.servers[i] = {"braid": p, "braid_addr": addr}
            r = run_once(star, sources, bitrate, args.seconds, fifos, args)
        results["runs"][run] = r
        print(json.dumps({run: r}), flush=True)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
