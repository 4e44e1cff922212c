#!/usr/bin/env python3
"""The director at scale: simulated servers registering names, look-ups,
announcement delay and memory, for the SQLite catalog (one director) and for
the etcd catalog (a three-member etcd on loopback, one and three directors).

    python3 bench/director_scale.py [--servers 10000] [--names 100]
        [--clients 16] [--seconds 10] [--announce 20] [--lease-ttl 10]
        [--heartbeat-ms 1000]
        [--stores sqlite,etcd1,etcd3]

DIRECTOR_SCALE_LOGS=1 keeps the directors' logs (info level, not -q) and
says where. build/bench/director_load does the work (one thread, every connection a
coroutine): servers registered with --allow-foreign-advertise and heartbeats
each second, then look-ups of random names (each answer checked), then a
subscriber on the first director timed until it hears of a server
registering on the last. etcd keeps its data on /dev/shm (tmpfs): the
numbers are CPU's, not a disk's. Everything shares the machine's cores.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))

import etcd_cluster  # noqa: E402


def binary(name: str) -> str:
    path = os.environ.get("BRAID_BIN") if name == "braid" else None
    return path or os.path.join(ROOT, "build", "bench" if name != "braid" else "", name)


def rss_mib(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) in MiB."""
    now = peak = 0.0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                now = int(line.split()[1]) / 1024
            elif line.startswith("VmHWM:"):
                peak = int(line.split()[1]) / 1024
    return now, peak


def start_director(work: str, index: int, store: list[str], ttl: int,
                   heartbeat_ms: int) -> tuple[subprocess.Popen, str]:
    log = open(os.path.join(work, f"director{index}.log"), "wb")
    args = [binary("braid"), "director", "--listen", "127.0.0.1:0",
            *([] if os.environ.get("DIRECTOR_SCALE_LOGS") else ["-q"]),
            "--allow-foreign-advertise", "--max-connections", "100000",
            "--max-connections-per-peer", "100000", "--max-servers", "1000000",
            "--max-entries", "100000000", "--queries-per-second", "1000000",
            "--heartbeat-ms", str(heartbeat_ms)] + store
    if store[0] == "--store":
        args += ["--lease-ttl", str(ttl)]
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=log, cwd=work)
    line = p.stdout.readline().decode()
    if not line.startswith("listening "):
        raise SystemExit(f"director did not start: {line!r}; see {work}")
    return p, line.split()[1]


def stop_seconds(procs: list[subprocess.Popen]) -> float:
    """SIGTERM to each director, and the time until the last exits. The
    load's connections closed as it ended: a director stops once it has let
    those servers go (the signal waits behind that work)."""
    started = time.monotonic()
    for p in procs:
        p.terminate()
    for p in procs:
        p.wait(timeout=900)
    return round(time.monotonic() - started, 1)


def run(args, store_name: str, work: str) -> dict:
    etcd = None
    directors = []
    try:
        if store_name == "sqlite":
            store = ["--db", os.path.join(work, "catalog.db")]
            count = 1
        else:
            shm = tempfile.mkdtemp(prefix="braid-etcd-", dir="/dev/shm")
            etcd = etcd_cluster.EtcdCluster(shm)
            store = ["--store", etcd.url()]
            count = int(store_name[len("etcd"):])
        directors = [start_director(work, i, store, args.lease_ttl, args.heartbeat_ms)
                     for i in range(count)]
        load = subprocess.run(
            [binary("director_load"), "--directors", ",".join(a for _, a in directors),
             "--servers", str(args.servers), "--names", str(args.names),
             "--clients", str(args.clients), "--seconds", str(args.seconds),
             "--announce", str(args.announce), "--heartbeat-ms", str(args.heartbeat_ms)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=1800)
        out = json.loads(load.stdout)
        mem = [rss_mib(p.pid) for p, _ in directors]
        out["store"] = store_name
        out["director_rss_mib"] = [round(m[0], 1) for m in mem]
        out["director_peak_mib"] = [round(m[1], 1) for m in mem]
        if etcd:
            out["etcd_rss_mib"] = [round(rss_mib(p.pid)[0], 1) for p in etcd.procs]
        out["stop_seconds"] = stop_seconds([p for p, _ in directors])
        return out
    finally:
        for p, _ in directors:
            if p.poll() is None:
                p.kill()
                p.wait()
        if etcd:
            etcd.stop()
            shutil.rmtree(etcd.dir, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--servers", type=int, default=10000)
    ap.add_argument("--names", type=int, default=100, help="names per server")
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--announce", type=int, default=20)
    ap.add_argument("--lease-ttl", type=int, default=10)
    ap.add_argument("--heartbeat-ms", type=int, default=1000,
                    help="the directors' --heartbeat-ms (the servers PING every 0.9 of it)")
    ap.add_argument("--stores", default="sqlite,etcd1,etcd3")
    ap.add_argument("--out", default="director_scale.json")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="braid-dscale-")
    rows = []
    try:
        for store in args.stores.split(","):
            r = run(args, store, work)
            rows.append(r)
            print(json.dumps(r), flush=True)
    finally:
        if os.environ.get("DIRECTOR_SCALE_LOGS"):
            print(f"directors' logs kept in {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    with open(args.out, "w") as f:
        json.dump(rows, f, indent=1)
    print()
    print("| store | directors | servers x names | register s | look-ups/s | "
          "announce ms (median / p95) | director RSS MiB | etcd RSS MiB | stop s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['store']} | {len(r['director_rss_mib'])} | "
              f"{r['servers']} x {r['names_per_server']} | {r['register_seconds']:.1f} | "
              f"{r['lookups_per_second']:.0f} | {r['announce_ms_median']:.1f} / "
              f"{r['announce_ms_p95']:.1f} | {' '.join(map(str, r['director_rss_mib']))} | "
              f"{' '.join(map(str, r.get('etcd_rss_mib', []))) or '-'} | "
              f"{r['stop_seconds']} |")
    bad = [r for r in rows if r["failed"] or r["wrong_answers"] or r["announced"] < args.announce]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
