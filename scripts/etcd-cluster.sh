#!/usr/bin/env bash
# A local three-member etcd cluster on loopback, for the demo of
# `braid director --store etcd://...` and for trying it by hand (the tests
# start their own, tests/integration/etcd_cluster.py).
#
#   scripts/etcd-cluster.sh start DIR [BASE_PORT]   members' data and logs in DIR;
#                                                   prints the --store URL
#   scripts/etcd-cluster.sh stop DIR                stops them, removes DIR
#
# Member i (0, 1, 2) serves clients on 127.0.0.1:BASE_PORT+2i and its peers
# on BASE_PORT+2i+1 (BASE_PORT defaults to 23790).
set -euo pipefail

usage() {
  sed -n '5,8p' "$0" | sed 's/^# //' >&2
  exit 2
}

[ $# -ge 2 ] || usage
cmd=$1
dir=$2
base=${3:-23790}

start() {
  command -v etcd >/dev/null || {
    echo "etcd-cluster.sh: etcd not found (scripts/setup.sh installs etcd-server)" >&2
    exit 1
  }
  mkdir -p "$dir"
  local cluster="" i
  for i in 0 1 2; do
    cluster+="${cluster:+,}m$i=http://127.0.0.1:$((base + 2 * i + 1))"
  done
  for i in 0 1 2; do
    local client=http://127.0.0.1:$((base + 2 * i))
    etcd --name "m$i" --data-dir "$dir/m$i" \
      --listen-client-urls "$client" --advertise-client-urls "$client" \
      --listen-peer-urls "http://127.0.0.1:$((base + 2 * i + 1))" \
      --initial-advertise-peer-urls "http://127.0.0.1:$((base + 2 * i + 1))" \
      --initial-cluster "$cluster" --initial-cluster-state new \
      --initial-cluster-token braid-local >"$dir/m$i.log" 2>&1 &
    echo $! >"$dir/m$i.pid"
  done
  local url="etcd://127.0.0.1:$base,127.0.0.1:$((base + 2)),127.0.0.1:$((base + 4))"
  for _ in $(seq 100); do
    if curl -sf "http://127.0.0.1:$base/health" 2>/dev/null | grep -q '"health":"true"'; then
      echo "$url"
      return 0
    fi
    sleep 0.1
  done
  echo "etcd-cluster.sh: the cluster did not become healthy in 10 s; logs in $dir" >&2
  stop
  exit 1
}

stop() {
  local p
  for p in "$dir"/m*.pid; do
    [ -e "$p" ] || continue
    kill "$(cat "$p")" 2>/dev/null || true
  done
  sleep 0.3
  for p in "$dir"/m*.pid; do
    [ -e "$p" ] || continue
    kill -9 "$(cat "$p")" 2>/dev/null || true
  done
  rm -rf "$dir"
}

case $cmd in
  start) start ;;
  stop) stop ;;
  *) usage ;;
esac
