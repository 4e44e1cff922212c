"""The Debian package (docs/operations.md): installed with apt-get, its files
where they belong, its units accepted by `systemd-analyze verify`, and each
unit's command line run as the unit would run it (its user, working
directory, EnvironmentFile, %i, no new privileges, no capabilities) on
127.0.0.1, serving downloads made with the installed /usr/bin/braid, and
surviving its ExecReload (SIGHUP). The package is purged afterwards, and the
braid user removed if this test created it, even when a test fails.

The package is the one scripts/package.sh made beside $BRAID_BIN (ctest's
test "package" makes it first). Installing needs root, as CI has: without
root the class fails and says so. A braid package already installed is left
alone: the class fails rather than replace an operator's installation.
Registered in the release build only (docs/testing.md).
"""

from __future__ import annotations

import glob
import os
import pwd
import re
import shlex
import shutil
import signal
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness as h  # noqa: E402

MB = 1_000_000
NAME = "pkg/file.bin"
SIZE = 6 * MB
INSTANCE = "pkgtest"  # braid-serve@pkgtest, braid-relay@pkgtest
UNIT_DIR = "/lib/systemd/system"
ETC = "/etc/braid"
STATE = "/var/lib/braid"
UNITS = ["braid-serve@.service", "braid-director.service", "braid-relay@.service"]
CONFFILES = [f"{ETC}/serve-example.toml", f"{ETC}/director.env", f"{ETC}/relay-example.env"]
MAN_PAGES = ["braid", "braid-serve", "braid-get", "braid-director", "braid-ls",
             "braid-relay", "braid-proxy", "braid-token", "braid-metalink"]
REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def run(args: list[str], timeout: float = 120, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          timeout=timeout, **kw)


def checked(args: list[str], timeout: float = 120, **kw) -> str:
    r = run(args, timeout, **kw)
    out = r.stdout.decode(errors="replace")
    assert r.returncode == 0, f"{' '.join(args)} exited {r.returncode}:\n{out}"
    return out


def package_status() -> str:
    r = subprocess.run(["dpkg-query", "-W", "-f=${db:Status-Status}", "braid"],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    return r.stdout.decode().strip()


def user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def built_package() -> str:
    """The newest braid_*.deb beside $BRAID_BIN, not older than the binary."""
    binary = h.braid_bin()
    debs = glob.glob(os.path.join(os.path.dirname(binary), "braid_*.deb"))
    assert debs, (f"no braid_*.deb beside {binary}: run scripts/package.sh "
                  f"{os.path.dirname(binary)} (ctest's test 'package' does)")
    deb = max(debs, key=os.path.getmtime)
    assert os.path.getmtime(deb) >= os.path.getmtime(binary), (
        f"{deb} is older than {binary}: run scripts/package.sh again")
    return deb


# --------------------------------------------------------------------------
# A unit file, read as systemd reads the parts this test uses.


def read_unit(path: str, instance: str = "") -> dict[str, list[str]]:
    """The [Service] section's settings (a key may repeat), %i replaced."""
    settings: dict[str, list[str]] = {}
    section = ""
    with open(path) as f:
        for raw in f:
            line = raw.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("["):
                section = line
                continue
            if section == "[Service]":
                key, _, value = line.partition("=")
                settings.setdefault(key.strip(), []).append(
                    value.strip().replace("%i", instance))
    return settings


def read_environment_file(path: str) -> dict[str, str]:
    """KEY=VALUE lines, one pair of quotes around a value removed."""
    env = {}
    with open(path) as f:
        for raw in f:
            line = raw.strip()
            if not line or line[0] in "#;":
                continue
            key, _, value = line.partition("=")
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
                value = value[1:-1]
            env[key.strip()] = value
    return env


def expand_command(command: str, env: dict[str, str]) -> list[str]:
    """systemd's ExecStart expansion: a word `$NAME` becomes the variable's
    words (split at white space), `${NAME}` inside a word its whole value."""
    words = []
    for word in shlex.split(command):
        m = re.fullmatch(r"\$([A-Za-z_][A-Za-z0-9_]*)", word)
        if m:
            words += env.get(m.group(1), "").split()
        else:
            words.append(re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}",
                                lambda x: env.get(x.group(1), ""), word))
    return words


def one(settings: dict[str, list[str]], key: str) -> str:
    values = settings.get(key)
    assert values and len(values) == 1, f"{key}= given {values!r}"
    return values[0]


class InstalledPackage(unittest.TestCase):
    """Installs the package once for the class; purges it at the end."""

    @classmethod
    def setUpClass(cls) -> None:
        if os.geteuid() != 0:
            raise AssertionError("installing the package needs root (CI runs as root)")
        cls.deb = built_package()
        status = package_status()
        if status:
            raise AssertionError(
                f"a braid package is already on this machine (status {status!r}); "
                "this test installs and purges its own: `apt-get purge braid` first")
        had_user = user_exists("braid")
        cls.tmp = h.make_temp_dir(prefix="braid-pkg-")
        os.chmod(cls.tmp, 0o755)  # the braid user reads the content root
        cls.addClassCleanup(shutil.rmtree, cls.tmp, True)
        if not had_user:
            cls.addClassCleanup(cls.remove_user)
        cls.addClassCleanup(cls.purge)
        cls.addClassCleanup(cls.remove_test_configs)
        checked(["apt-get", "install", "-y", "--no-install-recommends",
                 "./" + os.path.basename(cls.deb)], timeout=300,
                cwd=os.path.dirname(cls.deb),
                env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
        cls.root = os.path.join(cls.tmp, "root")
        cls.digest = h.write_random_file(os.path.join(cls.root, NAME), SIZE)
        for d, _, files in os.walk(cls.root):
            os.chmod(d, 0o755)
            for f in files:
                os.chmod(os.path.join(d, f), 0o644)

    @classmethod
    def remove_test_configs(cls) -> None:
        for path in (f"{ETC}/serve-{INSTANCE}.toml", f"{ETC}/relay-{INSTANCE}.env"):
            if os.path.exists(path):
                os.remove(path)

    @classmethod
    def purge(cls) -> None:
        if package_status():
            checked(["apt-get", "purge", "-y", "braid"], timeout=300,
                    env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
        leftovers = [p for p in (ETC, STATE) if os.path.exists(p)]
        assert not leftovers, f"left after the purge: {leftovers}"

    @classmethod
    def remove_user(cls) -> None:
        if user_exists("braid"):
            checked(["deluser", "--system", "--quiet", "braid"])
        r = run(["getent", "group", "braid"])
        if r.returncode == 0:
            checked(["delgroup", "--system", "--quiet", "braid"])

    def setUp(self) -> None:
        self.out_dir = h.make_temp_dir(self, prefix="braid-pkg-out-")

    # -- the files

    def test_files_are_where_they_belong(self) -> None:
        expected = ["/usr/bin/braid", "/usr/include/braid/client.h"]
        expected += [f"{UNIT_DIR}/{u}" for u in UNITS] + CONFFILES
        expected += [f"/usr/share/man/man1/{p}.1" for p in MAN_PAGES]
        missing = [p for p in expected if not os.path.isfile(p)]
        self.assertEqual(missing, [], checked(["dpkg", "-L", "braid"]))
        listed = checked(["dpkg", "-L", "braid"]).split()
        for pattern in (r"/usr/lib/(.*/)?libbraid\.so\.0$", r"/usr/lib/(.*/)?pkgconfig/braid\.pc$",
                        r"/usr/lib/(.*/)?cmake/braid/braidConfig\.cmake$"):
            self.assertTrue(any(re.search(pattern, p) for p in listed), (pattern, listed))
        conffiles = checked(["dpkg-query", "-W", "-f=${Conffiles}", "braid"])
        for path in CONFFILES:
            self.assertIn(path, conffiles)
        self.assertIn("--config", checked(["/usr/bin/braid", "serve", "--help"]))
        self.assertEqual(checked(["man", "-w", "braid-serve"]).strip(),
                         "/usr/share/man/man1/braid-serve.1")
        # Stripped: no debugging sections left in the program.
        self.assertNotIn(".debug_info", checked(["readelf", "-S", "/usr/bin/braid"]))

    def test_user_state_folder_and_dependencies(self) -> None:
        user = pwd.getpwnam("braid")
        self.assertEqual(user.pw_dir, STATE)
        self.assertLess(user.pw_uid, 1000, "not a system user")
        st = os.stat(STATE)
        self.assertEqual((st.st_uid, st.st_mode & 0o777), (user.pw_uid, 0o750))
        depends = checked(["dpkg-query", "-W", "-f=${Depends}", "braid"])
        for lib in ("libssl3", "libcurl4", "adduser"):
            self.assertIn(lib, depends)

    def test_units_are_accepted_by_systemd(self) -> None:
        # Templates are checked through an instance.
        names = [u.replace("@.", f"@{INSTANCE}.") for u in UNITS]
        units = []
        for unit, name in zip(UNITS, names):
            path = os.path.join(self.out_dir, name)
            shutil.copyfile(f"{UNIT_DIR}/{unit}", path)
            units.append(path)
        r = run(["systemd-analyze", "verify", "--man=no", *units])
        out = r.stdout.decode(errors="replace")
        self.assertEqual(r.returncode, 0, out)
        # systemd's own measure of a sandbox, 0 (tight) to 10: at most 2.
        for path in units:
            r = run(["systemd-analyze", "security", "--offline=true", "--threshold=20", path])
            self.assertEqual(r.returncode, 0, r.stdout.decode(errors="replace")[-3000:])
        for unit in UNITS:
            s = read_unit(f"{UNIT_DIR}/{unit}", INSTANCE)
            self.assertEqual(one(s, "User"), "braid")
            self.assertEqual(one(s, "ExecReload"), "/bin/kill -HUP $MAINPID")
            for key, value in (("NoNewPrivileges", "yes"), ("ProtectSystem", "strict"),
                               ("ProtectHome", "yes"), ("PrivateTmp", "yes"),
                               ("CapabilityBoundingSet", ""), ("StateDirectory", "braid")):
                self.assertEqual(one(s, key), value, f"{unit}: {key}")
        self.assertEqual(one(read_unit(f"{UNIT_DIR}/braid-director.service"), "ReadWritePaths"),
                         STATE)

    def test_library_links(self) -> None:
        flags = checked(["pkg-config", "--cflags", "--libs", "braid"]).split()
        self.assertIn("-lbraid", flags)
        exe = os.path.join(self.out_dir, "fetch")
        checked(["c++", os.path.join(REPO, "examples", "fetch.cc"), "-o", exe, *flags],
                timeout=300)
        self.assertRegex(checked(["ldd", exe]), r"libbraid\.so\.0 => (/usr)?/lib/libbraid\.so\.0 ")
        r = run([exe])
        self.assertEqual(r.returncode, 1)
        self.assertIn(b"usage: fetch", r.stdout)
        # find_package(braid) finds the installed CMake package by itself.
        build = os.path.join(self.out_dir, "example")
        checked(["cmake", "-S", os.path.join(REPO, "examples"), "-B", build, "-G", "Ninja"])
        checked(["cmake", "--build", build], timeout=300)
        self.assertTrue(os.access(os.path.join(build, "fetch"), os.X_OK))

    # -- the units' command lines

    def start_unit(self, unit: str, instance: str = "") -> h.Server:
        """Runs the installed unit's ExecStart as systemd would: its User and
        Group (with no new privileges and no capabilities, as the unit
        says), in its WorkingDirectory, with its EnvironmentFile."""
        s = read_unit(f"{UNIT_DIR}/{unit}", instance)
        self.assertEqual(one(s, "NoNewPrivileges"), "yes")
        self.assertEqual(one(s, "CapabilityBoundingSet"), "")
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}
        for path in s.get("EnvironmentFile", []):
            env.update(read_environment_file(path))
        args = expand_command(one(s, "ExecStart"), env)
        self.assertEqual(args[0], "/usr/bin/braid")
        user, group = one(s, "User"), one(s, "Group")
        wrap = ["setpriv", f"--reuid={user}", f"--regid={group}", "--init-groups",
                "--no-new-privs", "--bounding-set=-all", "--inh-caps=-all", "--"]
        d = h.start_daemon(wrap + args, f"{unit} {instance}", log_dir=self.out_dir,
                           cwd=one(s, "WorkingDirectory"), env=env)
        self.addCleanup(d.stop)
        self.assertEqual(pwd.getpwuid(os.stat(f"/proc/{d.proc.pid}").st_uid).pw_name, user)
        d.reload_command = expand_command(one(s, "ExecReload"),
                                          {"MAINPID": str(d.proc.pid)})
        return d

    def reload(self, d: h.Server, logged: str) -> None:
        """The unit's ExecReload; the daemon logs `logged` and lives on."""
        checked(d.reload_command)
        self.assertTrue(h.wait_until(lambda: logged in d.stderr_text(), 10), d.stderr_text())
        self.assertTrue(d.alive(), d.stderr_text())

    def write_config(self, path: str, text: str) -> None:
        with open(path, "w") as f:
            f.write(text)

    def get(self, extra: list[str]) -> None:
        out = os.path.join(self.out_dir, f"out-{len(os.listdir(self.out_dir))}.bin")
        r = run(["/usr/bin/braid", "get", NAME, "-o", out, *extra], timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout.decode(errors="replace"))
        self.assertEqual(h.sha256_file(out), self.digest)

    def wait_registered(self, director: h.Server) -> None:
        def listed() -> bool:
            r = run(["/usr/bin/braid", "ls", "--director", director.address], timeout=15)
            return r.returncode == 0 and NAME.encode() in r.stdout
        self.assertTrue(h.wait_until(listed, 30, interval=0.2), director.stderr_text())

    def test_downloads_through_the_units(self) -> None:
        self.write_config(f"{ETC}/director.env",
                          f'BRAID_DIRECTOR_OPTS="--listen 127.0.0.1:0 --db {STATE}/director.db"\n')
        director = self.start_unit("braid-director.service")
        self.write_config(f"{ETC}/serve-{INSTANCE}.toml",
                          f'root = "{self.root}"\nlisten = "127.0.0.1:0"\n'
                          f'discovery = "off"\nmax_rate = "400mbit"\n'
                          f'director = "{director.address}"\n')
        server = self.start_unit("braid-serve@.service", INSTANCE)
        self.write_config(f"{ETC}/relay-{INSTANCE}.env",
                          f'BRAID_RELAY_OPTS="--listen 127.0.0.1:0 --allow {server.address}"\n')
        relay = self.start_unit("braid-relay@.service", INSTANCE)
        self.wait_registered(director)
        self.assertTrue(os.path.isfile(f"{STATE}/director.db"), director.stderr_text())

        by_name = ["--director", director.address]
        via_relay = ["--origin", server.address, "--via", relay.address]
        self.get(by_name)
        self.get(via_relay)
        self.assertIn(f"-> {server.address}", relay.stderr_text())
        self.reload(director, "SIGHUP: nothing to reload")
        self.reload(server, "SIGHUP: max rate now 50000000 B/s")
        self.reload(relay, "SIGHUP: nothing to reload")
        self.get(by_name)
        self.get(via_relay)
        for d in (director, server, relay):
            self.assertTrue(d.alive(), d.stderr_text())
            self.assertEqual(d.stop(), 0, d.stderr_text())


if __name__ == "__main__":
    unittest.main()
