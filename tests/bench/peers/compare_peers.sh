#!/usr/bin/env bash
# Our write-side beside the peer event stores, on ONE throwaway PostgreSQL cluster, in one run:
#   - write_side_bench (HTTP commands, group commit on/off, 1/16/64 clients)
#   - Message DB write_message (pgbench)        tests/bench/pipeline/peers/message-db-bench.sh
#   - Emmett appendToStream (node, npm package) tests/bench/pipeline/peers/emmett-bench.mjs
# Prints every figure and the command that reproduces it.
#
#   tests/bench/peers/compare_peers.sh            (after tests/run.sh or a build in build/)
#   SECONDS_PER_RUN=10 PEERS_DIR=/path/to/shared/peers BUILD_DIR=build tests/bench/peers/compare_peers.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
PEERS_DIR=${PEERS_DIR:-$ROOT/tests/bench/pipeline/peers}
SECS=${SECONDS_PER_RUN:-10}
BENCH=$BUILD_DIR/tests/bench/write_side/write_side_bench
[ -x "$BENCH" ] || { echo "build first: $BENCH missing (tests/run.sh builds it)"; exit 1; }
[ -d "$PEERS_DIR" ] || { echo "peer scripts not found in $PEERS_DIR (set PEERS_DIR)"; exit 1; }
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
export PATH="$PATH:$PGBIN"

WORK=$(mktemp -d /tmp/peers-bench.XXXXXX)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" = 0 ] && chown postgres "$WORK"
as_pg initdb -D "$WORK/pg" -U postgres --auth=trust -E UTF8 >/dev/null
cat >> "$WORK/pg/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$WORK'
shared_buffers = 1GB
max_connections = 300
fsync = on
synchronous_commit = on
CONF
as_pg pg_ctl -D "$WORK/pg" -l "$WORK/pg.log" -w start >/dev/null
cleanup() { as_pg pg_ctl -D "$WORK/pg" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$WORK"; }
trap cleanup EXIT
export PGHOST=127.0.0.1 PGPORT=$PORT PGUSER=postgres
psql -d postgres -qc "CREATE DATABASE orders_bench" 

echo "=== ours: write_side_bench on postgresql://postgres@127.0.0.1:$PORT/orders_bench"
"$BENCH" --seconds "$SECS" --clients 1,16,64 --database-url "postgresql://postgres@127.0.0.1:$PORT/orders_bench" \
  | tee "$WORK/ours.txt"

echo; echo "=== peer: Message DB (write_message), same cluster"
( cd "$PEERS_DIR" && CLIENTS="1 16 64" DURATION=$SECS WORKDIR="$WORK/mdb" bash message-db-bench.sh ) 2>&1 \
  | grep -E '^mdb_|==' | tee "$WORK/mdb.txt" || echo "Message DB run failed (npm reachable?)"

echo; echo "=== peer: Emmett (appendToStream), same cluster"
mkdir -p "$WORK/emmett"
( cd "$PEERS_DIR" && node emmett-bench.mjs --pg "postgresql://postgres@127.0.0.1:$PORT/emmett" \
    --workers 1,16,64 --seconds "$SECS" --read-seconds 1 --pool default --workdir "$WORK/emmett" ) 2>&1 \
  | tail -20 | tee "$WORK/emmett.txt" || echo "Emmett run failed (npm reachable?)"

echo; echo "reproduce: SECONDS_PER_RUN=$SECS tests/bench/peers/compare_peers.sh"
