#!/usr/bin/env python3
"""Shaped multi-server download benchmark (run as root; Python 3 standard library).

Builds a star of network namespaces (bench/netns.py): client brb-c and servers
brb-s1..N, each server linked to the client by a veth pair whose server -> client
direction is shaped with HTB to the given rate. Every server runs nginx (:8080)
and ``braid serve`` (:7070) over one shared random file. For each scenario and
tool the download runs in brb-c, is timed and its sha256 checked.

    python3 bench/shaped_bench.py --size-mib 256 --rates 200,100,50 \\
        --scenarios static,drop,recover --tools braid,aria2-16,aria2,axel,curl \\
        --out results.json
    python3 bench/shaped_bench.py --cleanup        # remove leftover brb-* namespaces

See bench/README.md for the columns and the definition of efficiency.
"""

from __future__ import annotations

import argparse
import atexit
import dataclasses
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from typing import Callable

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import netns  # noqa: E402
from netns import run_timed, sha256_file  # noqa: E402

FILE_NAME = "data.bin"
TLS_CA = ""                    # the test authority, when braid-tls is benched
MIB = 1024 * 1024


# --------------------------------------------------------------------------
# scenarios
#
# A scenario is the initial link rates plus a list of actions, each run by a
# timer thread at time_s seconds after the tool starts. ``effect`` gives the
# link rates (Mbit/s) that hold from then on, for the ideal-time computation
# (0 for a dead or frozen server). Adding a scenario is a few lines here.

@dataclasses.dataclass
class Action:
    time_s: float
    label: str
    run: Callable[["netns.Star"], None]
    effect: dict[int, float]          # link index (1-based) -> effective Mbit/s from time_s on


@dataclasses.dataclass
class Scenario:
    name: str
    initial: list[float]              # initial link rates, Mbit/s
    actions: list[Action]


def make_scenario(name: str, rates: list[float], at: float, low: float) -> Scenario:
    r = list(rates)
    if name == "static":
        return Scenario(name, r, [])
    if name == "drop":        # link 1 falls to `low` Mbit/s at `at` seconds
        return Scenario(name, r, [Action(at, f"link1 -> {low:g}mbit", lambda s: s.set_rate(1, low), {1: low})])
    if name == "recover":     # link 1 starts at `low` and returns to its rate at `at`
        return Scenario(name, [low] + r[1:],
                        [Action(at, f"link1 -> {r[0]:g}mbit", lambda s: s.set_rate(1, r[0]), {1: r[0]})])
    if name == "kill":        # server 1 (nginx and braid serve) SIGKILLed at `at`
        return Scenario(name, r, [Action(at, "SIGKILL server 1", lambda s: s.kill_server(1), {1: 0})])
    if name == "freeze":      # server 1 SIGSTOPped at `at` (thawed when the run ends)
        return Scenario(name, r, [Action(at, "SIGSTOP server 1", lambda s: s.freeze_server(1), {1: 0})])
    if name == "flap":        # link 1 toggles between `low` and its rate every second, from 1 s on
        acts = []
        for k in range(1, 900):
            mbit = low if k % 2 else r[0]
            acts.append(Action(float(k), f"link1 -> {mbit:g}mbit",
                               lambda s, m=mbit: s.set_rate(1, m), {1: mbit}))
        return Scenario(name, r, acts)
    if name == "late":        # server 1 is down at the start and comes up at `at` (registers, joins)
        return Scenario(name, [0] + r[1:],
                        [Action(at, "start server 1", lambda s: s.start_servers(1, s.data_dir), {1: r[0]})])
    raise SystemExit(f"unknown scenario {name!r} (static, drop, recover, flap, kill, freeze, late)")


def ideal_seconds(size_bytes: int, initial: list[float], actions: list[Action]) -> float:
    """Time to move size_bytes at the sum of the link rates, piecewise over the actions."""
    rates = {i + 1: float(x) for i, x in enumerate(initial)}
    left = size_bytes * 8.0           # bits
    t = 0.0
    for a in sorted(actions, key=lambda a: a.time_s):
        bps = sum(rates.values()) * 1e6
        span = a.time_s - t
        if bps > 0 and left <= bps * span:
            return t + left / bps
        left -= bps * span
        t = a.time_s
        rates.update(a.effect)
    bps = sum(rates.values()) * 1e6
    if bps <= 0:
        return float("inf")
    return t + left / bps


# --------------------------------------------------------------------------
# tools

def tool_argv(tool: str, out_dir: str, out_name: str, n: int, stats_path: str) -> list[str]:
    urls = [f"http://{netns.server_addr(i)}:{netns.NGINX_PORT}/{FILE_NAME}" for i in range(1, n + 1)]
    out = os.path.join(out_dir, out_name)
    if tool == "braid":
        srcs = []
        for i in range(1, n + 1):
            srcs += ["--source", f"{netns.server_addr(i)}:{netns.BRAID_PORT}"]
        return [netns.BRAID_BIN, "get", FILE_NAME, *srcs, "-o", out, "-q", "--stats-json", stats_path,
                "--trace", stats_path + ".trace.jsonl"]
    if tool == "braid-tls":           # the same, to the TLS servers (netns.BRAID_TLS_PORT)
        srcs = []
        for i in range(1, n + 1):
            srcs += ["--source", f"{netns.server_addr(i)}:{netns.BRAID_TLS_PORT}"]
        return [netns.BRAID_BIN, "get", FILE_NAME, *srcs, "-o", out, "-q", "--stats-json", stats_path,
                "--trace", stats_path + ".trace.jsonl", "--tls", "--cacert", TLS_CA]
    if tool == "braid-http":          # braid fetching from the same nginx mirrors as aria2/axel
        return [netns.BRAID_BIN, "get", *urls, "-o", out, "-q", "--stats-json", stats_path,
                "--trace", stats_path + ".trace.jsonl"]
    if tool == "braid-dir":           # sources from the director, which also announces late servers
        return [netns.BRAID_BIN, "get", FILE_NAME, "--director", netns.director_addr(1), "-o", out, "-q",
                "--stats-json", stats_path, "--trace", stats_path + ".trace.jsonl"]
    if tool == "aria2-16":
        return ["aria2c", "-q", "-s16", "-x16", "-k1M", "--allow-overwrite=true", "--file-allocation=none",
                "-d", out_dir, "-o", out_name, *urls]
    if tool == "aria2":
        return ["aria2c", "--allow-overwrite=true", "--file-allocation=none", "-d", out_dir, "-o", out_name,
                *urls, "-q"]
    if tool == "axel":
        return ["axel", "-q", "-n", str(n), "-o", out, *urls]
    if tool == "curl":
        return ["curl", "-s", "-o", out, urls[0]]         # link 1 = the fastest server
    raise SystemExit(f"unknown tool {tool!r} (braid, braid-tls, braid-http, braid-dir, aria2-16, aria2, axel, curl)")


def join_figures(trace_path: str, link_mbit: float) -> dict | None:
    """How fast a source that joined mid-transfer took up its link (from --trace).

    Returns when it joined and its rate in each of the first intervals after
    that, as a fraction of its link's rate.
    """
    joined = None
    rates: list[float] = []
    with open(trace_path) as f:
        for line in f:
            ev = json.loads(line)
            if ev.get("kind") == "joined" and joined is None:
                joined = ev
            elif ev.get("kind") == "interval" and joined is not None:
                for src in ev["sources"]:
                    if src["id"] == joined["id"]:
                        rates.append(src["interval_rate"])
    if joined is None:
        return None
    link = link_mbit * 1e6 / 8
    return {"joined_at_s": round(joined["t"], 3), "address": joined["address"],
            "interval_fraction_of_link": [round(r / link, 3) for r in rates[:6]]}


def wait_registered(n: int, timeout: float = 60) -> None:
    """Until the director lists FILE_NAME on n servers (they hash it first)."""
    deadline = time.monotonic() + timeout
    argv = ["ip", "netns", "exec", netns.CLIENT_NS, netns.BRAID_BIN, "ls", "--director",
            netns.director_addr(1), "--json"]
    while time.monotonic() < deadline:
        out = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, timeout=20)
        if out.returncode == 0 and any(r["name"] == FILE_NAME and r["servers"] == n
                                       for r in json.loads(out.stdout)):
            return
        time.sleep(0.2)
    raise RuntimeError(f"{FILE_NAME} not registered by {n} servers within {timeout} s")


def tool_versions() -> dict[str, str]:
    def first_line(argv: list[str]) -> str:
        try:
            cp = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=10)
            return (cp.stdout.strip().splitlines() or [""])[0]
        except (OSError, subprocess.TimeoutExpired) as e:
            return f"unavailable ({e})"
    return {
        "braid": first_line([netns.BRAID_BIN, "--version"]),
        "aria2c": first_line(["aria2c", "--version"]),
        "axel": first_line(["axel", "--version"]),
        "curl": first_line(["curl", "--version"]),
        "nginx": first_line(["nginx", "-v"]),
        "tc": first_line(["tc", "-V"]),
        "kernel": platform.release(),
        "python": platform.python_version(),
    }


class FirstByte:
    """When the first data byte reached the output directory (polled every 2 ms).

    Counts allocated blocks, not sizes: braid sizes its part file up front
    (sparse), aria2 and axel write at offsets. Control files are ignored.
    """
    SKIP = (".aria2", ".st", ".braid-state")

    def __init__(self, out_dir: str):
        self.out_dir = out_dir
        self.at: float | None = None
        self.stop_ev = threading.Event()
        self.thread: threading.Thread | None = None

    def start(self, t0: float) -> None:
        def loop():
            while not self.stop_ev.is_set():
                if self._has_data():
                    self.at = time.monotonic() - t0
                    return
                time.sleep(0.002)
        self.thread = threading.Thread(target=loop, daemon=True)
        self.thread.start()

    def _has_data(self) -> bool:
        try:
            with os.scandir(self.out_dir) as it:
                for e in it:
                    if not e.name.endswith(self.SKIP) and e.stat().st_blocks > 0:
                        return True
        except OSError:
            pass
        return False

    def stop(self) -> float | None:
        self.stop_ev.set()
        if self.thread:
            self.thread.join(5)
        return self.at


class ActionTimer:
    """Runs a scenario's actions at their times after t0, until stopped."""

    def __init__(self, star: netns.Star, actions: list[Action]):
        self.star, self.actions = star, sorted(actions, key=lambda a: a.time_s)
        self.stop_ev = threading.Event()
        self.done: list[dict] = []
        self.thread: threading.Thread | None = None

    def start(self, t0: float) -> None:
        def loop():
            for a in self.actions:
                wait = t0 + a.time_s - time.monotonic()
                if wait > 0 and self.stop_ev.wait(wait):
                    return
                t = time.monotonic() - t0
                try:
                    a.run(self.star)
                    self.done.append({"at_s": round(t, 3), "action": a.label})
                except Exception as e:  # noqa: BLE001 - reported in the row
                    self.done.append({"at_s": round(t, 3), "action": a.label, "error": str(e)})
        if self.actions:
            self.thread = threading.Thread(target=loop, daemon=True)
            self.thread.start()

    def stop(self) -> None:
        self.stop_ev.set()
        if self.thread:
            self.thread.join(30)


def reset(star: netns.Star, sc: Scenario, data_dir: str) -> None:
    """Rates to the scenario's start; every server thawed and running (restarted if killed)."""
    for i in range(1, star.n + 1):
        star.thaw_server(i)
        want_up = sc.initial[i - 1] > 0 or not any(i in a.effect for a in sc.actions)
        procs = star.servers.get(i, {})
        dead = [k for k in ("nginx", "braid") if k not in procs or procs[k].poll() is not None]
        if want_up and dead:
            star.start_servers(i, data_dir, nginx="nginx" in dead, braid="braid" in dead)
        if not want_up:
            star.kill_server(i)
        star.set_rate(i, sc.initial[i - 1] if sc.initial[i - 1] > 0 else star.base_rates[i - 1])


# --------------------------------------------------------------------------

def fmt_table(rows: list[dict]) -> str:
    head = (f"{'scenario':<9} {'tool':<9} {'seconds':>8} {'ideal':>7} {'eff %':>6} {'ceil %':>6} "
            f"{'ttfb ms':>7} {'dup %':>5} {'cpu s':>6}  intact")
    lines = [head, "-" * len(head)]

    def num(v, fmt, scale=1.0):
        return format(v * scale, fmt) if v is not None else "-".rjust(len(format(0.0, fmt)))
    for r in rows:
        lines.append(f"{r['scenario']:<9} {r['tool']:<9} {r['seconds']:8.2f} {r['ideal_s']:7.2f} "
                     f"{num(r.get('efficiency'), '6.1f', 100)} {num(r.get('ceiling_efficiency'), '6.1f', 100)} "
                     f"{num(r.get('ttfb_s'), '7.0f', 1000)} {num(r.get('duplicate_pct'), '5.2f')} "
                     f"{num(r.get('cpu_s'), '6.2f')}  {r['intact']}")
    return "\n".join(lines)


def per_link(text: str, n: int, what: str) -> list[float]:
    """'10,40,80' (one value per link) or '0.5' (every link)."""
    vals = [float(x) for x in text.split(",")] if text else [0.0]
    if len(vals) == 1:
        vals = vals * n
    if len(vals) != n:
        raise SystemExit(f"--{what}: give one value or {n}")
    return vals


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-mib", type=int, default=256)
    ap.add_argument("--rates", default="200,100,50", help="Mbit/s per server link, comma-separated")
    ap.add_argument("--rtt-ms", default="0", help="round trip added to each link (wanem), e.g. 10,40,80")
    ap.add_argument("--jitter-ms", default="0", help="+- jitter per link (no reordering)")
    ap.add_argument("--loss", default="0", help="packet loss %% per link (server -> client), e.g. 0,0,0.5")
    ap.add_argument("--scenarios", default="static,drop,recover",
                    help="static,drop,recover (also available: flap,kill,freeze,late)")
    ap.add_argument("--tools", default="braid,aria2-16,aria2,axel,curl")
    ap.add_argument("--out", default="results.json")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--change-at", type=float, default=2.0, help="seconds after start of the scenario action")
    ap.add_argument("--low-mbit", type=float, default=20.0, help="rate of link 1 in drop/recover/flap")
    ap.add_argument("--calibrate-mib", type=int, default=-1,
                    help="first run curl alone over each link with a file this big, static, for the payload "
                         "ceiling and the faithfulness check (-1: min(size, 64); 0: skip)")
    ap.add_argument("--timeout-factor", type=float, default=10.0,
                    help="per-run timeout = factor * ideal + 10 s (curl alone in 'drop' needs ~9x)")
    ap.add_argument("--overall-timeout", type=float, default=3600.0, help="seconds for the whole benchmark")
    ap.add_argument("--leaf-limit-kib", type=int, default=netns.LEAF_LIMIT_BYTES // 1024,
                    help="byte FIFO under each HTB class (queue bound)")
    ap.add_argument("--mtu", type=int, default=1500,
                    help="MTU of every link (1500: ~95.6%% of the link rate is TCP payload)")
    ap.add_argument("--trace-dir", default="",
                    help="keep braid's --trace files here (and its whole stderr)")
    ap.add_argument("--braid-args", default="",
                    help="more arguments for every braid tool, e.g. '-v -v' (debug log)")
    ap.add_argument("--cleanup", action="store_true", help="delete leftover brb-* namespaces and exit")
    return ap.parse_args()


PAYLOAD_SHARE = 1448 / 1514        # TCP payload per byte on the wire at MTU 1500


def calibrate(star: netns.Star, data_dir: str, out_dir: str, size_mib: int) -> list[dict]:
    """curl alone over each link in turn (static rates): the payload ceiling of each link.

    A link whose curl rate is under 95 % of its payload ceiling is not faithful
    (wanem or the machine cannot keep up): its numbers are marked so.
    """
    name = "calib.bin"
    want = netns.write_random_file(os.path.join(data_dir, name), size_mib * MIB)
    out, rows = os.path.join(out_dir, "calib.out"), []
    try:
        for i in range(1, star.n + 1):
            star.set_rate(i, star.base_rates[i - 1])
            time.sleep(0.5)
            url = f"http://{netns.server_addr(i)}:{netns.NGINX_PORT}/{name}"
            res = run_timed(netns.CLIENT_NS, ["curl", "-s", "-o", out, url], 60 + size_mib * 2)
            ok = res["rc"] == 0 and os.path.exists(out) and sha256_file(out) == want
            mbit = size_mib * MIB * 8 / res["seconds"] / 1e6 if ok else 0.0
            ceiling = star.base_rates[i - 1] * PAYLOAD_SHARE
            row = {"link": i, "rate_mbit": star.base_rates[i - 1], "curl_mbit": round(mbit, 2),
                   "of_payload_ceiling": round(mbit / ceiling, 4), "faithful": mbit >= 0.95 * ceiling,
                   "intact": ok}
            rows.append(row)
            print(f"calibration link {i}: {star.base_rates[i - 1]:g} Mbit/s, curl {mbit:.1f} Mbit/s = "
                  f"{row['of_payload_ceiling'] * 100:.1f} % of the payload ceiling"
                  f"{'' if row['faithful'] else '  (NOT FAITHFUL)'}", flush=True)
            if os.path.exists(out):
                os.unlink(out)
    finally:
        os.unlink(os.path.join(data_dir, name))
    return rows


def ceiling_seconds(size: int, sc: Scenario, calib: list[dict]) -> float | None:
    """The ideal time with every link at what curl alone measured on it (same ratio after changes)."""
    if not calib or not all(c["intact"] for c in calib):
        return None
    ratio = {c["link"]: c["curl_mbit"] / c["rate_mbit"] for c in calib}
    initial = [r * ratio[i + 1] for i, r in enumerate(sc.initial)]
    actions = [dataclasses.replace(a, effect={k: v * ratio[k] for k, v in a.effect.items()})
               for a in sc.actions]
    return ideal_seconds(size, initial, actions)


class Bench:
    """Runs each (scenario, tool, repeat) in the star and collects a row each."""

    def __init__(self, args, star: netns.Star, work: str, data_dir: str, out_dir: str, want: str,
                 deadline: float, calib: list[dict]):
        self.args, self.star, self.work, self.data_dir, self.out_dir = args, star, work, data_dir, out_dir
        self.want, self.deadline, self.calib = want, deadline, calib
        self.size = args.size_mib * MIB
        self.rates = [float(x) for x in args.rates.split(",")]

    def run(self, sc: Scenario, tool: str, rep: int) -> dict:
        star, args = self.star, self.args
        ideal = ideal_seconds(self.size, sc.initial, sc.actions)
        left = self.deadline - time.monotonic()
        if left < 5:
            print("overall timeout reached; stopping", file=sys.stderr)
            raise TimeoutError
        reset(star, sc, self.data_dir)
        time.sleep(0.5)    # let queues drain and sockets settle
        out_name = f"{tool}.out"
        stats_path = os.path.join(self.work, "stats.json")
        err_path = os.path.join(self.work, "stderr.txt")
        trace = stats_path + ".trace.jsonl"
        for pth in (stats_path, trace):
            if os.path.exists(pth):
                os.unlink(pth)
        argv = tool_argv(tool, self.out_dir, out_name, star.n, stats_path)
        if tool.startswith("braid"):
            argv += args.braid_args.split()
        log_sizes = star.log_sizes()
        timer, first = ActionTimer(star, sc.actions), FirstByte(self.out_dir)
        timeout = min(args.timeout_factor * ideal + 10, left)

        def on_start(t0: float) -> None:
            timer.start(t0)
            first.start(t0)
        try:
            res = run_timed(netns.CLIENT_NS, argv, timeout, on_start=on_start, stderr_path=err_path)
        finally:
            timer.stop()
            ttfb = first.stop()
        intact = self.check(res, os.path.join(self.out_dir, out_name))
        ok = intact == "intact"
        ceiling = ceiling_seconds(self.size, sc, self.calib)
        row = {
            "scenario": sc.name, "tool": tool, "repeat": rep,
            "seconds": round(res["seconds"], 3), "ideal_s": round(ideal, 3),
            "efficiency": round(ideal / res["seconds"], 4) if ok else None,
            "ceiling_s": round(ceiling, 3) if ceiling else None,
            "ceiling_efficiency": round(ceiling / res["seconds"], 4) if ok and ceiling else None,
            "ttfb_s": round(ttfb, 4) if ttfb is not None else None,
            "intact": intact, "rc": res["rc"], "cpu_s": res["cpu_s"],
            "max_rss_kib": res["max_rss_kib"], "argv": argv,
            "actions": timer.done[:20], "initial_rates_mbit": sc.initial,
            "timeout_s": round(timeout, 1),
        }
        with open(err_path, errors="replace") as f:
            stderr_tail = f.read()[-2000:]
        if stderr_tail.strip():
            row["stderr_tail"] = stderr_tail
        server_logs = star.log_since(log_sizes)
        if server_logs:
            row["braid_serve_logs"] = server_logs
        if tool.startswith("braid"):
            self.add_braid_figures(row, sc, stats_path, trace, rep)
        for name in os.listdir(self.out_dir):       # delete the output (and .aria2/.st files)
            os.unlink(os.path.join(self.out_dir, name))
        return row

    def check(self, res: dict, out: str) -> str:
        if res["timed_out"]:
            return "FAILED (timeout)"
        if res["rc"] != 0:
            return f"FAILED (rc {res['rc']})"
        if not os.path.exists(out):
            return "FAILED (no output)"
        return "intact" if sha256_file(out) == self.want else "CORRUPT"

    def add_braid_figures(self, row: dict, sc: Scenario, stats_path: str, trace: str, rep: int) -> None:
        if os.path.exists(stats_path):
            try:
                with open(stats_path) as f:
                    row["braid_stats"] = json.load(f)
                row["duplicate_pct"] = round(100.0 * row["braid_stats"]["duplicate_bytes"] / self.size, 3)
            except (ValueError, KeyError) as e:
                row["braid_stats_error"] = str(e)
        if not os.path.exists(trace):
            return
        # 'late': server 1 (link 1) joins mid-transfer.
        figures = join_figures(trace, self.rates[0]) if sc.name == "late" else None
        if figures:
            row["join"] = figures
            print(f"  joined at {figures['joined_at_s']} s; per-interval share of its link:"
                  f" {figures['interval_fraction_of_link']}", flush=True)
        if self.args.trace_dir:
            os.makedirs(self.args.trace_dir, exist_ok=True)
            keep = os.path.join(self.args.trace_dir, f"{row['tool']}-{sc.name}-{rep}.jsonl")
            shutil.copyfile(trace, keep)
            row["trace"] = keep
            err = os.path.join(self.work, "stderr.txt")
            if os.path.exists(err):
                shutil.copyfile(err, keep[:-len(".jsonl")] + ".stderr.txt")


def main() -> int:
    args = parse_args()
    if args.cleanup:
        netns.cleanup_all()
        return 0
    if netns.check_environment():
        return 2
    for t in ("ip", "tc", "nginx", "aria2c", "axel", "curl"):
        if not shutil.which(t):
            print(f"missing tool: {t}", file=sys.stderr)
            return 2

    deadline = time.monotonic() + args.overall_timeout
    rates = [float(x) for x in args.rates.split(",")]
    n = len(rates)
    wan = [netns.Wan(r, j, l) for r, j, l in zip(per_link(args.rtt_ms, n, "rtt-ms"),
                                                  per_link(args.jitter_ms, n, "jitter-ms"),
                                                  per_link(args.loss, n, "loss"))]
    scenarios = [make_scenario(s, rates, args.change_at, args.low_mbit) for s in args.scenarios.split(",")]
    tools = args.tools.split(",")
    size = args.size_mib * MIB

    # SIGTERM/SIGHUP -> normal exit path, so finally/atexit clean up.
    def on_signal(signum, _frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    work = tempfile.mkdtemp(prefix="brb-shaped-")
    atexit.register(shutil.rmtree, work, True)
    data_dir, out_dir = os.path.join(work, "data"), os.path.join(work, "out")
    os.makedirs(data_dir)
    os.makedirs(out_dir)
    os.chmod(work, 0o755)
    braid_src = netns.BRAID_BIN
    netns.snapshot_braid(work)            # private copy: the build tree may be relinked meanwhile
    print(f"writing {args.size_mib} MiB random file ...", flush=True)
    want = netns.write_random_file(os.path.join(data_dir, FILE_NAME), size)

    rows: list[dict] = []
    env = {
        "size_mib": args.size_mib, "size_bytes": size, "rates_mbit": rates, "change_at_s": args.change_at,
        "low_mbit": args.low_mbit, "sha256": want, "versions": tool_versions(), "mtu": args.mtu,
        "wan": [dataclasses.asdict(w) for w in wan],
        "shaping": {"qdisc": "htb (rate=ceil, burst/cburst " + netns.HTB_BURST + ") + bfifo leaf",
                    "leaf_limit_bytes": args.leaf_limit_kib * 1024, "client_side": "unshaped"},
        "cpus": os.cpu_count(), "braid_binary": braid_src,
        "braid_sha256": sha256_file(netns.BRAID_BIN),
    }
    star = None
    try:
        with netns.Star(rates, leaf_limit_bytes=args.leaf_limit_kib * 1024, mtu=args.mtu, wan=wan) as star:
            star.data_dir = data_dir
            cc = subprocess.run(["ip", "netns", "exec", netns.CLIENT_NS, "cat",
                                 "/proc/sys/net/ipv4/tcp_congestion_control"], stdout=subprocess.PIPE, text=True,
                                timeout=10)
            env["tcp_congestion_control"] = cc.stdout.strip()
            star.start_director()
            if "braid-tls" in tools:
                global TLS_CA
                TLS_CA = star.enable_tls()["ca"]
            for i in range(1, star.n + 1):
                star.start_servers(i, data_dir)
            wait_registered(star.n)
            calib_mib = min(args.size_mib, 64) if args.calibrate_mib < 0 else args.calibrate_mib
            calib = calibrate(star, data_dir, out_dir, calib_mib) if calib_mib > 0 else []
            env["calibration"] = calib
            bench = Bench(args, star, work, data_dir, out_dir, want, deadline, calib)
            print(fmt_table([]).splitlines()[0], flush=True)
            for sc in scenarios:
                for tool in tools:
                    for rep in range(args.repeat):
                        rows.append(bench.run(sc, tool, rep))
                        print(fmt_table([rows[-1]]).splitlines()[-1], flush=True)
    except TimeoutError:
        pass
    finally:
        if star is not None:
            env["wanem"] = star.wanem_final
        with open(args.out, "w") as f:
            json.dump({"environment": env, "rows": rows}, f, indent=2)
        print()
        print(fmt_table(rows))
        print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
