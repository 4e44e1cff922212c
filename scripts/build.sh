#!/usr/bin/env bash
# Configures and builds braid into build/ (from the repo root, whatever the cwd).
# Extra arguments are passed to the CMake configure step, e.g.
#   scripts/build.sh -DCMAKE_BUILD_TYPE=Debug
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@"
cmake --build build
