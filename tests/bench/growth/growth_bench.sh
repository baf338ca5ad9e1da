#!/usr/bin/env bash
# The growth table of issue 13 item 6 and the flat-cost table of issue 16 item 4 in one command
# (not a ctest test): pipeline_bench --preload per store size (bulk-loaded events, read model
# rebuilt, stream primed at the head), the pipeline load, GET p99 on old and new orders, a
# rebuild-projection on the live stack (events/s, peak RSS, projector hold), an archive run of a
# tenth of the preloaded orders (events/s, bytes), bytes per event, and the 32 KB-metadata
# sample with lz4 against pglz. Everything runs in a throwaway PostgreSQL cluster under /tmp
# (~0.6 KB per event on disk at the largest size; dropped at the end).
#   tests/bench/growth/growth_bench.sh [SIZES=0,1M,10M] [PAYLOAD_EVENTS=20000]
# BENCH_LOCK=FILE: flock held over the measured phases (machines shared with other timed runs);
# the bulk loads run under nice. Extra pipeline_bench options after the two positionals.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
SIZES=${1:-0,1M,10M} PAYLOAD=${2:-20000}
shift $(($# < 2 ? $# : 2))
BIN="${PIPELINE_BENCH_BIN:-$ROOT/build/tests/bench/pipeline/pipeline_bench}"
[[ -x $BIN ]] || { echo "build it first: cmake --build build --target pipeline_bench" >&2; exit 1; }
lock=()
[[ -n ${BENCH_LOCK:-} ]] && lock=(--lock "$BENCH_LOCK")
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GB", $2 / 1048576}' /proc/meminfo)," \
  "$(date -u '+%Y-%m-%d %H:%M UTC'), git $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')"
exec nice "$BIN" --preload "$SIZES" --growth --payload-sample "$PAYLOAD" "${lock[@]}" "$@"
