#!/bin/bash
# The wide-area matrix of docs/benchmarks.md: shaped_bench.py over links with
# round trips and loss (wanem), side by side with aria2 and axel, one cell
# after the other (never two benchmarks at once). Run as root from the repo:
#
#   bench/wan_matrix.sh OUT_DIR [SIZES_MIB] [SCENARIOS]
#
# SIZES_MIB defaults to "16 256", SCENARIOS to "static,drop,flap,kill,freeze"
# (16 MiB runs are static only). One JSON file per cell in OUT_DIR.
# Environment: TOOLS (default braid,aria2-16,aria2,axel; curl is added for
# 16 MiB), RTTS (default "10,40,80 40,120,250"), LOSSES (default "0 0,0,0.5").
set -euo pipefail
out=${1:?usage: bench/wan_matrix.sh OUT_DIR [SIZES_MIB] [SCENARIOS]}
sizes=${2:-16 256}
scenarios=${3:-static,drop,flap,kill,freeze}
mkdir -p "$out"
here=$(dirname "$0")
for rtt in ${RTTS:-10,40,80 40,120,250}; do
  for loss in ${LOSSES:-0 0,0,0.5}; do
    for size in $sizes; do
      sc=$scenarios
      tools=${TOOLS:-braid,aria2-16,aria2,axel}
      if [ "$size" -le 16 ]; then sc=static; tools=$tools,curl; fi
      # curl's calibration needs a long enough file at long round trips.
      calib=64
      [ "$rtt" = 40,120,250 ] && calib=128
      [ "$size" -lt "$calib" ] && calib=$size
      name="rtt${rtt//,/-}_loss${loss//,/-}_${size}MiB"
      echo "== $name" >&2
      python3 "$here/shaped_bench.py" --size-mib "$size" --rates 100,50,25 \
        --rtt-ms "$rtt" --loss "$loss" --scenarios "$sc" --tools "$tools" \
        --calibrate-mib "$calib" --trace-dir "$out/traces-$name" \
        --out "$out/$name.json" > "$out/$name.log" 2>&1 ||
        echo "   failed: see $out/$name.log" >&2
      tail -n +1 "$out/$name.log" | grep -E "^(static|drop|flap|kill|freeze|calibration)" >&2 || true
    done
  done
done
