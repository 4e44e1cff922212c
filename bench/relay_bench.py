#!/usr/bin/env python3
"""One origin, several routes through relays (run as root; Python 3 standard library).

Topology (network namespaces, bench/netns.py): client brb-c; relay namespaces
brb-s1..N, each linked to the client by a veth pair shaped relay -> client to
its route's rate (HTB, as in shaped_bench.py); origin brb-o, linked to every
relay by an unshaped veth pair, holding the origin address 198.19.255.1 on
its loopback. Each relay runs ``braid relay --allow 198.19.255.1:7070``; the
origin runs ``braid serve`` and nginx, and ``braid director`` (on
198.19.255.1:7071), with which the origin and every relay register. Relay 1
also forwards IP packets, so HTTP tools reach nginx over route 1 (the
fastest) as a plain TCP path. Tools: ``braid`` (``--origin --via`` each
relay), ``braid-dir`` (``--director --routes``: the director names the
relays, and the direct route over route 1's path is a source too),
``braid-1`` (route 1 only), ``curl``, ``aria2``.

    python3 bench/relay_bench.py --size-mib 256 --rates 100,60,30 \\
        --scenarios static,drop --tools braid,braid-1,curl,aria2 --out relay.json

Efficiency = ideal / measured, ideal = size / sum of the route rates
(piecewise when a rate changes); "vs best" = the best single route's ideal /
measured (above 100 % means faster than any one route can be).
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import netns  # noqa: E402
from netns import run_timed, sha256_file  # noqa: E402
from shaped_bench import Action, ActionTimer, ideal_seconds  # noqa: E402

FILE_NAME = "data.bin"
MIB = 1024 * 1024
ORIGIN_NS = "brb-o"
ORIGIN = "198.19.255.1"
RELAY_PORT = 7073
DIRECTOR = f"{ORIGIN}:7071"


def relay_link(i: int) -> tuple[str, str]:
    """(relay end, origin end) addresses of the link between relay i and the origin."""
    return f"198.19.{i}.1", f"198.19.{i}.2"


def start_daemon(ns: str, argv: list[str], log_path: str, what: str) -> subprocess.Popen:
    """A braid daemon in ns, its stderr appended to log_path; waits for its
    `listening` line."""
    log = open(log_path, "ab")
    p = netns.run_in(ns, argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log)
    log.close()
    line = netns.read_first_line(p, 10)
    if not line.startswith("listening "):
        raise RuntimeError(f"{what}: {line!r}")
    netns._drain(p)
    return p


class Routes(netns.Star):
    """The star of relays plus an origin namespace behind every relay."""

    def build(self) -> None:
        super().build()
        self._add_ns(ORIGIN_NS)
        netns._run(["ip", "-n", ORIGIN_NS, "addr", "add", f"{ORIGIN}/32", "dev", "lo"])
        for i in range(1, self.n + 1):
            rs, ro = relay_link(i)
            ns = netns.server_ns(i)
            netns._run(["ip", "link", "add", f"ro{i}", "netns", ns, "type", "veth", "peer", "name",
                        f"or{i}", "netns", ORIGIN_NS])
            netns._run(["ip", "-n", ns, "addr", "add", f"{rs}/24", "dev", f"ro{i}"])
            netns._run(["ip", "-n", ORIGIN_NS, "addr", "add", f"{ro}/24", "dev", f"or{i}"])
            netns._run(["ip", "-n", ns, "link", "set", f"ro{i}", "mtu", str(self.mtu), "up"])
            netns._run(["ip", "-n", ORIGIN_NS, "link", "set", f"or{i}", "mtu", str(self.mtu), "up"])
            netns._run(["ip", "-n", ns, "route", "add", f"{ORIGIN}/32", "via", ro])
        # Route 1 as a plain IP path for the HTTP tools.
        netns._run(["ip", "netns", "exec", netns.server_ns(1), "sysctl", "-qw", "net.ipv4.ip_forward=1"])
        netns._run(["ip", "-n", netns.CLIENT_NS, "route", "add", f"{ORIGIN}/32", "via", netns.server_addr(1)])
        netns._run(["ip", "-n", ORIGIN_NS, "route", "add", f"{netns.client_addr(1)}/32", "via",
                    relay_link(1)[0]])

    def start_director(self) -> None:
        """Relays register the address clients reach them at, which is not
        the one they reach the director from: foreign addresses allowed."""
        self.director = start_daemon(
            ORIGIN_NS, [netns.BRAID_BIN, "director", "--listen", DIRECTOR, "--db",
                        os.path.join(self.tmp, "director.db"), "--allow-foreign-advertise", "-q"],
            os.path.join(self.tmp, "director.log"), "director")

    def start_origin(self, data_dir: str) -> None:
        log = os.path.join(self.tmp, "origin.log")
        p, _ = netns.start_braid(ORIGIN_NS, "0.0.0.0", netns.BRAID_PORT, data_dir, log_path=log,
                                 extra=["--discovery", "off", "--director", DIRECTOR])
        n = netns.start_nginx(ORIGIN_NS, ORIGIN, netns.NGINX_PORT, data_dir, os.path.join(self.tmp, "nginx-o"))
        self.servers[0] = {"braid": p, "nginx": n}

    def start_relays(self) -> None:
        for i in range(1, self.n + 1):
            me = f"{netns.server_addr(i)}:{RELAY_PORT}"
            p = start_daemon(netns.server_ns(i),
                             [netns.BRAID_BIN, "relay", "--listen", me, "--allow",
                              f"{ORIGIN}:{netns.BRAID_PORT}", "--director", DIRECTOR,
                              "--advertise", me, "-q"],
                             os.path.join(self.tmp, f"relay{i}.log"), f"relay {i}")
            self.servers.setdefault(i, {})["relay"] = p


def tool_argv(tool: str, out: str, n: int, stats: str) -> list[str]:
    origin = f"{ORIGIN}:{netns.BRAID_PORT}"
    url = f"http://{ORIGIN}:{netns.NGINX_PORT}/{FILE_NAME}"
    if tool in ("braid", "braid-1"):
        vias = []
        for i in range(1, (n if tool == "braid" else 1) + 1):
            vias += ["--via", f"{netns.server_addr(i)}:{RELAY_PORT}"]
        return [netns.BRAID_BIN, "get", FILE_NAME, "--origin", origin, *vias, "-o", out, "-q",
                "--stats-json", stats, "--trace", stats + ".trace.jsonl"]
    if tool == "braid-dir":
        return [netns.BRAID_BIN, "get", FILE_NAME, "--director", DIRECTOR, "--routes", "-o", out,
                "-q", "--stats-json", stats, "--trace", stats + ".trace.jsonl"]
    if tool == "curl":
        return ["curl", "-s", "-o", out, url]
    if tool == "aria2":
        return ["aria2c", "-q", "-x4", "-s4", "--allow-overwrite=true", "--file-allocation=none",
                "-d", os.path.dirname(out), "-o", os.path.basename(out), url]
    raise SystemExit(f"unknown tool {tool!r} (braid, braid-dir, braid-1, curl, aria2)")


def scenario(name: str, rates: list[float], at: float, low: float) -> list[Action]:
    if name == "static":
        return []
    if name == "drop":        # route 1 falls to `low` at `at` s
        return [Action(at, f"route1 -> {low:g}mbit", lambda s: s.set_rate(1, low), {1: low})]
    raise SystemExit(f"unknown scenario {name!r} (static, drop)")


def best_single_route(size: int, rates: list[float], actions: list[Action]) -> float:
    """Ideal seconds over the route that would finish first on its own."""
    best = float("inf")
    for i in range(len(rates)):
        mine = [Action(a.time_s, a.label, a.run, {1: a.effect.get(i + 1, rates[i])}) for a in actions]
        best = min(best, ideal_seconds(size, [rates[i]], mine))
    return best


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-mib", type=int, default=256)
    ap.add_argument("--rates", default="100,60,30", help="Mbit/s of each route, comma-separated")
    ap.add_argument("--scenarios", default="static,drop")
    ap.add_argument("--tools", default="braid,braid-1,curl,aria2")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--change-at", type=float, default=2.0)
    ap.add_argument("--low-mbit", type=float, default=20.0)
    ap.add_argument("--mtu", type=int, default=1500)
    ap.add_argument("--out", default="relay.json")
    args = ap.parse_args()
    if netns.check_environment():
        return 2
    rates = [float(x) for x in args.rates.split(",")]
    size = args.size_mib * MIB
    work = tempfile.mkdtemp(prefix="brb-relay-")
    atexit.register(shutil.rmtree, work, True)
    data_dir, out_dir = os.path.join(work, "data"), os.path.join(work, "out")
    os.makedirs(data_dir)
    os.makedirs(out_dir)
    os.chmod(work, 0o755)
    netns.snapshot_braid(work)
    want = netns.write_random_file(os.path.join(data_dir, FILE_NAME), size)
    rows = []
    print(f"{'scenario':<8} {'tool':<8} {'seconds':>8} {'ideal':>7} {'eff %':>6} {'vs best %':>9}  intact")
    with Routes(rates, mtu=args.mtu) as star:
        star.start_director()
        star.start_origin(data_dir)
        star.start_relays()
        time.sleep(1.5)  # the origin hashes its file
        for name in args.scenarios.split(","):
            actions = scenario(name, rates, args.change_at, args.low_mbit)
            ideal = ideal_seconds(size, rates, actions)
            best = best_single_route(size, rates, actions)
            for tool in args.tools.split(","):
                for rep in range(args.repeat):
                    for i in range(1, star.n + 1):
                        star.set_rate(i, rates[i - 1])
                    time.sleep(0.5)
                    out = os.path.join(out_dir, "out.bin")
                    stats = os.path.join(work, "stats.json")
                    timer = ActionTimer(star, actions)
                    try:
                        res = run_timed(netns.CLIENT_NS, tool_argv(tool, out, star.n, stats),
                                        10 * best + 10, on_start=timer.start)
                    finally:
                        timer.stop()
                    ok = res["rc"] == 0 and os.path.exists(out) and sha256_file(out) == want
                    row = {"scenario": name, "tool": tool, "repeat": rep, "seconds": round(res["seconds"], 3),
                           "ideal_s": round(ideal, 3), "best_route_s": round(best, 3),
                           "efficiency": round(ideal / res["seconds"], 4) if ok else None,
                           "vs_best_route": round(best / res["seconds"], 4) if ok else None,
                           "intact": "intact" if ok else f"FAILED (rc {res['rc']})", "cpu_s": res["cpu_s"],
                           "rates_mbit": rates, "actions": timer.done}
                    if tool.startswith("braid") and os.path.exists(stats):
                        with open(stats) as f:
                            st = json.load(f)
                        row["routes"] = [(s["address"], s["bytes"]) for s in st["sources"]]
                        row["duplicate_bytes"] = st["duplicate_bytes"]
                    rows.append(row)
                    eff = f"{row['efficiency'] * 100:6.1f}" if ok else "     -"
                    vb = f"{row['vs_best_route'] * 100:9.1f}" if ok else "        -"
                    print(f"{name:<8} {tool:<8} {row['seconds']:8.2f} {ideal:7.2f} {eff} {vb}  {row['intact']}",
                          flush=True)
                    if os.path.exists(out):
                        os.unlink(out)
    with open(args.out, "w") as f:
        json.dump({"size_bytes": size, "rates_mbit": rates, "mtu": args.mtu,
                   "braid_sha256": sha256_file(netns.BRAID_BIN), "rows": rows}, f, indent=2)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
