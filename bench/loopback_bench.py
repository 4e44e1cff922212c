#!/usr/bin/env python3
"""Loopback CPU/throughput benchmark (run as root; Python 3 standard library).

No rate cap: this measures how much CPU and memory each client spends to move a
file over loopback, and how fast it can go on this machine. Everything runs
inside one private namespace, brb-lo (its own 127.0.0.1), so nothing else on
the host shares the ports: three ``braid serve --listen 127.0.0.1:0`` and one
nginx on 127.0.0.1:<free port>, all serving one random file; for the
braid-tls-* tools three more ``braid serve`` with ``--tls-cert`` (a test
authority made with openssl), fetched with ``--tls --cacert``.

    python3 bench/loopback_bench.py --size-mib 1024 --out loopback.json
    python3 bench/loopback_bench.py --cleanup

See bench/README.md for the columns.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import netns  # noqa: E402
from netns import run_timed, sha256_file  # noqa: E402

NS = "brb-lo"
FILE_NAME = "data.bin"
MIB = 1024 * 1024
CLK_TCK = os.sysconf("SC_CLK_TCK")

TOOLS = ["braid-null", "braid-file", "braid-tls-null", "braid-tls-file", "curl-null", "curl-file",
         "curl-file-sync", "aria2-x3"]
TLS_CA = ""                       # the test authority of the TLS servers
TLS_ADDRS: list[str] = []         # three more braid servers, with --tls-cert


def proc_cpu_s(pid: int) -> float:
    """user+sys seconds of one process (all threads), from /proc."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK     # utime, stime
    except (OSError, IndexError, ValueError):
        return 0.0


def ns_cpu_s(pids: list[int]) -> float:
    return sum(proc_cpu_s(p) for p in pids)


def tool_argv(tool: str, braid_addrs: list[str], nginx_url: str, out_dir: str, stats: str) -> tuple[list[str], str | None]:
    """argv and the output path to verify (None when writing to /dev/null).
    braid-tls-* use the TLS servers (TLS_ADDRS) with the same flags."""
    out = os.path.join(out_dir, "out.bin")
    if tool.startswith("braid-tls-"):
        argv, path = tool_argv("braid-" + tool[len("braid-tls-"):], TLS_ADDRS, nginx_url, out_dir, stats)
        return argv + ["--tls", "--cacert", TLS_CA], path
    srcs = [x for a in braid_addrs for x in ("--source", a)]
    if tool == "braid-null":
        return [netns.BRAID_BIN, "get", FILE_NAME, *srcs, "-o", "/dev/null", "-q", "--stats-json", stats], None
    if tool == "braid-file":
        return [netns.BRAID_BIN, "get", FILE_NAME, *srcs, "-o", out, "-q", "--stats-json", stats], out
    if tool == "curl-null":
        return ["curl", "-s", "-o", "/dev/null", nginx_url], None
    if tool == "curl-file":
        return ["curl", "-s", "-o", out, nginx_url], out
    if tool == "curl-file-sync":
        # braid makes a file durable (fsync) before renaming it into place;
        # this is curl's time for the same: the download, then its data on
        # disk (coreutils `sync FILE`).
        return ["sh", "-c", 'curl -s -o "$0" "$1" && sync "$0"', out, nginx_url], out
    if tool == "aria2-x3":
        return ["aria2c", "-q", "-x3", "-s3", "--allow-overwrite=true", "--file-allocation=none",
                "-d", out_dir, "-o", "out.bin", nginx_url, nginx_url, nginx_url], out
    raise SystemExit(f"unknown tool {tool!r} ({', '.join(TOOLS)})")


def fmt_table(rows: list[dict]) -> str:
    head = (f"{'tool':<11} {'seconds':>8} {'MiB/s':>8} {'user s':>7} {'sys s':>7} {'cpu s':>7} "
            f"{'RSS MiB':>8} {'srv cpu s':>9}  intact")
    lines = [head, "-" * len(head)]
    def num(x, width, scale=1.0):
        return f"{x / scale:{width}.2f}" if isinstance(x, (int, float)) else " " * (width - 1) + "-"
    for r in rows:
        lines.append(f"{r['tool']:<11} {r['seconds']:8.2f} {r['mib_per_s']:8.1f} {num(r['user_s'], 7)} "
                     f"{num(r['sys_s'], 7)} {num(r['cpu_s'], 7)} {num(r['max_rss_kib'], 8, 1024)} "
                     f"{r['server_cpu_s']:9.2f}  {r['intact']}")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-mib", type=int, default=1024)
    ap.add_argument("--tools", default=",".join(TOOLS))
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--out", default="loopback.json")
    ap.add_argument("--timeout", type=float, default=0, help="per run (default: 60 s + 0.25 s per MiB)")
    ap.add_argument("--overall-timeout", type=float, default=1800.0)
    ap.add_argument("--braid-args", default="", help="extra arguments for braid get, e.g. '--block-size 1MiB'")
    ap.add_argument("--cleanup", action="store_true", help="delete leftover brb-* namespaces and exit")
    args = ap.parse_args()

    if args.cleanup:
        netns.cleanup_all()
        return 0
    if netns.check_environment():
        return 2

    def on_signal(signum, _frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    deadline = time.monotonic() + args.overall_timeout
    size = args.size_mib * MIB
    per_run = args.timeout or (60 + 0.25 * args.size_mib)
    tools = args.tools.split(",")

    work = tempfile.mkdtemp(prefix="brb-loop-")
    atexit.register(shutil.rmtree, work, True)
    os.chmod(work, 0o755)
    data_dir, out_dir = os.path.join(work, "data"), os.path.join(work, "out")
    os.makedirs(data_dir)
    os.makedirs(out_dir)
    braid_src = netns.BRAID_BIN
    netns.snapshot_braid(work)

    print(f"writing {args.size_mib} MiB random file ...", flush=True)
    want = netns.write_random_file(os.path.join(data_dir, FILE_NAME), size)

    env = {"size_mib": args.size_mib, "size_bytes": size, "sha256": want, "cpus": os.cpu_count(),
           "kernel": platform.release(), "braid_binary": braid_src,
           "braid_sha256": sha256_file(netns.BRAID_BIN), "braid_args": args.braid_args,
           "namespace": NS}
    for name, argv in (("braid", [netns.BRAID_BIN, "--version"]), ("curl", ["curl", "--version"]),
                       ("aria2c", ["aria2c", "--version"]), ("nginx", ["nginx", "-v"])):
        cp = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=10)
        env[name] = (cp.stdout.strip().splitlines() or [""])[0]

    rows: list[dict] = []
    created = False
    try:
        if NS in netns.list_namespaces():
            raise SystemExit(f"namespace {NS} exists: run with --cleanup first")
        subprocess.run(["ip", "netns", "add", NS], check=True, timeout=10)
        created = True
        atexit.register(lambda: NS in netns.list_namespaces() and _delete_ns())
        subprocess.run(["ip", "-n", NS, "link", "set", "lo", "up"], check=True, timeout=10)
        cc = subprocess.run(["ip", "netns", "exec", NS, "cat", "/proc/sys/net/ipv4/tcp_congestion_control"],
                            stdout=subprocess.PIPE, text=True, timeout=10)
        env["tcp_congestion_control"] = cc.stdout.strip()

        braid_addrs = []
        server_procs = []
        for _ in range(3):
            p, addr = netns.start_braid(NS, "127.0.0.1", 0, data_dir)
            braid_addrs.append(addr)
            server_procs.append(p)
        if any(t.startswith("braid-tls-") for t in tools):
            global TLS_CA
            pki = netns.make_pki(os.path.join(work, "tls"), ["127.0.0.1"])
            TLS_CA = pki["ca"]
            for _ in range(3):
                p, addr = netns.start_braid(NS, "127.0.0.1", 0, data_dir,
                                            extra=["--tls-cert", pki["cert"], "--tls-key", pki["key"]])
                TLS_ADDRS.append(addr)
                server_procs.append(p)
        port = 8080                 # the namespace is new: every port is free
        nginx = netns.start_nginx(NS, "127.0.0.1", port, data_dir, os.path.join(work, "nginx"))
        server_procs.append(nginx)
        nginx_url = f"http://127.0.0.1:{port}/{FILE_NAME}"
        env["braid_sources"], env["nginx_url"] = braid_addrs, nginx_url

        # Warm-up, not measured: the page cache for every tool, and the braid
        # servers' manifest of the file (hashed once per file, then cached).
        for tool in ("braid-null", "curl-null") + (("braid-tls-null",) if TLS_ADDRS else ()):
            argv, _ = tool_argv(tool, braid_addrs, nginx_url, out_dir, os.path.join(work, "warm.json"))
            subprocess.run(["ip", "netns", "exec", NS, *argv], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=300)
        env["warm_up"] = "one braid and one curl download to /dev/null before measuring"
        # After the warm-up: nginx's worker exists by now (listed earlier,
        # only its master was counted).
        server_pids = [int(x) for x in subprocess.run(["ip", "netns", "pids", NS], stdout=subprocess.PIPE,
                                                         text=True, timeout=10).stdout.split()]

        for rep in range(args.repeat):
            for tool in tools:
                left = deadline - time.monotonic()
                if left < 5:
                    print("overall timeout reached; stopping", file=sys.stderr)
                    raise TimeoutError
                stats = os.path.join(work, "stats.json")
                if os.path.exists(stats):
                    os.unlink(stats)
                argv, out = tool_argv(tool, braid_addrs, nginx_url, out_dir, stats)
                if tool.startswith("braid") and args.braid_args:
                    argv[3:3] = args.braid_args.split()
                subprocess.run(["sync"], timeout=120)          # earlier runs' dirty pages not billed here
                time.sleep(0.5)
                cpu0 = ns_cpu_s(server_pids)
                err_path = os.path.join(work, "stderr.txt")
                res = run_timed(NS, argv, min(per_run, left), stderr_path=err_path)
                server_cpu = ns_cpu_s(server_pids) - cpu0
                if res["timed_out"]:
                    intact = "FAILED (timeout)"
                elif res["rc"] != 0:
                    intact = f"FAILED (rc {res['rc']})"
                elif out is None:
                    intact = "n/a (null)"
                elif not os.path.exists(out):
                    intact = "FAILED (no output)"
                else:
                    intact = "intact" if sha256_file(out) == want else "CORRUPT"
                with open(err_path, errors="replace") as f:
                    err_tail = f.read()[-2000:]
                row = {
                    "tool": tool, "repeat": rep, "seconds": round(res["seconds"], 3),
                    "mib_per_s": round(args.size_mib / res["seconds"], 1),
                    "user_s": res["user_s"], "sys_s": res["sys_s"], "cpu_s": res["cpu_s"],
                    "max_rss_kib": res["max_rss_kib"], "server_cpu_s": round(server_cpu, 2),
                    "intact": intact, "rc": res["rc"], "argv": argv,
                }
                if err_tail.strip():
                    row["stderr_tail"] = err_tail
                if tool.startswith("braid") and os.path.exists(stats):
                    try:
                        with open(stats) as f:
                            row["braid_stats"] = json.load(f)
                    except ValueError as e:
                        row["braid_stats_error"] = str(e)
                rows.append(row)
                print(f"{tool:<11} {res['seconds']:7.2f}s  cpu {res['cpu_s'] or 0:6.2f}s  "
                      f"rss {(res['max_rss_kib'] or 0) / 1024:7.1f} MiB  server cpu {server_cpu:5.2f}s  {intact}",
                      flush=True)
                for name in os.listdir(out_dir):
                    os.unlink(os.path.join(out_dir, name))
    except TimeoutError:
        pass
    finally:
        netns.kill_all_started()
        if created:
            _delete_ns()
            created = False
        with open(args.out, "w") as f:
            json.dump({"environment": env, "rows": rows}, f, indent=2)
        print()
        print(fmt_table(rows))
        print(f"\nwrote {args.out}")
    return 0


def _delete_ns() -> None:
    """Kill anything left in brb-lo and delete it (only our own namespace)."""
    pids = subprocess.run(["ip", "netns", "pids", NS], stdout=subprocess.PIPE, text=True, timeout=10).stdout.split()
    for pid in pids:
        try:
            os.kill(int(pid), signal.SIGKILL)
        except (ProcessLookupError, ValueError):
            pass
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and subprocess.run(["ip", "netns", "pids", NS], stdout=subprocess.PIPE,
                                                          text=True, timeout=10).stdout.strip():
        time.sleep(0.05)
    subprocess.run(["ip", "netns", "del", NS], timeout=10)


if __name__ == "__main__":
    sys.exit(main())
