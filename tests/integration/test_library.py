"""Integration tests: libbraid as an application embeds it.

The build is installed (`cmake --install`) into a temporary prefix; the
example program `examples/fetch.cc` is built against that install twice,
with CMake's find_package(braid) and with pkg-config, and each build
downloads from three real `braid serve` on 127.0.0.1. Outputs are compared
by sha256 with the file.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness as h  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NAME = "lib.bin"
SIZE = 5 * h.MIB + 321
BUILD_TIMEOUT = 300.0


def sanitizer_flags() -> list[str]:
    """The example must carry the sanitizers a sanitized libbraid was built with."""
    if os.environ.get("BRAID_SANITIZED", "").lower() in ("1", "on", "true"):
        return ["-fsanitize=address,undefined"]
    return []


def run(args: list[str], env: dict | None = None, timeout: float = BUILD_TIMEOUT,
        cwd: str | None = None) -> subprocess.CompletedProcess:
    r = h.run_cmd(args, timeout=timeout, env=env, cwd=cwd)
    if r.returncode != 0:
        raise AssertionError(f"{args} failed ({r.returncode}):\n"
                             f"{r.stdout.decode(errors='replace')[-3000:]}\n"
                             f"{r.stderr.decode(errors='replace')[-3000:]}")
    return r


class InstalledLibrary(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        build_dir = os.path.dirname(h.braid_bin())
        cls.digest = h.class_root(cls, NAME, SIZE)
        with open(os.path.join(cls.root, NAME), "rb") as f:
            cls.data = f.read()
        cls.prefix = os.path.join(cls.tmp, "prefix")
        run(["cmake", "--install", build_dir, "--prefix", cls.prefix])
        cls.libdir = os.path.join(cls.prefix, "lib")
        cls.servers = [h.start_server(cls.root, log_dir=cls.tmp) for _ in range(3)]
        for s in cls.servers:
            cls.addClassCleanup(s.stop)

    def setUp(self) -> None:
        self.work = h.make_temp_dir(self)

    def sources(self) -> list[str]:
        return [s.address for s in self.servers]

    def pkg_config_example(self) -> str:
        """examples/fetch.cc built with the flags pkg-config gives (once)."""
        exe = os.path.join(self.tmp, "fetch-pkg-config")
        if not os.path.exists(exe):
            env = {"PKG_CONFIG_PATH": os.path.join(self.libdir, "pkgconfig")}
            flags = run(["pkg-config", "--cflags", "--libs", "braid"],
                        env=env).stdout.decode()
            run(["c++", os.path.join(REPO, "examples", "fetch.cc"), "-o", exe]
                + flags.split() + sanitizer_flags())
        return exe

    def test_the_install_holds_the_library_headers_and_configs(self) -> None:
        for rel in ["include/braid/client.h", "include/braid/expected.h",
                    "include/braid/error.h", "include/braid/export.h",
                    "lib/pkgconfig/braid.pc", "lib/cmake/braid/braidConfig.cmake",
                    "lib/cmake/braid/braidTargets.cmake", "lib/libbraid.so", "bin/braid"]:
            self.assertTrue(os.path.exists(os.path.join(self.prefix, rel)), rel)
        # The public headers hold no asio and no json.
        for name in os.listdir(os.path.join(self.prefix, "include/braid")):
            with open(os.path.join(self.prefix, "include/braid", name)) as f:
                text = f.read()
            self.assertNotIn("asio", text, name)
            self.assertNotIn("nlohmann", text, name)
            self.assertNotIn('#include "', text, f"{name} includes a private header")

    def test_only_the_api_is_exported(self) -> None:
        out = run(["nm", "-D", "--defined-only", "-C",
                   os.path.join(self.libdir, "libbraid.so")]).stdout.decode()
        self.assertIn("braid::Client::Open(", out)
        self.assertIn("braid::Error::ToString", out)
        for internal in ["braid::client::Transfer", "braid::core::Scheduler",
                         "braid::net::FramedConn", "asio::"]:
            self.assertNotIn(internal, out)

    def test_example_built_with_cmake_fetches_a_file(self) -> None:
        build = os.path.join(self.work, "build")
        flags = " ".join(sanitizer_flags())
        run(["cmake", "-S", os.path.join(REPO, "examples"), "-B", build,
             f"-DCMAKE_PREFIX_PATH={self.prefix}", f"-DCMAKE_CXX_FLAGS={flags}"])
        run(["cmake", "--build", build])
        out = os.path.join(self.work, "out.bin")
        r = run([os.path.join(build, "fetch"), NAME, out] + self.sources(),
                timeout=h.GET_TIMEOUT)
        self.assertEqual(h.sha256_file(out), self.digest)
        err = r.stderr.decode()
        self.assertIn(f"{SIZE} bytes in", err)
        self.assertIn("from 3 sources, verified: yes", err)
        # on_progress: the last report says the whole file is in.
        self.assertIn(f"{SIZE} of {SIZE} bytes", err)
        self.assertFalse(os.path.exists(out + ".braid-part"))

    def test_example_built_with_pkg_config_fetches_a_range(self) -> None:
        exe = self.pkg_config_example()
        first, last = 1000, 3 * h.MIB + 17
        r = run([exe, NAME, "-"] + self.sources() + ["--range", f"{first}-{last}"],
                env={"LD_LIBRARY_PATH": self.libdir}, timeout=h.GET_TIMEOUT)
        want = self.data[first:last + 1]
        self.assertEqual(len(r.stdout), len(want))
        self.assertEqual(hashlib.sha256(r.stdout).hexdigest(),
                         hashlib.sha256(want).hexdigest())

    def test_ranges_of_one_session_share_its_connections(self) -> None:
        exe = self.pkg_config_example()
        spans = [(0, 99), (2 * h.MIB + 5, 3 * h.MIB), (SIZE - 7, SIZE - 1)]
        before = [self.opens(s) for s in self.servers]
        args = [exe, NAME, "-"] + self.sources()
        for first, last in spans:
            args += ["--range", f"{first}-{last}"]
        r = run(args, env={"LD_LIBRARY_PATH": self.libdir}, timeout=h.GET_TIMEOUT)
        want = b"".join(self.data[first:last + 1] for first, last in spans)
        self.assertEqual(hashlib.sha256(r.stdout).hexdigest(),
                         hashlib.sha256(want).hexdigest())
        for server, seen in zip(self.servers, before):
            new = {peer: n - seen.get(peer, 0) for peer, n in self.opens(server).items()
                   if n > seen.get(peer, 0)}
            # Open's, then one OPEN per range, all on one connection.
            self.assertEqual(list(new.values()), [1 + len(spans)], f"{server}: {new}")

    def opens(self, server: h.Server) -> dict[str, int]:
        return h.opens_by_peer(server, NAME)

    def test_an_unknown_name_is_a_clear_error(self) -> None:
        exe = self.pkg_config_example()
        r = h.run_cmd([exe, "nothing-here.bin", os.path.join(self.work, "x")] + self.sources(),
                      env={"LD_LIBRARY_PATH": self.libdir})
        self.assertEqual(r.returncode, 1)
        self.assertIn("not found", r.stderr.decode())
        self.assertFalse(os.path.exists(os.path.join(self.work, "x")))


if __name__ == "__main__":
    unittest.main()
