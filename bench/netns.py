"""Network-namespace helpers for braid's benchmarks (Python 3 standard library, run as root).

Safety: everything happens inside namespaces named ``brb-*`` that this module
creates; veth pairs are created directly inside those namespaces, so the host's
own interfaces, addresses and routes are never touched. Addresses come from
198.18.0.0/15 (RFC 2544 benchmarking range) and exist only inside the
namespaces. Every process started through :func:`run_in` is remembered and
killed on exit (``atexit``), and :func:`cleanup_all` (the benchmarks'
``--cleanup`` flag) removes any leftover ``brb-*`` namespace and kills every
process still running in one.

Topology built by :class:`Star` (N servers)::

    brb-s1 [vs1 198.18.1.1/24] <-veth-> [vc1 198.18.1.2/24] brb-c
    brb-s2 [vs2 198.18.2.1/24] <-veth-> [vc2 198.18.2.2/24] brb-c
    ...

Data flows server -> client, so each server-side veth (``vsI``) has an HTB
root qdisc with one class 1:10 (rate = ceil = the link rate) and a bounded
byte FIFO (bfifo) leaf. The client side is not shaped (ACKs and requests).

Wide-area links (``Star(..., wan=[Wan(...), ...])``): the kernel has no netem,
so server namespace I also gets a TUN device ``wanI`` and a policy rule that
sends every packet the server itself sends (``iif lo``) into it. ``wanem``
(bench/wanem.cc, built as build/bench/wanem) holds each packet for the link's
round-trip time (plus jitter), drops it with the loss probability and writes
it back; the kernel forwards it onto the shaped veth::

    server socket -> wanI -> wanem (delay, loss) -> wanI -> forward -> vsI (HTB) -> client

The whole round trip is added on the server -> client direction (data and
SYN-ACKs); requests and ACKs go straight through.
"""

from __future__ import annotations

import atexit
import dataclasses
import hashlib
import os
import sys
import select
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import threading
import time
from typing import Callable

PREFIX = "brb-"
CLIENT_NS = "brb-c"
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BRAID_BIN = os.environ.get("BRAID_BIN", os.path.join(REPO, "build", "braid"))
WANEM_BIN = os.environ.get("WANEM_BIN", os.path.join(os.path.dirname(BRAID_BIN), "bench", "wanem"))
NGINX_PORT = 8080
BRAID_PORT = 7070
BRAID_TLS_PORT = 7470          # a second braid serve with TLS, when Star.tls is set
DIRECTOR_PORT = 7071           # braid director, in the client namespace

# Shaping parameters (see bench/README.md). HTB bucket sizes are small so the
# link cannot burst far above its rate; the leaf queue is a byte FIFO so its
# delay stays bounded even though veth hands over GSO super-packets.
HTB_BURST = "15k"
HTB_QUANTUM = 60000          # one class only: quantum just silences a warning
LEAF_LIMIT_BYTES = 256 * 1024  # 10 ms at 200 Mbit/s, 100 ms at 20 Mbit/s

WAN_TABLE = 100               # policy routing table of the server's own packets


@dataclasses.dataclass
class Wan:
    """What wanem adds to one link's server -> client direction."""
    rtt_ms: float = 0.0        # the link's whole round trip
    jitter_ms: float = 0.0     # uniform +-, without reordering
    loss_pct: float = 0.0      # Bernoulli, per packet

    def active(self) -> bool:
        return self.rtt_ms > 0 or self.jitter_ms > 0 or self.loss_pct > 0

    def label(self) -> str:
        out = f"rtt {self.rtt_ms:g} ms"
        if self.jitter_ms:
            out += f" +-{self.jitter_ms:g}"
        if self.loss_pct:
            out += f", loss {self.loss_pct:g} %"
        return out


def _ensure_tun_device() -> None:
    """/dev/net/tun (char 10:200), created if a minimal /dev lacks it."""
    path = "/dev/net/tun"
    if os.path.exists(path):
        return
    try:
        os.makedirs("/dev/net", exist_ok=True)
        os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(10, 200))
    except OSError as e:
        raise RuntimeError(f"{path} is missing and cannot be created ({e}): no TUN devices here")


_procs: list[subprocess.Popen] = []
_procs_lock = threading.Lock()


def server_ns(i: int) -> str:
    return f"{PREFIX}s{i}"


def director_addr(i: int) -> str:
    """The director as server i reaches it: the client end of link i."""
    return f"{client_addr(i)}:{DIRECTOR_PORT}"


def server_addr(i: int) -> str:
    """Address of server i (1-based) as seen from the client namespace."""
    return f"198.18.{i}.1"


def client_addr(i: int) -> str:
    return f"198.18.{i}.2"


def _run(argv: list[str], check: bool = True, timeout: float = 20) -> subprocess.CompletedProcess:
    cp = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout)
    if check and cp.returncode != 0:
        raise RuntimeError(f"command failed ({cp.returncode}): {' '.join(argv)}\n{cp.stderr.strip()}")
    return cp


def list_namespaces() -> list[str]:
    cp = _run(["ip", "netns", "list"], check=False)
    names = []
    for line in cp.stdout.splitlines():
        if line.strip():
            names.append(line.split()[0])
    return names


# --------------------------------------------------------------------------
# processes

def run_in(ns: str, argv: list[str], **popen_kwargs) -> subprocess.Popen:
    """Start argv inside namespace ns (``ip netns exec``); returns the Popen.

    The process gets its own session (process group), so signal helpers below
    reach its children too (nginx workers). It is killed at exit at the latest.
    """
    if not ns.startswith(PREFIX):
        raise ValueError(f"refusing to run in a namespace not named {PREFIX}*: {ns}")
    popen_kwargs.setdefault("start_new_session", True)
    p = subprocess.Popen(["ip", "netns", "exec", ns, *argv], **popen_kwargs)
    with _procs_lock:
        _procs.append(p)
    return p


def _signal(p: subprocess.Popen, sig: int) -> None:
    if p.poll() is not None:
        return
    try:
        os.killpg(p.pid, sig)          # the whole group: nginx master + worker
    except ProcessLookupError:
        pass
    except PermissionError:
        try:
            p.send_signal(sig)
        except ProcessLookupError:
            pass


def kill(p: subprocess.Popen, wait: float = 5) -> None:
    """SIGKILL p and its process group; reap it (bounded)."""
    if p.poll() is None:
        _signal(p, signal.SIGCONT)
        _signal(p, signal.SIGKILL)
    try:
        p.wait(timeout=wait)
    except subprocess.TimeoutExpired:
        pass


def terminate(p: subprocess.Popen, grace: float = 3) -> None:
    """SIGTERM, then SIGKILL after grace seconds."""
    if p.poll() is None:
        _signal(p, signal.SIGCONT)
        _signal(p, signal.SIGTERM)
        try:
            p.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
    kill(p)


def stop(p: subprocess.Popen) -> None:
    """Freeze p's process group (SIGSTOP)."""
    _signal(p, signal.SIGSTOP)


def cont(p: subprocess.Popen) -> None:
    """Resume p's process group (SIGCONT)."""
    _signal(p, signal.SIGCONT)


def kill_all_started() -> None:
    with _procs_lock:
        procs = list(_procs)
        _procs.clear()
    for p in procs:
        kill(p, wait=2)


def _pids_in(ns: str) -> list[int]:
    cp = _run(["ip", "netns", "pids", ns], check=False)
    return [int(x) for x in cp.stdout.split() if x.isdigit()]


def write_random_file(path: str, size: int, chunk: int = 4 << 20) -> str:
    """Writes `size` random bytes to path; returns their sha256 (hex)."""
    h = hashlib.sha256()
    with open(path, "wb") as f:
        left = size
        while left:
            b = os.urandom(min(left, chunk))
            h.update(b)
            f.write(b)
            left -= len(b)
    return h.hexdigest()


def check_environment() -> int:
    """0 when the benchmark can run here (root, a built braid), else 2."""
    if os.geteuid() != 0:
        print("run as root (network namespaces)", file=sys.stderr)
        return 2
    if not os.access(BRAID_BIN, os.X_OK):
        print(f"{BRAID_BIN} missing: run scripts/build.sh first", file=sys.stderr)
        return 2
    return 0


def cleanup_all(verbose: bool = True) -> None:
    """Kill every process in a brb-* namespace and delete those namespaces."""
    kill_all_started()
    for ns in list_namespaces():
        if not ns.startswith(PREFIX):
            continue
        for pid in _pids_in(ns):
            try:
                os.kill(pid, signal.SIGCONT)
                os.kill(pid, signal.SIGKILL)
                if verbose:
                    print(f"killed pid {pid} in {ns}")
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 5
        while _pids_in(ns) and time.monotonic() < deadline:
            time.sleep(0.05)
        _run(["ip", "netns", "del", ns], check=False)
        if verbose:
            print(f"deleted namespace {ns}")


atexit.register(kill_all_started)


# --------------------------------------------------------------------------
# timed runs

MIB = 1024 * 1024


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(4 * MIB)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


TIME_BIN = "/usr/bin/time"


def run_timed(ns: str, argv: list[str], timeout: float, on_start: Callable[[float], None] | None = None,
              stderr_path: str | None = None) -> dict:
    """Run argv in ns; wall seconds, client CPU and peak RSS, return code; killed after timeout.

    CPU and RSS come from GNU time run inside the namespace (``time -f "%e %U %S %M"``),
    so they are the tool's own: the rusage of ``ip netns exec`` itself would carry
    ip's peak RSS across its exec. Wall seconds are measured here.
    """
    err = open(stderr_path, "wb") if stderr_path else subprocess.DEVNULL
    tfd, tfile = tempfile.mkstemp(prefix="brb-time-")
    os.close(tfd)
    wrapped = [TIME_BIN, "-f", "%e %U %S %M", "-o", tfile, *argv] if os.access(TIME_BIN, os.X_OK) else argv
    try:
        return _run_timed(ns, argv, wrapped, tfile, timeout, on_start, err)
    finally:
        if err is not subprocess.DEVNULL:
            err.close()
        try:
            os.unlink(tfile)
        except OSError:
            pass


def _run_timed(ns, argv, wrapped, tfile, timeout, on_start, err) -> dict:
    t0 = time.monotonic()
    p = run_in(ns, wrapped, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
    if on_start:
        on_start(t0)
    result: dict = {}

    def reap():
        try:
            _, status, ru = os.wait4(p.pid, 0)
        except ChildProcessError:
            return
        result["t1"] = time.monotonic()
        result["rc"] = os.waitstatus_to_exitcode(status)
        result["ru"] = ru

    th = threading.Thread(target=reap, daemon=True)
    th.start()
    th.join(timeout)
    timed_out = th.is_alive()
    if timed_out:
        _signal(p, signal.SIGCONT)
        _signal(p, signal.SIGKILL)   # the whole group (time + tool); the reaper thread collects it
        th.join(10)
    p.returncode = result.get("rc", -9)
    out = {
        "seconds": result.get("t1", time.monotonic()) - t0,
        "rc": result.get("rc"),
        "timed_out": timed_out,
        "user_s": None, "sys_s": None, "cpu_s": None, "max_rss_kib": None,
    }
    try:
        with open(tfile) as f:
            lines = [x.strip() for x in f if x.strip()]
    except OSError:
        lines = []
    for line in lines:
        if line.startswith("Command terminated by signal "):
            out["rc"] = -int(line.rsplit(" ", 1)[1])
    fields = lines[-1].split() if lines else []
    if len(fields) == 4:
        try:
            _, u, s, m = (float(x) for x in fields)
            out.update(user_s=u, sys_s=s, cpu_s=round(u + s, 2), max_rss_kib=int(m))
        except ValueError:
            pass
    elif wrapped is argv and result.get("ru"):
        ru = result["ru"]
        out.update(user_s=ru.ru_utime, sys_s=ru.ru_stime, cpu_s=ru.ru_utime + ru.ru_stime,
                   max_rss_kib=ru.ru_maxrss)
    return out


# --------------------------------------------------------------------------
# readiness

def wait_tcp(ns: str, host: str, port: int, timeout: float = 10) -> None:
    """Wait until host:port accepts a TCP connection, probed from inside ns."""
    probe = ("import socket,sys,time\n"
             "d=time.monotonic()+float(sys.argv[3])\n"
             "while True:\n"
             "  try:\n"
             "    socket.create_connection((sys.argv[1],int(sys.argv[2])),timeout=1).close(); sys.exit(0)\n"
             "  except OSError:\n"
             "    if time.monotonic()>d: sys.exit(1)\n"
             "    time.sleep(0.05)\n")
    cp = _run(["ip", "netns", "exec", ns, "python3", "-c", probe, host, str(port), str(timeout)],
              check=False, timeout=timeout + 10)
    if cp.returncode != 0:
        raise RuntimeError(f"{host}:{port} not reachable from {ns} within {timeout}s")


def read_first_line(p: subprocess.Popen, timeout: float = 10) -> str:
    """First line of p's stdout (must be a pipe), bounded by timeout."""
    fd = p.stdout.fileno()
    buf = b""
    deadline = time.monotonic() + timeout
    while b"\n" not in buf:
        left = deadline - time.monotonic()
        if left <= 0:
            raise RuntimeError("no output line in time")
        r, _, _ = select.select([fd], [], [], left)
        if not r:
            continue
        chunk = os.read(fd, 4096)
        if not chunk:
            raise RuntimeError(f"process exited (rc={p.poll()}) before printing a line")
        buf += chunk
    return buf.split(b"\n", 1)[0].decode(errors="replace").strip()


def _drain(p: subprocess.Popen) -> None:
    """Keep reading p's stdout so it can never block on a full pipe."""
    def loop():
        try:
            while os.read(p.stdout.fileno(), 65536):
                pass
        except (OSError, ValueError):
            pass
    threading.Thread(target=loop, daemon=True).start()


# --------------------------------------------------------------------------
# servers

NGINX_CONF = """\
user root;
daemon off;
master_process on;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 256; }}
http {{
    default_type application/octet-stream;
    types {{ }}
    access_log {tmp}/access.log;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 30;
    server {{
        listen {host}:{port};
        root {root};
        location / {{ }}
    }}
}}
"""


def start_nginx(ns: str, host: str, port: int, root: str, tmpdir: str,
                timeout: float = 10) -> subprocess.Popen:
    """nginx serving root on host:port inside ns; config and logs in tmpdir."""
    os.makedirs(tmpdir, exist_ok=True)
    conf = os.path.join(tmpdir, "nginx.conf")
    with open(conf, "w") as f:
        f.write(NGINX_CONF.format(tmp=tmpdir, host=host, port=port, root=root))
    p = run_in(ns, ["nginx", "-c", conf, "-p", tmpdir, "-e", os.path.join(tmpdir, "error.log")],
               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
               stderr=open(os.path.join(tmpdir, "stderr.log"), "wb"))
    try:
        wait_tcp(ns, host, port, timeout)
    except Exception:
        kill(p)
        with open(os.path.join(tmpdir, "stderr.log"), errors="replace") as f:
            err = f.read()
        raise RuntimeError(f"nginx in {ns} did not start: {err.strip()}")
    return p


def start_braid(ns: str, host: str, port: int, root: str, timeout: float = 10,
                extra: list[str] | None = None, log_path: str | None = None) -> tuple[subprocess.Popen, str]:
    """``braid serve`` inside ns; returns (Popen, "HOST:PORT" it listens on).

    Its stderr is appended to log_path when given (else inherited).
    """
    log = open(log_path, "ab") if log_path else None
    p = run_in(ns, [BRAID_BIN, "serve", "--root", root, "--listen", f"{host}:{port}", "-q", *(extra or [])],
               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log)
    if log:
        log.close()
    try:
        line = read_first_line(p, timeout)
    except Exception:
        kill(p)
        raise
    if not line.startswith("listening "):
        kill(p)
        raise RuntimeError(f"braid serve in {ns}: unexpected first line {line!r}")
    _drain(p)
    return p, line.split(" ", 1)[1]


def make_pki(d: str, ips: list[str]) -> dict[str, str]:
    """A test authority ("ca") and a certificate ("cert", "key") naming the
    IP addresses `ips`, made by the openssl program in directory d."""
    os.makedirs(d, exist_ok=True)
    p = {k: os.path.join(d, k + ".pem") for k in ("ca", "ca_key", "cert", "key", "csr")}
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    _run(["openssl", "req", "-x509", *ec, "-keyout", p["ca_key"], "-out", p["ca"], "-days", "2",
          "-subj", "/CN=bench CA"])
    _run(["openssl", "req", *ec, "-keyout", p["key"], "-out", p["csr"], "-subj", "/CN=bench"])
    ext = os.path.join(d, "san.ext")
    with open(ext, "w") as f:
        f.write("subjectAltName=" + ",".join(f"IP:{ip}" for ip in ips) + "\n")
    _run(["openssl", "x509", "-req", "-in", p["csr"], "-CA", p["ca"], "-CAkey", p["ca_key"],
          "-CAcreateserial", "-out", p["cert"], "-days", "2", "-extfile", ext])
    return p


# --------------------------------------------------------------------------
# the star topology

class Star:
    """Client namespace brb-c linked to servers brb-s1..N by shaped veth pairs.

    Use as a context manager; leaving it kills every process started in the
    namespaces and deletes them (also on exceptions).
    """

    def __init__(self, rates_mbit: list[float], leaf_limit_bytes: int = LEAF_LIMIT_BYTES,
                 mtu: int = 1500, wan: list[Wan] | None = None):
        if not rates_mbit:
            raise ValueError("need at least one server")
        self.rates = [float(r) for r in rates_mbit]         # current rate of each link
        self.base_rates = list(self.rates)                   # as built
        self.data_dir: str | None = None                     # set by the benchmark (for mid-run starts)
        self.leaf_limit = leaf_limit_bytes
        self.mtu = mtu                                       # of every veth link
        self.tmp = tempfile.mkdtemp(prefix="brb-star-")
        self.servers: dict[int, dict[str, object]] = {}   # i -> {"nginx": Popen, "braid": Popen, ...}
        self.director: subprocess.Popen | None = None      # start_director()
        self.tls: dict[str, str] | None = None             # enable_tls(): ca, cert, key
        self.wan = list(wan or [])                          # per link; missing = plain link
        self.wanem: dict[int, subprocess.Popen] = {}
        self.wanem_final: dict[int, str] = {}              # wanem's counters, read at close()
        self._namespaces: list[str] = []
        atexit.register(self.close)

    # -- lifecycle
    def __enter__(self) -> "Star":
        try:
            self.build()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def n(self) -> int:
        return len(self.rates)

    def _add_ns(self, name: str) -> None:
        if name in list_namespaces():
            raise RuntimeError(f"namespace {name} already exists (run with --cleanup first)")
        _run(["ip", "netns", "add", name])
        self._namespaces.append(name)
        _run(["ip", "-n", name, "link", "set", "lo", "up"])

    def build(self) -> None:
        self._add_ns(CLIENT_NS)
        for i in range(1, self.n + 1):
            self.add_link(i, self.rates[i - 1], _new=False)

    def add_link(self, i: int, mbit: float, _new: bool = True) -> None:
        """Create server namespace i and its shaped link (usable mid-run too)."""
        ns = server_ns(i)
        if _new:
            if i != len(self.rates) + 1:
                raise ValueError("servers are numbered consecutively")
            self.rates.append(float(mbit))
            self.base_rates.append(float(mbit))
        self._add_ns(ns)
        vs, vc = f"vs{i}", f"vc{i}"
        _run(["ip", "link", "add", vs, "netns", ns, "type", "veth", "peer", "name", vc, "netns", CLIENT_NS])
        _run(["ip", "-n", ns, "addr", "add", f"{server_addr(i)}/24", "dev", vs])
        _run(["ip", "-n", CLIENT_NS, "addr", "add", f"{client_addr(i)}/24", "dev", vc])
        _run(["ip", "-n", ns, "link", "set", vs, "mtu", str(self.mtu), "up"])
        _run(["ip", "-n", CLIENT_NS, "link", "set", vc, "mtu", str(self.mtu), "up"])
        _run(["tc", "-n", ns, "qdisc", "add", "dev", vs, "root", "handle", "1:", "htb", "default", "10"])
        _run(["tc", "-n", ns, "class", "add", "dev", vs, "parent", "1:", "classid", "1:10",
              *self._htb_args(mbit)])
        _run(["tc", "-n", ns, "qdisc", "add", "dev", vs, "parent", "1:10", "handle", "10:",
              "bfifo", "limit", str(self.leaf_limit)])
        if i <= len(self.wan) and self.wan[i - 1].active():
            self._add_wan(i, self.wan[i - 1])

    def _add_wan(self, i: int, wan: Wan) -> None:
        """The TUN detour through wanem for server i's own packets (see the module doc)."""
        ns, dev = server_ns(i), f"wan{i}"
        if not os.access(WANEM_BIN, os.X_OK):
            raise RuntimeError(f"{WANEM_BIN} missing: build the 'wanem' target")
        _ensure_tun_device()
        _run(["ip", "-n", ns, "tuntap", "add", "dev", dev, "mode", "tun"])
        _run(["ip", "-n", ns, "link", "set", dev, "mtu", str(self.mtu), "up"])
        # /proc/sys/net is the writer's namespace's (no sysctl binary needed).
        settings = {"ipv4/ip_forward": 1, "ipv4/conf/all/rp_filter": 0,
                    f"ipv4/conf/{dev}/rp_filter": 0, f"ipv4/conf/{dev}/accept_local": 1}
        script = "; ".join(f"echo {v} > /proc/sys/net/{k}" for k, v in settings.items())
        _run(["ip", "netns", "exec", ns, "sh", "-ec", script])
        _run(["ip", "-n", ns, "route", "add", "default", "dev", dev, "src", server_addr(i),
              "table", str(WAN_TABLE)])
        _run(["ip", "-n", ns, "rule", "add", "iif", "lo", "table", str(WAN_TABLE), "priority", "100"])
        with open(os.path.join(self.tmp, f"wanem{i}.log"), "ab") as log:
            p = run_in(ns, [WANEM_BIN, "--dev", dev, "--delay-ms", str(wan.rtt_ms), "--jitter-ms",
                            str(wan.jitter_ms), "--loss", str(wan.loss_pct), "--seed", str(i)],
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log)
        line = read_first_line(p, 10)
        if not line.startswith("ready "):
            kill(p)
            raise RuntimeError(f"wanem in {ns}: unexpected first line {line!r}")
        _drain(p)
        self.wanem[i] = p

    def wanem_counters(self) -> dict[int, str]:
        """The last counter line each wanem printed (after close(): on SIGTERM)."""
        out = {}
        for i in self.wanem:
            try:
                with open(os.path.join(self.tmp, f"wanem{i}.log"), errors="replace") as f:
                    lines = [x.strip() for x in f if x.strip()]
                out[i] = lines[-1] if lines else ""
            except OSError:
                pass
        return out

    @staticmethod
    def _htb_args(mbit: float) -> list[str]:
        r = f"{int(round(mbit * 1000))}kbit"
        return ["htb", "rate", r, "ceil", r, "burst", HTB_BURST, "cburst", HTB_BURST,
                "quantum", str(HTB_QUANTUM)]

    def set_rate(self, i: int, mbit: float) -> None:
        """Change link i's rate (server -> client direction) at run time."""
        ns = server_ns(i)
        _run(["tc", "-n", ns, "class", "change", "dev", f"vs{i}", "parent", "1:", "classid", "1:10",
              *self._htb_args(mbit)])
        self.rates[i - 1] = float(mbit)

    def qdisc_stats(self, i: int) -> str:
        return _run(["tc", "-s", "-n", server_ns(i), "qdisc", "show", "dev", f"vs{i}"], check=False).stdout

    # -- servers
    def start_servers(self, i: int, root: str, nginx: bool = True, braid: bool = True) -> dict:
        """Start nginx (:8080) and/or braid serve (:7070) in server namespace i."""
        ns, host = server_ns(i), server_addr(i)
        entry = self.servers.setdefault(i, {})
        if nginx:
            entry["nginx"] = start_nginx(ns, host, NGINX_PORT, root, os.path.join(self.tmp, f"nginx{i}"))
        if braid:
            # Registered with the director in the client namespace (if any).
            extra = ["--discovery", "off"]
            if self.director is not None:
                extra += ["--director", director_addr(i)]
            p, addr = start_braid(ns, host, BRAID_PORT, root, log_path=self.braid_log(i), extra=extra)
            entry["braid"], entry["braid_addr"] = p, addr
            if self.tls:
                tls = ["--discovery", "off", "--tls-cert", self.tls["cert"], "--tls-key", self.tls["key"]]
                entry["braid_tls"], _ = start_braid(ns, host, BRAID_TLS_PORT, root,
                                                    log_path=self.braid_log(i), extra=tls)
        return entry

    def enable_tls(self) -> dict[str, str]:
        """Servers started afterwards also serve TLS on BRAID_TLS_PORT, with
        one certificate naming every server address."""
        self.tls = make_pki(os.path.join(self.tmp, "tls"),
                            [server_addr(i) for i in range(1, self.n + 1)])
        return self.tls

    def start_director(self) -> None:
        """``braid director`` in the client namespace, on every link's client end."""
        log = open(os.path.join(self.tmp, "director.log"), "ab")
        p = run_in(CLIENT_NS, [BRAID_BIN, "director", "--listen", f"0.0.0.0:{DIRECTOR_PORT}",
                               "--db", ":memory:", "-q"],
                   stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log)
        log.close()
        line = read_first_line(p, 10)
        if not line.startswith("listening "):
            kill(p)
            raise RuntimeError(f"braid director: unexpected first line {line!r}")
        _drain(p)
        self.director = p

    def braid_log(self, i: int) -> str:
        """File collecting braid serve's stderr of server i (all its restarts)."""
        return os.path.join(self.tmp, f"braid-serve-{i}.log")

    def log_sizes(self) -> dict[int, int]:
        out = {}
        for i in range(1, self.n + 1):
            try:
                out[i] = os.path.getsize(self.braid_log(i))
            except OSError:
                out[i] = 0
        return out

    def log_since(self, sizes: dict[int, int], limit: int = 2000) -> dict[str, str]:
        """What each braid serve logged since log_sizes() returned sizes (last limit chars)."""
        out = {}
        for i in range(1, self.n + 1):
            try:
                with open(self.braid_log(i), "rb") as f:
                    f.seek(sizes.get(i, 0))
                    text = f.read().decode(errors="replace")
            except OSError:
                continue
            if text.strip():
                out[f"s{i}"] = text[-limit:]
        return out

    def server_procs(self, i: int) -> list[subprocess.Popen]:
        e = self.servers.get(i, {})
        return [e[k] for k in ("nginx", "braid") if k in e]

    def kill_server(self, i: int) -> None:
        """SIGKILL nginx and braid serve of server i."""
        for p in self.server_procs(i):
            kill(p)

    def freeze_server(self, i: int) -> None:
        for p in self.server_procs(i):
            stop(p)

    def thaw_server(self, i: int) -> None:
        for p in self.server_procs(i):
            cont(p)

    def close(self) -> None:
        for e in self.servers.values():
            for k in ("nginx", "braid"):
                if k in e:
                    terminate(e[k], grace=2)
        self.servers.clear()
        if self.director is not None:
            terminate(self.director, grace=2)
            self.director = None
        for p in self.wanem.values():
            terminate(p, grace=2)
        if self.wanem:
            self.wanem_final = self.wanem_counters()
        self.wanem.clear()
        for ns in reversed(self._namespaces):
            for pid in _pids_in(ns):
                try:
                    os.kill(pid, signal.SIGCONT)
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            deadline = time.monotonic() + 5
            while _pids_in(ns) and time.monotonic() < deadline:
                time.sleep(0.05)
            _run(["ip", "netns", "del", ns], check=False)
        self._namespaces.clear()
        shutil.rmtree(self.tmp, ignore_errors=True)


def snapshot_braid(dest_dir: str, src: str | None = None, attempts: int = 10) -> str:
    """Copy the braid binary into dest_dir and use the copy from now on.

    The build tree may be relinked while a benchmark runs (exec then fails with
    EACCES/ETXTBSY); a private copy keeps every run on one binary.
    """
    global BRAID_BIN
    src = src or BRAID_BIN
    dest = os.path.join(dest_dir, "braid")
    last = ""
    for _ in range(attempts):
        try:
            shutil.copy2(src, dest)
            os.chmod(dest, 0o755)
            cp = subprocess.run([dest, "--version"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, timeout=10)
            if cp.returncode == 0:
                BRAID_BIN = dest
                return dest
            last = cp.stdout
        except (OSError, subprocess.TimeoutExpired) as e:
            last = str(e)
        time.sleep(2)
    raise RuntimeError(f"cannot snapshot a working braid binary from {src}: {last}")


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on host right now (host namespace; loopback bench only)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]
