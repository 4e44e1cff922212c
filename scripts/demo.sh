#!/usr/bin/env bash
# Demo: a director, three rate-limited braid servers that register with it,
# and one 64 MiB file fetched from all of them at once by name; a fourth
# server appears during the transfer and is given slots (patent FIG. 10B).
# Uses build/braid (or $BRAID_BIN). Exits non-zero if the copy differs.
#
#   bash scripts/demo.sh        the director's catalog in SQLite
#   bash scripts/demo.sh etcd   two directors sharing a catalog in a local
#                               three-member etcd (scripts/etcd-cluster.sh):
#                               servers register through the first, the
#                               client asks the second
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${BRAID_BIN:-$REPO/build/braid}"
if [ ! -x "$BIN" ]; then
  echo "demo.sh: $BIN not found; run scripts/build.sh first" >&2
  exit 1
fi

MODE="${1:-sqlite}"
case "$MODE" in
  sqlite | etcd) ;;
  *)
    echo "usage: demo.sh [sqlite|etcd]" >&2
    exit 2
    ;;
esac

TMP="$(mktemp -d "${TMPDIR:-/tmp}/braid-demo.XXXXXX")"
PIDS=()
cleanup() {
  local pid
  if [ "$MODE" = etcd ]; then
    "$REPO/scripts/etcd-cluster.sh" stop "$TMP/etcd" || true
  fi
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    # Bounded wait, then SIGKILL.
    for _ in $(seq 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$TMP"
}
trap cleanup EXIT

mkdir -p "$TMP/root"
echo "demo: generating 64 MiB of random data"
head -c $((64 * 1024 * 1024)) /dev/urandom > "$TMP/root/demo.bin"
SRC_SHA="$(sha256sum "$TMP/root/demo.bin" | cut -d' ' -f1)"

# Waits (at most 10 s) for "listening HOST:PORT" as the first line of $1;
# prints the address.
listen_addr() {
  local line
  for _ in $(seq 100); do
    line="$(head -n 1 "$1" 2>/dev/null || true)"
    if [[ "$line" =~ ^listening\ (127\.0\.0\.1:[0-9]+)$ ]]; then
      echo "${BASH_REMATCH[1]}"
      return 0
    fi
    sleep 0.1
  done
  return 1
}

start_director() {  # index, then the catalog's flags; sets ADDR
  local i=$1
  shift
  "$BIN" director --listen 127.0.0.1:0 "$@" \
      >"$TMP/director$i.out" 2>"$TMP/director$i.err" &
  PIDS+=("$!")
  ADDR="$(listen_addr "$TMP/director$i.out")" || {
    echo "demo.sh: the director did not start:" >&2
    cat "$TMP/director$i.err" >&2
    exit 1
  }
}
if [ "$MODE" = etcd ]; then
  echo "demo: starting a three-member etcd on loopback"
  STORE="$("$REPO/scripts/etcd-cluster.sh" start "$TMP/etcd" $((20000 + RANDOM % 20000)))"
  start_director 1 --store "$STORE"
  D1="$ADDR"
  start_director 2 --store "$STORE"
  D2="$ADDR"
  echo "demo: directors at $D1 and $D2, one catalog in $STORE"
  DIRECTOR="$D1,$D2"      # servers register through the first that answers
  ASK="$D2"               # the client asks the other one
else
  start_director 0 --db "$TMP/catalog.db"
  DIRECTOR="$ADDR"
  echo "demo: director at $DIRECTOR (catalog in SQLite)"
  ASK="$DIRECTOR"
fi

RATES=(20MB 10MB 5MB 10MB)
start_server() {  # index
  "$BIN" serve --root "$TMP/root" --listen 127.0.0.1:0 --name "demo$1" \
      --max-rate "${RATES[$1]}" --director "$DIRECTOR" --discovery off \
      >"$TMP/serve$1.out" 2>"$TMP/serve$1.err" &
  PIDS+=("$!")
}
for i in 0 1 2; do
  start_server "$i"
done
# Each server hashes its files, then registers them with the director (a
# file written in the last second waits for the next registration).
for i in 0 1 2; do
  for _ in $(seq 100); do  # at most 10 s
    grep -q "registered 1 stream" "$TMP/serve$i.err" 2>/dev/null && break
    sleep 0.1
  done
  if ! grep -q "registered 1 stream" "$TMP/serve$i.err"; then
    echo "demo.sh: server $i did not register:" >&2
    cat "$TMP/serve$i.err" >&2 || true
    exit 1
  fi
  echo "demo: server $i at $(listen_addr "$TMP/serve$i.out"), --max-rate ${RATES[$i]}, registered"
done
echo
# A catalog shared through etcd shows a registration once etcd has it.
for _ in $(seq 100); do
  "$BIN" ls --director "$ASK" 2>/dev/null | grep -q "3 server" && break
  sleep 0.1
done
echo "demo: braid ls --director $ASK"
"$BIN" ls --director "$ASK"
echo

# A fourth server comes up half a second into the transfer.
( sleep 0.5 && exec "$BIN" serve --root "$TMP/root" --listen 127.0.0.1:0 \
    --name demo3 --max-rate "${RATES[3]}" --director "$DIRECTOR" \
    --discovery off >"$TMP/serve3.out" 2>"$TMP/serve3.err" ) &
PIDS+=("$!")

OUT="$TMP/out/demo.bin"
STATS="$TMP/stats.json"
mkdir -p "$TMP/out"
echo "demo: braid get demo.bin --director $ASK"
timeout 300 "$BIN" get demo.bin --director "$ASK" -o "$OUT" --stats-json "$STATS"

OUT_SHA="$(sha256sum "$OUT" | cut -d' ' -f1)"

python3 - "$STATS" <<'PY'
import json, sys
st = json.load(open(sys.argv[1]))
total = st["bytes"]
secs = st["seconds"]
print()
print(f"{'address':<22} {'id':>3} {'blocks':>7} {'bytes':>12} {'share':>7}")
for s in st["sources"]:
    share = 100.0 * s["bytes"] / total if total else 0.0
    note = "  (joined mid-transfer)" if s.get("joined") else ""
    print(f"{s['address']:<22} {s['id']:>3} {s['blocks']:>7} {s['bytes']:>12} {share:>6.1f}%{note}")
rate = total / secs / 1e6 if secs > 0 else float("inf")
print(f"{'total':<22} {'':>3} {st['blocks']:>7} {total:>12}")
pat = st["pattern"]
letters = "".join(chr(ord("A") + i) if i < 26 else "?" for i in pat)
shown = letters if len(letters) <= 48 else letters[:48] + "..."
print(f"\n{total} bytes in {secs:.3f} s = {rate:.1f} MB/s")
print(f"first pattern ({len(pat)} slots, equal shares: the first blocks are the measurement): {shown}")
final = st["final_pattern"]
counts = ", ".join(f"{c}: {final.count(c)}" for c in sorted(set(final)))
print(f"measured pattern ({len(final)} slots; {counts}) after {st['patterns']} pattern(s); "
      f"{st['moved_blocks']} blocks moved between sources; duplicate bytes {st['duplicate_bytes']}; "
      f"every block verified: {st['verified']}")
PY

if [ "$OUT_SHA" != "$SRC_SHA" ]; then
  echo "demo: FAIL: sha256 differs: source $SRC_SHA, copy $OUT_SHA" >&2
  exit 1
fi
echo "demo: OK, sha256 $OUT_SHA matches"
