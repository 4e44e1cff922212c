#!/usr/bin/env bash
# Hunts flaky tests: runs the integration suite N times (default 5) at the
# parallelism scripts/test.sh uses, in the release build and in the
# ASan+UBSan build, and reports every test that failed at least once.
#   scripts/flake-hunt.sh [N] [ctest -R regex]
# Needs build/ and build-asan/ (scripts/build.sh, then scripts/test.sh or
# scripts/build.sh -B build-asan -DBRAID_SANITIZE=ON). The output of each
# failed test is kept in build/flake-hunt/. Exits non-zero if any failed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

runs="${1:-5}"
regex="${2:-^integration\.}"
jobs="${BRAID_TEST_JOBS:-3}"
logs="build/flake-hunt"
rm -rf "$logs"
mkdir -p "$logs"

builds=()
for b in build build-asan; do
  if [ -f "$b/CTestTestfile.cmake" ]; then
    builds+=("$b")
  else
    echo "flake-hunt: $b is not configured; skipping it" >&2
  fi
done
[ "${#builds[@]}" -gt 0 ] || { echo "flake-hunt: no build to test" >&2; exit 1; }

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
total=0
failures=0
for i in $(seq "$runs"); do
  for b in "${builds[@]}"; do
    log="$logs/run$i-$(basename "$b").log"
    start=$(date +%s)
    if ctest --test-dir "$b" -R "$regex" -j "$jobs" --output-on-failure >"$log" 2>&1; then
      result="ok"
    else
      result="FAILED"
    fi
    total=$((total + 1))
    summary=$(grep -E "tests passed|tests failed" "$log" | tail -1 || true)
    echo "run $i $b: $result in $(( $(date +%s) - start )) s ($summary)"
    if [ "$result" = "FAILED" ]; then
      failures=$((failures + 1))
      { sed -n '/The following tests FAILED/,$p' "$log" | grep -E '^\s+[0-9]+ - ' \
          | sed "s/^/    run $i $b: /"; } || echo "    run $i $b: see $log"
    fi
  done
done
echo "flake-hunt: $((total - failures)) passed, $failures failed (suite runs; logs in $logs)"
[ "$failures" -eq 0 ]
