"""Integration tests: the README and the man pages name the flags that
exist, and no flag that does not.

Flags are read from `braid [SUBCOMMAND] --help` of the binary under test;
the man pages are the ones the build generated beside it (build/man).
"""

from __future__ import annotations

import os
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness as h  # noqa: E402

SUBCOMMANDS = ("serve", "get", "director", "ls", "relay", "proxy", "token", "metalink")
LONG_FLAG = re.compile(r"(?<![\w-])(--[a-z][a-z0-9-]*)")
# Other programs' flags in the README's commands (cmake, ctest).
FOREIGN = {"--build", "--install", "--prefix", "--test-dir"}
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def help_flags(sub: str | None) -> set[str]:
    r = h.run_cmd([h.braid_bin(), *([sub] if sub else []), "--help"], timeout=30)
    assert r.returncode == 0, r.stderr
    return set(LONG_FLAG.findall(r.stdout.decode()))


class Docs(unittest.TestCase):

    def test_readme_names_no_flag_that_does_not_exist(self) -> None:
        known = help_flags(None).union(*(help_flags(s) for s in SUBCOMMANDS))
        with open(os.path.join(REPO, "README.md")) as f:
            lines = f.read().splitlines()
        for n, line in enumerate(lines, 1):
            if "Not yet" in line:  # what is still to build, by name
                continue
            for flag in LONG_FLAG.findall(line):
                self.assertIn(flag, known | FOREIGN, f"README.md:{n} names {flag}")

    def test_each_man_page_has_every_flag_of_its_subcommand(self) -> None:
        man = os.path.join(os.path.dirname(h.braid_bin()), "man")
        for sub in (None, *SUBCOMMANDS):
            page = os.path.join(man, f"braid-{sub}.1" if sub else "braid.1")
            with self.subTest(page=page):
                with open(page) as f:
                    text = f.read().replace("\\-", "-")
                for flag in help_flags(sub):
                    self.assertIn(flag, text)
                self.assertIn(f'.TH {"BRAID-" + sub.upper() if sub else "BRAID"} "1"', text)


if __name__ == "__main__":
    unittest.main()
