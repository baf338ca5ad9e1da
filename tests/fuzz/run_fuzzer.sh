#!/usr/bin/env bash
# Builds one libFuzzer target with clang (ASan + UBSan) and runs it for a bounded time on its seed
# corpus. Usage: tests/fuzz/run_fuzzer.sh NAME SECONDS SOURCES...
# Exit 0 when no crash was found; the crashing input is kept under the work folder otherwise.
set -euo pipefail
name=$1 seconds=$2; shift 2
root=$(cd "$(dirname "$0")/../.." && pwd)
work=${FUZZ_WORK:-$(mktemp -d /tmp/fuzz-$name.XXXXXX)}
mkdir -p "$work"
command -v clang++ >/dev/null || { echo "clang++ not installed (scripts/install-deps.sh installs it)"; exit 1; }
clang++ -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -I"$root" $(pkg-config --cflags libpqxx 2>/dev/null) "$@" -o "$work/$name" \
  ${FUZZ_LDFLAGS:-}
mkdir -p "$work/corpus"
cp -r "$root/tests/fuzz/$name/corpus/." "$work/corpus/"
cd "$work"
./"$name" -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
  -print_final_stats=1 corpus 2>&1 | tail -25
echo "fuzz target $name: no crash in ${seconds}s (work folder $work)"
