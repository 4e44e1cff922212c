#!/usr/bin/env bash
# Builds the Debian package (cpack -G DEB) from an existing release build
# folder and prints the package's path on stdout:
#   scripts/package.sh [BUILD_DIR]        (default: build/ of this checkout)
# The build is brought up to date first (nothing to do after build.sh).
# docs/operations.md says how to install it.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$(realpath "${1:-$root/build}")
cache="$build/CMakeCache.txt"
if [ ! -f "$cache" ]; then
  echo "package.sh: $build is not a configured build folder (run scripts/build.sh)" >&2
  exit 1
fi
if grep -q '^BRAID_SANITIZE:BOOL=ON' "$cache"; then
  echo "package.sh: $build is a sanitizer build; package a release build" >&2
  exit 1
fi
cmake --build "$build" >&2
log="$build/package.log"
if ! (cd "$build" && cpack -G DEB -B "$build" >"$log" 2>&1); then
  cat "$log" >&2
  exit 1
fi
deb=$(sed -n 's/^CPack: - package: \(.*\.deb\) generated\.$/\1/p' "$log")
if [ -z "$deb" ] || [ ! -f "$deb" ]; then
  cat "$log" >&2
  echo "package.sh: cpack named no .deb" >&2
  exit 1
fi
echo "$deb"
