#!/usr/bin/env bash
# The whole test suite: unit and integration tests (ctest), the same suite
# again under AddressSanitizer + UBSan, and a short run of every fuzz target.
# Extra arguments go to the first ctest run, e.g. scripts/test.sh -R integration
# (then only that run is done). Each stage prints how long it took.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Tests run three at a time: the integration tests mostly wait on
# rate-limited transfers and timers, and each uses its own ports and files.
export CTEST_PARALLEL_LEVEL="${BRAID_TEST_JOBS:-3}"

stage_start=$(date +%s)
stage() {  # name of the stage that just ended
  local now
  now=$(date +%s)
  echo "== stage: $1 took $((now - stage_start)) s"
  stage_start=$now
}

ctest --test-dir build --output-on-failure "$@"
stage "release suite"
[ "$#" -eq 0 ] || exit 0

echo "== the suite under AddressSanitizer + UBSan"
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBRAID_SANITIZE=ON >/dev/null
cmake --build build-asan
stage "sanitizer build"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  ctest --test-dir build-asan --output-on-failure
stage "sanitizer suite"

echo "== fuzz targets, briefly"
cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBRAID_FUZZ=ON \
  -DCMAKE_CXX_COMPILER=clang++ >/dev/null
cmake --build build-fuzz --target frame_decoder_fuzz config_fuzz http_url_fuzz input_fuzz
stage "fuzz build"
passed=0 failed=0
for target in frame_decoder_fuzz config_fuzz http_url_fuzz input_fuzz; do
  corpus=$(mktemp -d)
  if ./build-fuzz/$target -max_total_time=20 -print_final_stats=1 "$corpus" >"$corpus.log" 2>&1; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    tail -40 "$corpus.log"
  fi
  tail -3 "$corpus.log"
  rm -rf "$corpus" "$corpus.log"
done
stage "fuzz runs"
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
