#!/usr/bin/env bash
# Throughput of the HA stack next to the single-node stack, in one run: both stacks up on this
# machine (stack.sh up --ha and stack.sh up, own data folders and ports), then wrk creates orders
# (POST /orders, a new order id per request) through each write endpoint, alternately, ROUNDS
# times. Prints commands/s and p99 per round. Both stacks are stopped and deleted at the end.
#   tests/bench/ha/ha_vs_single.sh [ROUNDS=3] [SECONDS=8] [CONNECTIONS=32]
# WRITE_SIDE_BIN / READ_SIDE_BIN: the binaries (default: build/). Needs root (Patroni), wrk.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
ROUNDS=${1:-3} SECS=${2:-8} CONNS=${3:-32}
export WRITE_SIDE_BIN="${WRITE_SIDE_BIN:-$ROOT/build/write-side/write-side}"
export READ_SIDE_BIN="${READ_SIDE_BIN:-$ROOT/build/read-side/read-side}"
command -v wrk >/dev/null || { echo "wrk is missing (scripts/install-deps.sh installs it)" >&2; exit 1; }
HA_DATA=$(mktemp -d /tmp/orders-bench-ha.XXXXXX) ONE_DATA=$(mktemp -d /tmp/orders-bench-one.XXXXXX)
chmod 755 "$HA_DATA" "$ONE_DATA"
ha() { STACK_DATA=$HA_DATA HA_PORT_BASE=47100 WRITE_PORT=47080 READ_PORT=47081 "$ROOT/deploy/local/stack.sh" "$@"; }
one() { STACK_DATA=$ONE_DATA WRITE_PORT=48080 READ_PORT=48081 PG_PORT=48432 NATS_PORT=48222 "$ROOT/deploy/local/stack.sh" "$@"; }
cleanup() {
  ha down --purge >/dev/null 2>&1 || true
  one down --purge >/dev/null 2>&1 || true
  rm -rf "$HA_DATA" "$ONE_DATA"
}
trap cleanup EXIT
ha up --ha >/dev/null
one up >/dev/null
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for ((r = 1; r <= ROUNDS; r++)); do
  for target in ha:47080 single:48080; do
    name=${target%%:*} port=${target##*:}
    out=$(wrk -t2 -c"$CONNS" -d"${SECS}s" --latency -s "$ROOT/tests/bench/ha/create_orders.lua" \
      "http://127.0.0.1:$port" -- "$name$r$RANDOM")
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    bad=$(awk '/Non-2xx/ {print $5}' <<<"$out")
    printf 'round %d  %-6s  %8s cmds/s  p99 %-9s non-2xx %s\n' "$r" "$name" "$rps" "$p99" "${bad:-0}"
  done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
