#!/usr/bin/env bash
# THE test command: installs missing Debian packages, builds everything (Release, Ninja, build/)
# and runs the whole ctest suite. Exit code non-zero when anything fails.
#
#   tests/run.sh                 all tests (unit, pg, e2e, deploy)
#   tests/run.sh -L unit         only a label (unit | pg | e2e | deploy); any ctest option passes through
#   tests/run.sh -R codec        only tests whose name matches
#   tests/run.sh --asan          ASan+UBSan build (preset asan, build/asan) of the unit and pg test
#                                binaries only (target tests_unit tests_pg), runs labels unit and pg
#   tests/run.sh --tsan          TSan build (preset tsan, build/tsan) of the concurrency tests only
#                                (target tests_concurrency), runs label concurrency: pg pool,
#                                group-commit pipeline, relay, projector
#   tests/run.sh --sanitizers    --asan, then --tsan (both run even if the first fails)
#   tests/run.sh --asan -R Pool  ctest options pass through after the mode, too
#   BUILD_DIR=/tmp/b tests/run.sh   another build folder (ASAN_BUILD_DIR, TSAN_BUILD_DIR for those)
#   JOBS=1 tests/run.sh             ctest parallelism;  BUILD_JOBS=1  build parallelism
#   TEST_TIMEOUT=300                 per-test time-out in seconds (tests with their own TIMEOUT keep it)
# Sanitizer runs fail on any report, also from a child process (write-side, read-side,
# relay_runner); suppressions and options: scripts/sanitizers/, docs/testing.md.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
JOBS="${JOBS:-2}"
BUILD_JOBS="${BUILD_JOBS:-2}"

mode=release
case "${1:-}" in
  -h | --help)
    awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
    exit 0
    ;;
  --asan) mode=asan; shift ;;
  --tsan) mode=tsan; shift ;;
  --sanitizers)
    shift
    rc=0
    "$0" --asan "$@" || rc=1
    "$0" --tsan "$@" || rc=1
    exit "$rc"
    ;;
esac

# preset, build folder, build targets, ctest selection for each mode
case "$mode" in
  release)
    BUILD_DIR="${BUILD_DIR:-$ROOT/build}"
    targets=(all)
    select=()
    ;;
  asan)
    BUILD_DIR="${ASAN_BUILD_DIR:-$ROOT/build/asan}"
    targets=(tests_unit tests_pg)
    select=(-L '^(unit|pg)$')
    ;;
  tsan)
    BUILD_DIR="${TSAN_BUILD_DIR:-$ROOT/build/tsan}"
    targets=(tests_concurrency)
    select=(-L '^concurrency$')
    ;;
esac

step() { printf '\n==> [%s] %s\n' "$mode" "$*"; }
start=$(date +%s)

step "dependencies"
"$ROOT/scripts/install-deps.sh"

step "configure ($BUILD_DIR, preset $mode)"
# With ccache installed, clones in other folders share cached objects (paths made relative).
export CCACHE_BASEDIR="$ROOT" CCACHE_NOHASHDIR=1
# Presets in CMakePresets.json; release is -O2 (not CMake's -O3): GCC 12 reports false
# -Wrestrict/-Wstringop-overflow errors at -O3.
(cd "$ROOT" && cmake --preset "$mode" -B "$BUILD_DIR")

step "build (${targets[*]})"
build_start=$(date +%s)
cmake --build "$BUILD_DIR" -j "$BUILD_JOBS" --target "${targets[@]}"
build_s=$(($(date +%s) - build_start))

step "test (ctest -j$JOBS ${select[*]} $*)"
test_start=$(date +%s)
set +e
(cd "$BUILD_DIR" && ctest --output-on-failure --no-tests=error --timeout "${TEST_TIMEOUT:-300}" -j "$JOBS" "${select[@]}" "$@")
rc=$?
set -e
test_s=$(($(date +%s) - test_start))

elapsed=$(($(date +%s) - start))
if ((rc == 0)); then
  step "all tests passed (${elapsed}s: build ${build_s}s, tests ${test_s}s)"
else
  step "TESTS FAILED (ctest exit $rc, ${elapsed}s: build ${build_s}s, tests ${test_s}s)"
fi
exit "$rc"
