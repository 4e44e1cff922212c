"""Helpers for braid's integration tests (standard library only).

The binary under test is named by the environment variable BRAID_BIN.
Everything talks to 127.0.0.1 only, and every wait is bounded.

Wire format: docs/protocol.md (big-endian; frame = u32 length + u8 type + body,
where the length counts the type byte and the body).
"""

from __future__ import annotations

import atexit
import hashlib
import json
import math
import os
import re
import select
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
import unittest

# --------------------------------------------------------------------------
# Constants from docs/protocol.md

PROTOCOL_VERSION = 1  # what raw test peers say unless told otherwise
NEWEST_PROTOCOL_VERSION = 2  # braid speaks 1..2 (version 2 adds WINDOW)
MAGIC = b"BRAD"

HELLO = 0x01
PING = 0x02
PONG = 0x03
LIST = 0x04
TOC = 0x05
OPEN = 0x06
OPENED = 0x07
START = 0x08
PATTERN = 0x09
PATTERN_ACK = 0x0A
DATA = 0x0B
END = 0x0C
ERROR = 0x0D
REQUEST = 0x0E
SKIP = 0x0F
MANIFEST_GET = 0x10
MANIFEST = 0x11
REGISTER = 0x12
REGISTERED = 0x13
LOOKUP = 0x14
SOURCES = 0x15
CATALOG = 0x16
DISCOVER = 0x17
HERE = 0x18
ROUTE = 0x19
ROUTED = 0x1A
EDGE = 0x1B
WINDOW = 0x1E

TYPE_NAMES = {
    HELLO: "HELLO", PING: "PING", PONG: "PONG", LIST: "LIST", TOC: "TOC",
    OPEN: "OPEN", OPENED: "OPENED", START: "START", PATTERN: "PATTERN",
    PATTERN_ACK: "PATTERN_ACK", DATA: "DATA", END: "END", ERROR: "ERROR",
    REQUEST: "REQUEST", SKIP: "SKIP", MANIFEST_GET: "MANIFEST_GET", MANIFEST: "MANIFEST",
    REGISTER: "REGISTER", REGISTERED: "REGISTERED", LOOKUP: "LOOKUP", SOURCES: "SOURCES",
    CATALOG: "CATALOG", DISCOVER: "DISCOVER", HERE: "HERE", ROUTE: "ROUTE", ROUTED: "ROUTED",
    EDGE: "EDGE", WINDOW: "WINDOW",
}

KIB = 1024
MIB = 1024 * 1024

MAX_BODY = {
    HELLO: 1 * KIB,
    PING: 1 * MIB + 8,
    PONG: 1 * MIB + 8,
    LIST: 2 + 1536 + 1,  # an optional access token, then flags (to a director)
    TOC: 8 * MIB,
    OPEN: 16 * KIB,
    OPENED: 52,
    START: 0,
    PATTERN: 16 * KIB,
    PATTERN_ACK: 12,
    DATA: 12 + 4 * MIB,
    END: 16,
    ERROR: 1 * KIB,
    REQUEST: 12,
    SKIP: 12,
    MANIFEST_GET: 12,
    MANIFEST: 12 + 65536 * 32,
    REGISTER: 8 * MIB,
    REGISTERED: 8,
    LOOKUP: 1 + 2 + 1024,
    SOURCES: 8 * MIB,
    CATALOG: 8 * MIB,
    DISCOVER: 8 + 2 + 1024,
    HERE: 8 + 2 + 2 + 300 + 8 + 32,
    ROUTE: 2 + 300,
    ROUTED: 0,
    EDGE: 9,
    WINDOW: 8,
}

# REGISTER flags
REGISTER_FIRST = 1
REGISTER_LAST = 2
REGISTER_TOKEN = 4

ROLE_CLIENT = 1
ROLE_SERVER = 2
ROLE_DIRECTOR = 3
ROLE_RELAY = 4

# braid::Errc
kTruncated = 1
kFrameTooLarge = 2
kUnknownType = 3
kMalformed = 4
kBadMagic = 5
kBadVersion = 6
kBadState = 7
kBadPattern = 8
kNotFound = 9
kForbiddenPath = 10
kTimeout = 11
kIoError = 12
kSizeMismatch = 13
kLimit = 14
kUnavailable = 15
kBadData = 16
kForbidden = 17

DEFAULT_BLOCK_SIZE = 65536
MIN_BLOCK_SIZE = 512
MAX_BLOCK_SIZE = 4 * MIB

LISTEN_RE = re.compile(rb"^listening 127\.0\.0\.1:(\d+)\n$")

# Set by CMake for a -DBRAID_SANITIZE=ON build (ASan's allocator needs more
# memory; bounds on the daemons' RSS allow for it).
SANITIZED = os.environ.get("BRAID_SANITIZED") == "1"

# A sanitizer build runs several times slower, and the suite runs three tests
# at a time on two cores. Tests never wait a fixed time for something to
# happen: they wait for the event itself, bounded by a timeout given in
# seconds of a release build, which wait_until, wait_trace, run_cmd,
# BackgroundGet.wait and start_daemon multiply by SLOW.
SLOW = 3.0 if SANITIZED else 1.0

# Timeouts (seconds of a release build).
SERVER_START_TIMEOUT = 10.0
SERVER_STOP_TIMEOUT = 10.0
GET_TIMEOUT = 120.0
FRAME_TIMEOUT = 10.0 * SLOW  # RawConn's default: used as it is


# --------------------------------------------------------------------------
# Binary, temp dirs, files, hashes


def braid_bin() -> str:
    """Path of the braid binary from $BRAID_BIN; raises a clear error if unusable."""
    path = os.environ.get("BRAID_BIN")
    if not path:
        raise RuntimeError(
            "BRAID_BIN is not set: export BRAID_BIN=/path/to/build/braid "
            "(ctest sets it for the registered integration tests)")
    if not os.path.isfile(path) or not os.access(path, os.X_OK):
        raise RuntimeError(f"BRAID_BIN={path!r} is not an executable file")
    return os.path.abspath(path)


def make_temp_dir(test: unittest.TestCase | None = None, prefix: str = "braid-it-") -> str:
    """A fresh temp dir; removed by the test's cleanup if a test case is given."""
    d = tempfile.mkdtemp(prefix=prefix)
    if test is not None:
        test.addCleanup(shutil.rmtree, d, True)
    return d


def class_root(cls, name: str, size: int) -> str:
    """For setUpClass: cls.tmp (removed after the class), cls.root holding one
    random file `name` of `size` bytes; returns the file's sha256."""
    cls.tmp = make_temp_dir()
    cls.addClassCleanup(shutil.rmtree, cls.tmp, True)
    cls.root = os.path.join(cls.tmp, "root")
    os.makedirs(cls.root)
    return write_random_file(os.path.join(cls.root, name), size)


def write_random_file(path: str, size: int, chunk: int = 1 * MIB) -> str:
    """Writes `size` random bytes to `path` (streamed), returns the sha256 hex."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    h = hashlib.sha256()
    left = size
    with open(path, "wb") as f:
        while left > 0:
            b = os.urandom(min(chunk, left))
            f.write(b)
            h.update(b)
            left -= len(b)
    return h.hexdigest()


def sha256_file(path: str, chunk: int = 1 * MIB) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(chunk)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def free_udp_port() -> int:
    """A UDP port free right now on this host (bound to 0, then closed)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind(("0.0.0.0", 0))
        return s.getsockname()[1]
    finally:
        s.close()


def closed_port() -> int:
    """A 127.0.0.1 port that nothing listens on (bound to 0, then closed)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


def wait_until(pred, timeout: float, interval: float = 0.02) -> bool:
    """Polls pred until it holds (True) or timeout * SLOW passes (False)."""
    deadline = time.monotonic() + timeout * SLOW
    while True:
        if pred():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def read_jsonl(path: str) -> list[dict]:
    """The complete JSON lines of a file another process is still writing
    (a last line without its newline is left for the next read)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return []
    rows = []
    for line in data.split(b"\n")[:-1]:
        if line.strip():
            rows.append(json.loads(line))
    return rows


def wait_trace(path: str, pred, timeout: float, what: str, proc=None) -> list[dict]:
    """Waits until pred(rows) holds for the rows of a growing --trace file
    (at most timeout * SLOW seconds); returns the rows. Raises AssertionError naming `what` (with the rows so
    far) on timeout, or at once if `proc` (a Popen) ends first."""
    rows: list[dict] = []

    def check() -> bool:
        nonlocal rows
        rows = read_jsonl(path)
        return pred(rows) or (proc is not None and proc.poll() is not None)

    ok = wait_until(check, timeout)
    if ok and pred(rows):
        return rows
    why = "the process ended first" if ok else f"not within {timeout * SLOW:.0f} s"
    raise AssertionError(f"trace never showed {what} ({why}); last rows: {rows[-4:]}")


def sent_by(rows: list[dict], address: str) -> bool:
    """True once an interval row of a trace shows data from `address`."""
    for r in rows:
        if r.get("kind") != "interval":
            continue
        for s in r["sources"]:
            if s["address"] == address and s["rate"] > 0:
                return True
    return False


def all_sent(rows: list[dict], addresses: list[str]) -> bool:
    """True once every address in the list has delivered data (trace rows)."""
    return all(sent_by(rows, a) for a in addresses)


def resume_state_bytes(path: str) -> int:
    """Bytes that a .braid-state file names as verified on disk (0 if there
    is none yet or it is being replaced)."""
    try:
        with open(path) as f:
            st = json.load(f)
    except (OSError, ValueError):
        return 0
    blocks = sum(end - first for first, end in st["have"])
    return min(blocks * st["block_size"], st["size"])


def interrupt_when_saved(test: unittest.TestCase, args: list[str], state: str,
                         min_bytes: int, sig: int) -> tuple[int, str]:
    """Runs args (a `braid get`), sends `sig` once its resume state file
    names more than min_bytes; (exit status, stderr). Fails the test when no
    such state came within 30 s or the transfer ended first."""
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, cwd=scratch_dir())
    try:
        saved = wait_until(lambda: resume_state_bytes(state) > min_bytes
                           or proc.poll() is not None, 30)
        test.assertTrue(saved, f"no resume state naming {min_bytes} bytes was saved")
        test.assertIsNone(proc.poll(), "finished before the interruption")
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=30 * SLOW)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    return proc.returncode, err.decode(errors="replace")


def nonempty_lines(text: str | bytes) -> list[str]:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return [ln for ln in text.splitlines() if ln.strip()]


# --------------------------------------------------------------------------
# Server processes


class Server:
    """A running `braid serve` on 127.0.0.1:<ephemeral port>."""

    def __init__(self, proc: subprocess.Popen, port: int, stderr_path: str, args: list[str]):
        self.proc = proc
        self.port = port
        self.host = "127.0.0.1"
        self.address = f"127.0.0.1:{port}"
        self.stderr_path = stderr_path
        self.args = args
        self.first_line = b""
        self.extra_stdout = bytearray()
        self._drain: threading.Thread | None = None
        self.returncode: int | None = None

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stderr_text(self) -> str:
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def _drain_stdout(self) -> None:
        fd = self.proc.stdout.fileno()
        while True:
            try:
                b = os.read(fd, 65536)
            except OSError:
                return
            if not b:
                return
            self.extra_stdout += b

    def signal(self, sig: int) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)

    def wait(self, timeout: float) -> int | None:
        try:
            self.returncode = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        return self.returncode

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(timeout=SERVER_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                pass

    def stop(self, timeout: float = SERVER_STOP_TIMEOUT) -> int | None:
        """SIGTERM, wait up to `timeout`, then SIGKILL. Returns the exit code."""
        if self.proc.poll() is None:
            try:
                self.proc.terminate()
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self.returncode = self.proc.poll()
        if self._drain is not None:
            self._drain.join(timeout=2.0)
        if self.proc.stdout is not None:
            try:
                self.proc.stdout.close()
            except OSError:
                pass
        return self.returncode

    def __repr__(self) -> str:
        return f"Server({self.address}, pid={self.proc.pid})"


_ALL_SERVERS: list[Server] = []


def start_server(root: str, *, max_rate: str | None = None, name: str | None = None,
                 config: str | None = None, extra: list[str] | None = None,
                 listen: str | None = "127.0.0.1:0", log_dir: str | None = None,
                 timeout: float = SERVER_START_TIMEOUT) -> Server:
    """Starts `braid serve`, waits (bounded) for `listening 127.0.0.1:PORT`.

    `root=None` leaves --root out (for --config tests); `listen=None` leaves out
    --listen. `--discovery off` is added unless `extra` names --discovery, so
    that tests do not bind the UDP discovery port. Raises AssertionError with
    the server's stderr if it fails.
    """
    args = [braid_bin(), "serve"]
    if root is not None:
        args += ["--root", root]
    if listen is not None:
        args += ["--listen", listen]
    if name is not None:
        args += ["--name", name]
    if max_rate is not None:
        args += ["--max-rate", str(max_rate)]
    if config is not None:
        args += ["--config", config]
    extra = list(extra or [])
    if "--discovery" not in extra:
        args += ["--discovery", "off"]
    args += extra
    return start_daemon(args, "braid serve", log_dir=log_dir, timeout=timeout)


METRICS_RE = re.compile(r"metrics on (http://127\.0\.0\.1:\d+/metrics)")


def metrics_url(daemon: Server) -> str:
    """The /metrics URL a daemon started with --metrics logged (bounded wait)."""
    found: list[str] = []

    def logged() -> bool:
        m = METRICS_RE.search(daemon.stderr_text())
        if m:
            found.append(m.group(1))
        return bool(m)

    if not wait_until(logged, 10):
        raise AssertionError(f"{daemon} logged no metrics URL:\n{daemon.stderr_text()}")
    return found[0]


def start_director(db: str, *, heartbeat_ms: int | None = None,
                   listen: str = "127.0.0.1:0", extra: list[str] | None = None,
                   log_dir: str | None = None, store: str | None = None,
                   timeout: float = SERVER_START_TIMEOUT) -> Server:
    """Starts `braid director --listen LISTEN --db DB` (`--store STORE`
    instead when given), waits (bounded) for `listening 127.0.0.1:PORT`. The
    returned Server's address is the director's."""
    args = [braid_bin(), "director", "--listen", listen]
    args += ["--store", store] if store else ["--db", db]
    if heartbeat_ms is not None:
        args += ["--heartbeat-ms", str(heartbeat_ms)]
    args += list(extra or [])
    return start_daemon(args, "braid director", log_dir=log_dir, timeout=timeout)


def start_relay(allow: list[str] | None = None, *, listen: str = "127.0.0.1:0",
                extra: list[str] | None = None, log_dir: str | None = None,
                timeout: float = SERVER_START_TIMEOUT) -> Server:
    """Starts `braid relay --listen LISTEN [--allow ORIGIN ...]`, waits (bounded)
    for `listening 127.0.0.1:PORT`. The returned Server's address is the relay's."""
    args = [braid_bin(), "relay", "--listen", listen]
    for a in allow or []:
        args += ["--allow", a]
    args += list(extra or [])
    return start_daemon(args, "braid relay", log_dir=log_dir, timeout=timeout)


def start_proxy(sources: list[str], *, listen: str = "127.0.0.1:0",
                extra: list[str] | None = None, log_dir: str | None = None,
                timeout: float = SERVER_START_TIMEOUT) -> Server:
    """Starts `braid proxy --listen LISTEN --source S ...`, waits (bounded)
    for `listening 127.0.0.1:PORT`. The returned Server's address is the proxy's."""
    args = [braid_bin(), "proxy", "--listen", listen]
    for s in sources:
        args += ["--source", s]
    args += list(extra or [])
    return start_daemon(args, "braid proxy", log_dir=log_dir, timeout=timeout)


def vm_rss_bytes(pid: int) -> int:
    """Resident memory of a process (VmRSS from /proc), 0 if it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


_IDLE_RSS: int | None = None


def idle_rss_bytes() -> int:
    """Peak resident memory of `braid --help`: what the binary costs before
    it does anything (about 10 MB; nearly 100 MB under ASan, whose
    instrumented globals the loader relocates). Memory bounds in tests are
    this plus what the test allows."""
    global _IDLE_RSS
    if _IDLE_RSS is None:
        p = subprocess.Popen([braid_bin(), "--help"], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        _, _, usage = os.wait4(p.pid, 0)
        p.returncode = 0  # reaped here
        _IDLE_RSS = usage.ru_maxrss * 1024
    return _IDLE_RSS


def start_daemon(args: list[str], what: str, *, log_dir: str | None = None,
                 timeout: float = SERVER_START_TIMEOUT, cwd: str | None = None,
                 env: dict[str, str] | None = None) -> Server:
    """Starts a braid daemon (`args` with the binary first) whose first stdout
    line is `listening 127.0.0.1:PORT`; reads that line, bounded by `timeout`.

    stderr goes to a file in `log_dir` (default: the scratch dir); the rest
    of stdout is drained in the background. It runs in `cwd` (default: the
    scratch dir) with `env` (default: this process's). Raises AssertionError
    with the daemon's stderr if it exits or prints something else first.
    """
    if log_dir is None:
        log_dir = scratch_dir()
    prefix = what.split()[-1] + "-"
    fd, stderr_path = tempfile.mkstemp(prefix=prefix, suffix=".stderr", dir=log_dir)
    with os.fdopen(fd, "wb") as errf:
        proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=errf, bufsize=0, cwd=cwd or scratch_dir(), env=env)
    srv = Server(proc, 0, stderr_path, args)
    _ALL_SERVERS.append(srv)

    # Read the first stdout line, bounded by `timeout`.
    fd_out = proc.stdout.fileno()
    buf = b""
    timeout *= SLOW
    deadline = time.monotonic() + timeout
    while b"\n" not in buf:
        left = deadline - time.monotonic()
        if left <= 0:
            srv.kill()
            raise AssertionError(
                f"{what} printed no 'listening' line within {timeout}s; "
                f"stdout so far {buf!r}; args {args}; stderr:\n{srv.stderr_text()}")
        r, _, _ = select.select([fd_out], [], [], min(left, 0.5))
        if not r:
            continue
        chunk = os.read(fd_out, 4096)
        if not chunk:
            code = proc.wait(timeout=SERVER_STOP_TIMEOUT)
            raise AssertionError(
                f"{what} exited (code {code}) before printing 'listening'; "
                f"stdout {buf!r}; args {args}; stderr:\n{srv.stderr_text()}")
        buf += chunk
    line, _, rest = buf.partition(b"\n")
    line += b"\n"
    m = LISTEN_RE.match(line)
    if not m:
        srv.kill()
        raise AssertionError(
            f"first stdout line of {what} is {line!r}, expected "
            f"b'listening 127.0.0.1:PORT\\n'; stderr:\n{srv.stderr_text()}")
    srv.port = int(m.group(1))
    srv.address = f"127.0.0.1:{srv.port}"
    srv.first_line = line
    srv.extra_stdout += rest
    if not (0 < srv.port < 65536):
        srv.kill()
        raise AssertionError(f"bad port in {line!r}")
    srv._drain = threading.Thread(target=srv._drain_stdout, daemon=True)
    srv._drain.start()
    return srv


def stop_all_servers() -> None:
    for s in list(_ALL_SERVERS):
        s.stop()
    _ALL_SERVERS.clear()


# --------------------------------------------------------------------------
# braid get


def get_args(name: str, sources: list[str], out: str, *, stats: str | None = None,
             block_size: int | None = None, quiet: bool = False,
             extra: list[str] | None = None) -> list[str]:
    args = [braid_bin(), "get", name]
    for s in sources:
        args += ["--source", s]
    args += ["-o", out]
    if stats is not None:
        args += ["--stats-json", stats]
    if block_size is not None:
        args += ["--block-size", str(block_size)]
    if quiet:
        args.append("--quiet")
    args += list(extra or [])
    return args


def run_braid(args: list[str], timeout: float = GET_TIMEOUT) -> subprocess.CompletedProcess:
    """Runs braid with `args` (without the binary), bounded; bytes stdout/stderr."""
    return run_cmd([braid_bin()] + list(args), timeout=timeout)


_SCRATCH: str | None = None


def scratch_dir() -> str:
    """A per-process scratch dir used as the cwd of braid commands, so that
    nothing a command writes by default lands in the source tree."""
    global _SCRATCH
    if _SCRATCH is None:
        _SCRATCH = tempfile.mkdtemp(prefix="braid-it-cwd-")
        atexit.register(shutil.rmtree, _SCRATCH, True)
    return _SCRATCH


def run_cmd(args: list[str], timeout: float = GET_TIMEOUT,
            cwd: str | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    """`env`: variables added to this process's environment."""
    timeout *= SLOW
    try:
        return subprocess.run(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=timeout,
                              cwd=cwd or scratch_dir(),
                              env={**os.environ, **env} if env else None)
    except subprocess.TimeoutExpired as e:
        # subprocess.run has killed the child already.
        raise AssertionError(
            f"command timed out after {timeout}s: {args}\nstderr:\n"
            f"{(e.stderr or b'').decode('utf-8', 'replace')}") from None


def run_get(name: str, sources: list[str], out: str, *, timeout: float = GET_TIMEOUT,
            **kw) -> subprocess.CompletedProcess:
    return run_cmd(get_args(name, sources, out, **kw), timeout=timeout)


class BackgroundGet:
    """`braid get` started in the background; stdout/stderr go to files."""

    def __init__(self, args: list[str], log_dir: str):
        self.args = args
        self.stdout_path = os.path.join(log_dir, f"bg-get-{id(self)}.stdout")
        self.stderr_path = os.path.join(log_dir, f"bg-get-{id(self)}.stderr")
        with open(self.stdout_path, "wb") as o, open(self.stderr_path, "wb") as e:
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=o, stderr=e,
                                         cwd=scratch_dir())

    def wait(self, timeout: float) -> int:
        """The exit code; kills the get and fails after timeout * SLOW."""
        timeout *= SLOW
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(
                f"background braid get did not finish within {timeout}s: {self.args}\n"
                f"stderr:\n{self.stderr()}") from None

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass

    def stderr(self) -> str:
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""


def start_get(name: str, sources: list[str], out: str, log_dir: str, **kw) -> BackgroundGet:
    return BackgroundGet(get_args(name, sources, out, **kw), log_dir)


def get_during(test: unittest.TestCase, args: list[str], out: str,
               log_dir: str) -> BackgroundGet:
    """`braid get` (args, binary first) writing `out`, run while the test
    attacks a daemon; killed by the test's cleanup. check_get_during checks it."""
    bg = BackgroundGet(args, log_dir)
    bg.out = out
    test.addCleanup(bg.kill)
    return bg


def check_get_during(test: unittest.TestCase, bg: BackgroundGet, digest: str) -> None:
    """The get of get_during succeeded and wrote exactly the file of `digest`."""
    test.assertEqual(bg.wait(120), 0, bg.stderr())
    test.assertEqual(sha256_file(bg.out), digest)


# --------------------------------------------------------------------------
# Stats


def expected_source_share(pattern: list[int], size: int, block_size: int) -> dict[int, tuple[int, int]]:
    """id -> (blocks, bytes) that id must have sent for a stream of `size` bytes."""
    blocks = math.ceil(size / block_size) if size else 0
    share: dict[int, list[int]] = {}
    for i in set(pattern):
        share[i] = [0, 0]
    p = len(pattern)
    for s in range(blocks):
        owner = pattern[s % p]
        length = min(block_size, size - s * block_size)
        share[owner][0] += 1
        share[owner][1] += length
    return {k: (v[0], v[1]) for k, v in share.items()}


def check_stats(test: unittest.TestCase, stats_path: str, *, name: str, size: int,
                block_size: int, sources: list[str]) -> dict:
    """Loads --stats-json output and checks it against the contract exactly."""
    test.assertTrue(os.path.isfile(stats_path), f"stats file {stats_path} not written")
    with open(stats_path, "rb") as f:
        raw = f.read()
    try:
        st = json.loads(raw)
    except ValueError as e:
        test.fail(f"stats file is not JSON ({e}): {raw[:500]!r}")
    test.assertIsInstance(st, dict)
    for key in ("name", "bytes", "seconds", "duplicate_bytes", "patterns", "block_size",
                "blocks", "out_of_order_blocks", "pattern", "sources"):
        test.assertIn(key, st, f"stats lacks {key!r}: {st}")
    blocks = math.ceil(size / block_size) if size else 0
    test.assertEqual(st["name"], name)
    test.assertEqual(st["bytes"], size)
    test.assertEqual(st["block_size"], block_size)
    test.assertEqual(st["blocks"], blocks)
    test.assertIsInstance(st["patterns"], int)
    test.assertGreaterEqual(st["patterns"], 1)
    test.assertIsInstance(st["moved_blocks"], int)
    # Duplicates are counted apart from the sources' bytes and stay small:
    # 2 % of the file, or the end game's hedge of up to two tail blocks of
    # each source (on a loaded machine a source that is only slow for a
    # moment has its tail hedged and still sends it; each source's tail can
    # be hedged by the others, as seen with four sources: seven blocks).
    hedge = 2 * block_size * max(len(sources), 1)
    test.assertLessEqual(st["duplicate_bytes"], max(hedge, size // 50),
                         f"too many duplicate bytes: {st}")
    # Every duplicate byte is a block counted under its cause.
    by_cause = st.get("duplicate_blocks_by_cause", {})
    counted = sum(by_cause.values())
    test.assertEqual(st["duplicate_bytes"] == 0, counted == 0,
                     f"duplicate bytes and their causes disagree: {st}")
    test.assertLessEqual(st["duplicate_bytes"], counted * block_size,
                         f"duplicate bytes beyond the blocks counted by cause: {st}")
    if size % block_size == 0:
        test.assertEqual(st["duplicate_bytes"], counted * block_size,
                         f"duplicate bytes are not the blocks counted by cause: {st}")
    # One pattern and nothing moved: every source sent exactly its slots.
    exact = st["patterns"] == 1 and st["moved_blocks"] == 0
    test.assertIsInstance(st["seconds"], (int, float))
    test.assertGreaterEqual(st["seconds"], 0)
    test.assertIsInstance(st["out_of_order_blocks"], int)
    test.assertGreaterEqual(st["out_of_order_blocks"], 0)
    test.assertLessEqual(st["out_of_order_blocks"], blocks)

    pattern = st["pattern"]
    test.assertIsInstance(pattern, list)
    test.assertGreaterEqual(len(pattern), 1, "pattern must not be empty")
    test.assertLessEqual(len(pattern), 4096)
    for i in pattern:
        test.assertIsInstance(i, int)
        test.assertTrue(0 <= i <= 1023, f"pattern id {i} out of range")

    srcs = st["sources"]
    test.assertIsInstance(srcs, list)
    by_id: dict[int, dict] = {}
    addrs = set()
    for s in srcs:
        for key in ("address", "id", "bytes", "blocks"):
            test.assertIn(key, s, f"source entry lacks {key!r}: {s}")
        test.assertIn(s["address"], sources, f"stats lists a source not given: {s}")
        test.assertNotIn(s["id"], by_id, f"duplicate source id in stats: {srcs}")
        test.assertNotIn(s["address"], addrs, f"duplicate source address in stats: {srcs}")
        by_id[s["id"]] = s
        addrs.add(s["address"])

    share = expected_source_share(pattern, size, block_size)
    for i, (nblocks, nbytes) in share.items():
        if nblocks == 0 or not exact:
            continue
        test.assertIn(i, by_id, f"pattern id {i} owns {nblocks} blocks but is not in "
                                f"sources: {st}")
    for i, s in by_id.items():
        if not exact:
            break
        exp_blocks, exp_bytes = share.get(i, (0, 0))
        test.assertEqual(s["blocks"], exp_blocks,
                         f"source id {i} ({s['address']}) blocks vs pattern {pattern}")
        test.assertEqual(s["bytes"], exp_bytes,
                         f"source id {i} ({s['address']}) bytes vs pattern {pattern}")
    test.assertEqual(sum(s["bytes"] for s in srcs), size)
    test.assertEqual(sum(s["blocks"] for s in srcs), blocks)
    return st


# --------------------------------------------------------------------------
# Wire format


def u8(v: int) -> bytes:
    return struct.pack(">B", v)


def u16(v: int) -> bytes:
    return struct.pack(">H", v)


def u32(v: int) -> bytes:
    return struct.pack(">I", v)


def u64(v: int) -> bytes:
    return struct.pack(">Q", v)


def enc_str(s: str | bytes) -> bytes:
    b = s.encode("utf-8") if isinstance(s, str) else s
    return u16(len(b)) + b


def enc_pattern(ids: list[int]) -> bytes:
    return u16(len(ids)) + b"".join(u16(i) for i in ids)


def frame(ftype: int, body: bytes = b"") -> bytes:
    return u32(1 + len(body)) + u8(ftype) + body


def header(length: int, ftype: int) -> bytes:
    """Only the 5 header bytes, with an arbitrary length field."""
    return u32(length) + u8(ftype)


def hello_body(min_version: int = PROTOCOL_VERSION, max_version: int = PROTOCOL_VERSION,
               role: int = ROLE_CLIENT, agent: str = "braid-it/0", magic: bytes = MAGIC) -> bytes:
    return magic + u16(min_version) + u16(max_version) + u8(role) + enc_str(agent)


def ping_body(token: int, payload: bytes = b"") -> bytes:
    return u64(token) + payload


def open_body(name: str | bytes, *, block_size: int = 4096, start_seq: int = 0, my_id: int = 0,
              epoch: int = 0, pattern: list[int] | None = None,
              access_token: str | None = None) -> bytes:
    if pattern is None:
        pattern = [my_id]
    body = (u32(block_size) + u64(start_seq) + u16(my_id) + u32(epoch) +
            enc_pattern(pattern) + enc_str(name))
    return body + (enc_str(access_token) if access_token else b"")


def pattern_body(epoch: int, switch_seq: int, my_id: int, pattern: list[int]) -> bytes:
    return u32(epoch) + u64(switch_seq) + u16(my_id) + enc_pattern(pattern)


def request_body(first: int, count: int) -> bytes:
    return u64(first) + u32(count)


def register_body(advertise: str | bytes, entries: list[tuple[str | bytes, int, bytes]],
                  flags: int = REGISTER_FIRST | REGISTER_LAST,
                  token: str | None = None) -> bytes:
    """REGISTER body; entries are (name, size, 32-byte content id); a token
    sets REGISTER_TOKEN and follows the address."""
    body = u8(flags | (REGISTER_TOKEN if token else 0)) + enc_str(advertise)
    if token:
        body += enc_str(token)
    body += u32(len(entries))
    for name, size, cid in entries:
        body += enc_str(name) + u64(size) + cid
    return body


class Reader:
    """Cursor over a body; raises ValueError when a field runs past the end."""

    def __init__(self, body: bytes):
        self.b = body
        self.i = 0

    def take(self, n: int) -> bytes:
        if self.i + n > len(self.b):
            raise ValueError(f"field of {n} bytes runs past the body end ({len(self.b)})")
        v = self.b[self.i:self.i + n]
        self.i += n
        return v

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return struct.unpack(">H", self.take(2))[0]

    def u32(self) -> int:
        return struct.unpack(">I", self.take(4))[0]

    def u64(self) -> int:
        return struct.unpack(">Q", self.take(8))[0]

    def str(self) -> str:
        n = self.u16()
        return self.take(n).decode("utf-8")

    def rest(self) -> bytes:
        v = self.b[self.i:]
        self.i = len(self.b)
        return v

    def done(self) -> None:
        if self.i != len(self.b):
            raise ValueError(f"{len(self.b) - self.i} bytes left over in body")


class Frame:
    def __init__(self, ftype: int, body: bytes):
        self.type = ftype
        self.body = body

    def __repr__(self) -> str:
        name = TYPE_NAMES.get(self.type, hex(self.type))
        extra = ""
        if self.type == ERROR:
            try:
                code, msg = parse_error(self.body)
                extra = f" code={code} msg={msg!r}"
            except ValueError:
                pass
        return f"Frame({name}, {len(self.body)} bytes{extra})"


def error_body(code: int, message: str) -> bytes:
    return u16(code) + enc_str(message)


def parse_error(body: bytes) -> tuple[int, str]:
    r = Reader(body)
    code = r.u16()
    msg = r.str()
    r.done()
    return code, msg


def parse_hello(body: bytes) -> dict:
    r = Reader(body)
    d = {"magic": r.take(4), "min_version": r.u16(), "max_version": r.u16(), "role": r.u8(),
         "agent": r.str()}
    r.done()
    return d


def parse_pong(body: bytes) -> tuple[int, bytes]:
    r = Reader(body)
    return r.u64(), r.rest()


def parse_toc(body: bytes) -> dict[str, int]:
    r = Reader(body)
    n = r.u32()
    out: dict[str, int] = {}
    for _ in range(n):
        name = r.str()
        out[name] = r.u64()
    r.done()
    return out


PIECE_SIZE = 64 * 1024


def content_id(data: bytes) -> str:
    """The content id of a stream per docs/protocol.md, computed independently:
    SHA-256("braid-manifest-v1" || u64 size || u32 piece size || SHA-256 of
    every 64 KiB piece)."""
    h = hashlib.sha256(b"braid-manifest-v1" + u64(len(data)) + u32(PIECE_SIZE))
    for off in range(0, len(data), PIECE_SIZE):
        h.update(hashlib.sha256(data[off:off + PIECE_SIZE]).digest())
    return h.hexdigest()


def assert_only_resumable_leftovers(test: unittest.TestCase, out: str, stderr: str) -> None:
    """After a failed get: nothing under the final name; a partial file only
    together with its resume state, and then stderr says how to resume."""
    test.assertFalse(os.path.exists(out), "a failed get must not leave the output file")
    part, state = out + ".braid-part", out + ".braid-state"
    test.assertEqual(os.path.exists(part), os.path.exists(state),
                     "a partial file is kept only with its resume state")
    if os.path.exists(part):
        test.assertIn("resume", stderr)


def parse_registered(body: bytes) -> tuple[int, int]:
    """(entries, heartbeat_ms) of a REGISTERED body."""
    r = Reader(body)
    v = (r.u32(), r.u32())
    r.done()
    return v


def parse_catalog(body: bytes) -> tuple[bool, list[dict]]:
    """(last, [{name, size, content_id, servers}]) of one CATALOG part."""
    r = Reader(body)
    last = r.u8()
    if last > 1:
        raise ValueError(f"CATALOG last flag {last}")
    lines = []
    for _ in range(r.u32()):
        lines.append({"name": r.str(), "size": r.u64(), "content_id": r.take(32).hex(),
                      "servers": r.u32()})
    r.done()
    return last == 1, lines


def parse_opened(body: bytes) -> dict:
    r = Reader(body)
    d = {"size": r.u64(), "block_size": r.u32(), "block_count": r.u64(),
         "content_id": r.take(32).hex()}
    r.done()
    return d


def parse_data(body: bytes) -> tuple[int, int, bytes]:
    r = Reader(body)
    return r.u64(), r.u32(), r.rest()


def parse_end(body: bytes) -> tuple[int, int]:
    r = Reader(body)
    v = (r.u64(), r.u64())
    r.done()
    return v


def parse_pattern_ack(body: bytes) -> tuple[int, int]:
    r = Reader(body)
    v = (r.u32(), r.u64())
    r.done()
    return v


class Closed(Exception):
    """The peer closed (EOF or reset) where a frame was expected."""


class RawConn:
    """A raw protocol client socket to a braid server on 127.0.0.1."""

    def __init__(self, port: int, timeout: float = FRAME_TIMEOUT, host: str = "127.0.0.1",
                 source: str | None = None):
        """`source`: the local address to connect from (another loopback
        address such as 127.0.0.2 stands for another machine)."""
        self.sock = socket.create_connection(
            (host, port), timeout=timeout,
            source_address=(source, 0) if source else None)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.timeout = timeout
        self.reset = False

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send_raw(self, data: bytes) -> bool:
        """Sends bytes; returns False if the peer already closed/reset."""
        try:
            self.sock.sendall(data)
            return True
        except (BrokenPipeError, ConnectionResetError):
            self.reset = True
            return False

    def send_frame(self, ftype: int, body: bytes = b"") -> bool:
        return self.send_raw(frame(ftype, body))

    def shutdown_write(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def _recv_exact(self, n: int, deadline: float) -> bytes | None:
        """n bytes, or None on EOF/reset before the first byte; raises Closed mid-way."""
        buf = bytearray()
        while len(buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no complete frame within {self.timeout}s "
                                   f"(got {len(buf)} of {n} bytes)")
            self.sock.settimeout(left)
            try:
                b = self.sock.recv(min(n - len(buf), 1 << 20))
            except socket.timeout:
                continue
            except ConnectionResetError:
                self.reset = True
                b = b""
            if not b:
                if buf:
                    raise Closed(f"connection closed inside a frame ({len(buf)} of {n} bytes)")
                return None
            buf += b
        return bytes(buf)

    def recv_frame(self, timeout: float | None = None) -> Frame | None:
        """The next frame, or None if the peer closed cleanly between frames.

        Raises TimeoutError if nothing complete arrives in time, ValueError on a
        frame that breaks the format (length 0, unknown type, oversized body).
        """
        t = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + t
        hdr = self._recv_exact(5, deadline)
        if hdr is None:
            return None
        length, ftype = struct.unpack(">IB", hdr)
        if length < 1:
            raise ValueError(f"server sent a frame with length {length}")
        if ftype not in MAX_BODY:
            raise ValueError(f"server sent unknown frame type {ftype:#x}")
        if length - 1 > MAX_BODY[ftype]:
            raise ValueError(f"server sent {TYPE_NAMES[ftype]} with body {length - 1} > max")
        body = self._recv_exact(length - 1, deadline) if length > 1 else b""
        if body is None:
            raise Closed("connection closed after a frame header")
        return Frame(ftype, body)

    def expect(self, ftype: int, timeout: float | None = None) -> Frame:
        f = self.recv_frame(timeout)
        if f is None:
            raise AssertionError(f"expected {TYPE_NAMES.get(ftype)}, connection was closed")
        if f.type != ftype:
            raise AssertionError(f"expected {TYPE_NAMES.get(ftype)}, got {f!r}")
        return f

    def expect_error(self, timeout: float | None = None) -> tuple[int, str]:
        """The next frame must be ERROR; returns (code, message)."""
        f = self.expect(ERROR, timeout)
        return parse_error(f.body)

    def wait_closed(self, timeout: float = FRAME_TIMEOUT) -> bool:
        """True if the peer closes (EOF/reset) within `timeout`, ignoring frames."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.sock.settimeout(left)
            try:
                b = self.sock.recv(65536)
            except socket.timeout:
                return False
            except ConnectionResetError:
                self.reset = True
                return True
            if not b:
                return True

    def error_or_close(self, timeout: float = FRAME_TIMEOUT) -> tuple[int, str] | None:
        """Reads frames until ERROR (returns (code, msg)) or close (returns None).

        Raises TimeoutError if neither happens in time.
        """
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("server neither sent ERROR nor closed")
            try:
                f = self.recv_frame(left)
            except Closed:
                return None
            if f is None:
                return None
            if f.type == ERROR:
                return parse_error(f.body)

    # High-level steps.

    def hello(self, **kw) -> dict:
        """HELLO exchange; returns the server's parsed HELLO."""
        self.send_frame(HELLO, hello_body(**kw))
        f = self.expect(HELLO)
        return parse_hello(f.body)

    def ping(self, token: int, payload: bytes = b"") -> tuple[int, bytes]:
        self.send_frame(PING, ping_body(token, payload))
        return parse_pong(self.expect(PONG).body)

    def list(self) -> dict[str, int]:
        self.send_frame(LIST)
        return parse_toc(self.expect(TOC).body)

    def open(self, name, **kw) -> dict:
        self.send_frame(OPEN, open_body(name, **kw))
        return parse_opened(self.expect(OPENED).body)


def connect(server_or_port, timeout: float = FRAME_TIMEOUT) -> RawConn:
    port = server_or_port.port if isinstance(server_or_port, Server) else int(server_or_port)
    return RawConn(port, timeout=timeout)


def opens_by_peer(server: Server, name: str) -> dict[str, int]:
    """OPENs of `name` the server logged, counted by the connection's peer
    address (one entry per connection)."""
    peers: dict[str, int] = {}
    for m in re.finditer(r" (\S+): OPEN '" + re.escape(name) + "'", server.stderr_text()):
        peers[m.group(1)] = peers.get(m.group(1), 0) + 1
    return peers


def server_healthy(server: Server, timeout: float = FRAME_TIMEOUT) -> None:
    """Asserts the server process lives and answers HELLO + PING on a new connection."""
    if not server.alive():
        raise AssertionError(f"{server} died (code {server.proc.poll()}); stderr:\n"
                             f"{server.stderr_text()[-4000:]}")
    with connect(server, timeout) as c:
        h = c.hello()
        if h["magic"] != MAGIC:
            raise AssertionError(f"bad HELLO from server: {h}")
        tok, payload = c.ping(0x5EED, b"alive?")
        if (tok, payload) != (0x5EED, b"alive?"):
            raise AssertionError(f"bad PONG: {(tok, payload)}")


def opened_answer(size: int, agent: str) -> bytes:
    """A fake server's HELLO and OPENED for a file of `size` bytes in
    default blocks, with a content id (all 7s) no real file has."""
    block = DEFAULT_BLOCK_SIZE
    count = (size + block - 1) // block
    opened = u64(size) + u32(block) + u64(count) + bytes([7]) * 32
    return frame(HELLO, hello_body(role=2, agent=agent)) + frame(OPENED, opened)


class FakeSource(threading.Thread):
    """A fake braid server on 127.0.0.1 for one connection (`connections`
    one after another): each whole frame it receives is answered with
    answer(type, body) (bytes, possibly none), until the client closes, or
    answer sets hang_up (the connection is then closed after the answer).
    Subclasses say what it answers."""

    def __init__(self, connections: int = 1):
        super().__init__(daemon=True)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self.listener.getsockname()[1]}"
        self.conns: list = []
        self.connections = connections
        self.hang_up = False
        self.start()

    def answer(self, ftype: int, body: bytes) -> bytes:
        raise NotImplementedError

    def run(self) -> None:
        for _ in range(self.connections):
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            self.conns.append(sock)
            self.hang_up = False
            self.serve(sock)
            if self.hang_up:
                sock.close()

    def serve(self, sock) -> None:
        sock.settimeout(30)
        buf = b""
        try:
            while True:
                b = sock.recv(65536)
                if not b:
                    return
                buf += b
                while len(buf) >= 5:
                    length, ftype = int.from_bytes(buf[:4], "big"), buf[4]
                    if len(buf) < 4 + length:
                        break
                    body, buf = buf[5:4 + length], buf[4 + length:]
                    sock.sendall(self.answer(ftype, body))
                    if self.hang_up:
                        return
        except OSError:
            return

    def close(self) -> None:
        self.listener.close()
        for s in self.conns:
            s.close()


class BraidTestCase(unittest.TestCase):
    """Base class: per-test temp dir, server cleanup."""

    def setUp(self) -> None:
        braid_bin()
        self.tmp = make_temp_dir(self)

    def start_server(self, root: str, **kw) -> Server:
        kw.setdefault("log_dir", self.tmp)
        srv = start_server(root, **kw)
        self.addCleanup(srv.stop)
        return srv

    def dir_entries(self, d: str) -> list[str]:
        return sorted(os.listdir(d))
