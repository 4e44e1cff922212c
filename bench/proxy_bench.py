#!/usr/bin/env python3
"""`braid proxy` on loopback (no root; Python 3 standard library, curl).

Three `braid serve` and one `braid proxy` on 127.0.0.1; one random file.
Measures, each run repeated and the median reported:
  - `braid get` directly, to /dev/null, to a file, and in order into a pipe
    (`-o - | cat > /dev/null`, what the proxy does before HTTP);
  - curl through the proxy, to /dev/null and to a file (sha256 checked);
  - the proxy's peak RSS (VmRSS sampled every 20 ms) during those curls;
  - time to first byte of a 64 KiB range request in the middle of the file
    (curl's time_starttransfer), and of a HEAD.

    python3 bench/proxy_bench.py --size-mib 512 --runs 3 --out proxy.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

MIB = 1024 * 1024
LISTEN_RE = re.compile(rb"^listening 127\.0\.0\.1:(\d+)\n$")


def start(args: list[str], log: str) -> tuple[subprocess.Popen, int]:
    """Starts a braid daemon and reads its `listening 127.0.0.1:PORT` line."""
    with open(log, "wb") as err:
        p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL)
    line = p.stdout.readline()  # the daemon prints it at once, or exits
    m = LISTEN_RE.match(line)
    if not m:
        p.kill()
        raise SystemExit(f"{args[:2]} did not start: {line!r}; see {log}")
    return p, int(m.group(1))


def rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class PeakRss:
    """Samples a process's VmRSS in a thread while the block runs."""

    def __init__(self, pid: int):
        self.pid, self.peak, self._stop = pid, 0, threading.Event()

    def __enter__(self):
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()
        return self

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, rss(self.pid))
            time.sleep(0.02)

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join()


def timed(args: list[str], timeout: float = 600) -> float:
    t0 = time.monotonic()
    r = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    if r.returncode != 0:
        raise SystemExit(f"failed: {args}: {r.stderr.decode(errors='replace')}")
    return time.monotonic() - t0


def sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while b := f.read(MIB):
            h.update(b)
    return h.hexdigest()


def curl_metric(args: list[str], metric: str) -> float:
    r = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", f"%{{{metric}}}"] + args,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    if r.returncode != 0:
        raise SystemExit(f"curl failed: {r.stderr!r}")
    return float(r.stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--size-mib", type=int, default=512)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--servers", type=int, default=3)
    ap.add_argument("--max-buffer", default="16MiB")
    ap.add_argument("--out", help="write the results here as JSON")
    a = ap.parse_args()
    braid = os.path.abspath(os.environ.get("BRAID_BIN", "build/braid"))
    tmp = tempfile.mkdtemp(prefix="braid-proxy-bench-")
    procs: list[subprocess.Popen] = []
    try:
        root = os.path.join(tmp, "root")
        os.makedirs(root)
        data = os.path.join(root, "data.bin")
        with open(data, "wb") as f:
            for _ in range(a.size_mib):
                f.write(os.urandom(MIB))
        digest = sha256(data)
        sources = []
        for i in range(a.servers):
            p, port = start([braid, "serve", "--root", root, "--listen", "127.0.0.1:0",
                             "--discovery", "off"], os.path.join(tmp, f"serve{i}.log"))
            procs.append(p)
            sources += ["--source", f"127.0.0.1:{port}"]
        proxy, pport = start([braid, "proxy", "--listen", "127.0.0.1:0", "--max-buffer",
                              a.max_buffer, "--quiet"] + sources, os.path.join(tmp, "proxy.log"))
        procs.append(proxy)
        url = f"http://127.0.0.1:{pport}/data.bin"
        out = os.path.join(tmp, "out.bin")
        res: dict[str, list[float]] = {}

        def run(name: str, args: list[str], check: bool = False, watch: bool = False):
            for _ in range(a.runs):
                if os.path.exists(out):
                    os.unlink(out)
                peak = PeakRss(proxy.pid)
                with peak:
                    res.setdefault(name, []).append(timed(args))
                if watch:
                    res.setdefault("proxy_peak_rss_mib", []).append(peak.peak / MIB)
                if check and sha256(out) != digest:
                    raise SystemExit(f"{name}: wrong sha256")

        get = [braid, "get", "data.bin", "--quiet"] + sources
        run("braid_get_devnull_s", get + ["-o", "/dev/null"])
        run("braid_get_file_s", get + ["-o", out], check=True)
        # In order through a pipe, as the proxy delivers (same --max-buffer).
        run("braid_get_pipe_s", ["sh", "-c", " ".join(get + ["--max-buffer", a.max_buffer,
                                                            "-o", "-", "| cat > /dev/null"])])
        run("curl_proxy_devnull_s", ["curl", "-sS", "-o", "/dev/null", url], watch=True)
        run("curl_proxy_file_s", ["curl", "-sS", "-o", out, url], check=True, watch=True)
        mid = a.size_mib * MIB // 2 + 12345
        for _ in range(max(5, a.runs)):
            res.setdefault("range_ttfb_s", []).append(
                curl_metric(["-r", f"{mid}-{mid + 65535}", url], "time_starttransfer"))
            res.setdefault("head_s", []).append(curl_metric(["-I", url], "time_total"))
        summary = {k: round(statistics.median(v), 4) for k, v in res.items()}
        summary["proxy_peak_rss_mib"] = round(max(res["proxy_peak_rss_mib"]), 1)
        for k in ("braid_get_devnull_s", "braid_get_file_s", "braid_get_pipe_s",
                  "curl_proxy_devnull_s",
                  "curl_proxy_file_s"):
            summary[k.replace("_s", "_mib_per_s")] = round(a.size_mib / summary[k], 1)
        summary.update(size_mib=a.size_mib, runs=a.runs, servers=a.servers,
                       max_buffer=a.max_buffer)
        print(json.dumps(summary, indent=2))
        if a.out:
            with open(a.out, "w") as f:
                json.dump({"summary": summary, "runs": res}, f, indent=2)
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
