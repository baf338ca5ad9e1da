#!/usr/bin/env bash
# ctest launcher of sanitizer builds (CMAKE_CROSSCOMPILING_EMULATOR, set by cmake/sanitizers.cmake):
#
#   run-test.sh REPORT_ROOT TEST_EXECUTABLE [ARGS...]
#
# Sets ASAN/UBSAN/LSAN/TSAN_OPTIONS (halt on the first report, suppression files next to this
# script) unless the caller already set them, runs the test with log_path in a fresh directory
# under REPORT_ROOT, so the test AND every process it spawns (write-side, read-side, relay_runner
# inherit the environment) write their reports there; afterwards prints those reports and exits 1
# if there are any, even when the test itself passed (a child's report would otherwise stay in a
# deleted temp log). postgres/nats-server are not instrumented and ignore these variables.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$1"
shift
mkdir -p "$root"
dir="$(mktemp -d "$root/$(basename "$1").XXXXXX")"

common="halt_on_error=1:print_stacktrace=1:log_path=$dir/report"
export ASAN_OPTIONS="${ASAN_OPTIONS:-$common:abort_on_error=0:detect_leaks=1:detect_stack_use_after_return=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-$common:suppressions=$here/ubsan.supp}"
export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$here/lsan.supp:print_suppressions=0}"
export TSAN_OPTIONS="${TSAN_OPTIONS:-$common:suppressions=$here/tsan.supp:second_deadlock_stack=1}"

"$@"
rc=$?

shopt -s nullglob
reports=("$dir"/report.*)
if ((${#reports[@]} > 0)); then
  for r in "${reports[@]}"; do
    printf '\n==== sanitizer report %s ====\n' "$r" >&2
    cat "$r" >&2
  done
  printf 'run-test.sh: %d sanitizer report(s) from %s or its children (kept in %s)\n' \
    "${#reports[@]}" "$(basename "$1")" "$dir" >&2
  ((rc == 0)) && rc=1
else
  rm -rf "$dir"
fi
exit "$rc"
