#!/usr/bin/env bash
# Runs every registered test (unit + integration) through ctest.
# Extra arguments go to ctest, e.g. scripts/test.sh -R integration
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ctest --test-dir build --output-on-failure "$@"
