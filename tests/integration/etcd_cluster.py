"""A three-member etcd cluster on loopback for the tests of
`braid director --store etcd://...`: real etcd processes, each on ports of
its own, data in a temp dir; members can be killed, frozen and thawed."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import ssl
import subprocess
import time
import urllib.request

START_TIMEOUT = 20.0


def _free_ports(n: int) -> list[int]:
    """n distinct free TCP ports on 127.0.0.1 (held open until all are
    chosen, so none is picked twice)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def have_etcd() -> bool:
    return shutil.which("etcd") is not None


class EtcdCluster:
    def __init__(self, data_dir: str, members: int = 3,
                 tls: tuple[str, str, str] | None = None):
        """tls: (ca, cert, key) PEM files: the members serve their clients
        https with cert and ask them for a certificate ca signed."""
        self.dir = data_dir
        self.tls = tls
        ports = _free_ports(2 * members)
        self.client_ports = ports[0::2]
        self.peer_ports = ports[1::2]
        self.procs: list[subprocess.Popen | None] = [None] * members
        self.frozen: set[int] = set()
        for i in range(members):
            self.start(i)
        self.wait_healthy(range(members))

    def start(self, i: int) -> None:
        """Starts member i (again, after kill(i): from its data dir)."""
        cluster = ",".join(f"m{j}=http://127.0.0.1:{p}" for j, p in enumerate(self.peer_ports))
        scheme = "https" if self.tls else "http"
        client = f"{scheme}://127.0.0.1:{self.client_ports[i]}"
        peer = f"http://127.0.0.1:{self.peer_ports[i]}"
        secure = []
        if self.tls:
            ca, cert, key = self.tls
            secure = ["--cert-file", cert, "--key-file", key, "--client-cert-auth",
                      "--trusted-ca-file", ca]
        with open(os.path.join(self.dir, f"etcd-m{i}.log"), "ab") as log:
            self.procs[i] = subprocess.Popen(
                ["etcd", "--name", f"m{i}", "--data-dir", os.path.join(self.dir, f"m{i}"),
                 "--listen-client-urls", client, "--advertise-client-urls", client,
                 "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                 "--initial-cluster", cluster, "--initial-cluster-state", "new",
                 "--initial-cluster-token", "braid-test"] + secure,
                stdin=subprocess.DEVNULL, stdout=log, stderr=log)

    def wait_healthy(self, members) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while not all(self.healthy(i) for i in members):
            if time.monotonic() > deadline:
                self.stop()
                raise AssertionError(f"etcd did not become healthy in {START_TIMEOUT}s; "
                                     f"logs in {self.dir}")
            time.sleep(0.1)

    def endpoint(self, i: int) -> str:
        return f"127.0.0.1:{self.client_ports[i]}"

    def url(self) -> str:
        """The --store URL naming every member."""
        scheme = "etcds://" if self.tls else "etcd://"
        return scheme + ",".join(self.endpoint(i) for i in range(len(self.procs)))

    def healthy(self, i: int) -> bool:
        scheme, context = "http", None
        if self.tls:
            ca, cert, key = self.tls
            scheme, context = "https", ssl.create_default_context(cafile=ca)
            context.load_cert_chain(cert, key)
        try:
            with urllib.request.urlopen(f"{scheme}://{self.endpoint(i)}/health", timeout=1,
                                        context=context) as r:
                return b'"health":"true"' in r.read()
        except OSError:
            return False

    def ctl(self, *args: str, user: str | None = None) -> str:
        """etcdctl against member 0 (with the cluster's TLS files); its
        output. Raises AssertionError when it fails."""
        cmd = ["etcdctl", "--endpoints", ("https://" if self.tls else "") + self.endpoint(0)]
        if self.tls:
            ca, cert, key = self.tls
            cmd += ["--cacert", ca, "--cert", cert, "--key", key]
        if user:
            cmd += ["--user", user]
        r = subprocess.run(cmd + list(args), capture_output=True, timeout=30)
        if r.returncode != 0:
            raise AssertionError(f"etcdctl {args}: {r.stderr.decode(errors='replace')}")
        return r.stdout.decode(errors="replace")

    def keys(self, prefix: str = "/braid/") -> int:
        """How many keys are under prefix, read from any live member."""
        import base64
        import json
        end = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        body = json.dumps({"key": base64.b64encode(prefix.encode()).decode(),
                           "range_end": base64.b64encode(end.encode()).decode(),
                           "count_only": True}).encode()
        for i, p in enumerate(self.procs):
            if p is None or p.poll() is not None or i in self.frozen:
                continue
            try:
                req = urllib.request.Request(f"http://{self.endpoint(i)}/v3/kv/range", body)
                with urllib.request.urlopen(req, timeout=2) as r:
                    return int(json.load(r).get("count", 0))
            except OSError:
                continue
        raise AssertionError("no etcd member answered")

    def kill(self, i: int) -> None:
        p = self.procs[i]
        if p is not None and p.poll() is None:
            if i in self.frozen:
                p.send_signal(signal.SIGCONT)
                self.frozen.discard(i)
            p.kill()
            p.wait(timeout=10)

    def freeze(self, i: int) -> None:
        self.procs[i].send_signal(signal.SIGSTOP)
        self.frozen.add(i)

    def thaw(self, i: int) -> None:
        self.procs[i].send_signal(signal.SIGCONT)
        self.frozen.discard(i)

    def stop(self) -> None:
        for i, p in enumerate(self.procs):
            if p is None or p.poll() is not None:
                continue
            if i in self.frozen:
                p.send_signal(signal.SIGCONT)
            p.terminate()
        for p in self.procs:
            if p is None:
                continue
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=10)
        self.frozen.clear()
