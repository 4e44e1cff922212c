"""Prints MODULE.CLASS for every test case class with at least one test in
the integration test modules named on the command line (file paths). CMake
registers each as its own ctest test, so that the suite spreads over the
parallel ctest slots class by class rather than file by file."""

from __future__ import annotations

import importlib
import os
import sys
import unittest


def main() -> int:
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    loader = unittest.TestLoader()
    for path in sys.argv[1:]:
        name = os.path.splitext(os.path.basename(path))[0]
        module = importlib.import_module(name)
        for attr in sorted(vars(module)):
            cls = getattr(module, attr)
            if (isinstance(cls, type) and issubclass(cls, unittest.TestCase)
                    and cls.__module__ == name and loader.getTestCaseNames(cls)):
                print(f"{name}.{attr}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
