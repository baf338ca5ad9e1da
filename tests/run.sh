#!/usr/bin/env bash
# THE test command: installs missing Debian packages, builds everything (Release, Ninja, build/)
# and runs the whole ctest suite. Exit code non-zero when anything fails.
#
#   tests/run.sh                 all tests (unit, pg, e2e, deploy)
#   tests/run.sh -L unit         only a label (unit | pg | e2e | deploy); any ctest option passes through
#   tests/run.sh -R codec        only tests whose name matches
#   BUILD_DIR=/tmp/b tests/run.sh   another build folder;  JOBS=1 tests/run.sh  ctest parallelism
#   TEST_TIMEOUT=300                 per-test time-out in seconds (tests with their own TIMEOUT keep it)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ROOT/build}"
JOBS="${JOBS:-2}"
BUILD_JOBS="${BUILD_JOBS:-2}"

if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
  awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
  exit 0
fi

step() { printf '\n==> %s\n' "$*"; }
start=$(date +%s)

step "dependencies"
"$ROOT/scripts/install-deps.sh"

step "configure ($BUILD_DIR, Release)"
# With ccache installed, clones in other folders share cached objects (paths made relative).
export CCACHE_BASEDIR="$ROOT" CCACHE_NOHASHDIR=1
# -O2 (not CMake's -O3): GCC 12 reports false -Wrestrict/-Wstringop-overflow errors at -O3.
cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release "-DCMAKE_CXX_FLAGS_RELEASE=-O2 -DNDEBUG" \
  -DBUILD_TESTS=ON

step "build"
cmake --build "$BUILD_DIR" -j "$BUILD_JOBS"

step "test (ctest -j$JOBS $*)"
set +e
(cd "$BUILD_DIR" && ctest --output-on-failure --timeout "${TEST_TIMEOUT:-300}" -j "$JOBS" "$@")
rc=$?
set -e

elapsed=$(($(date +%s) - start))
if ((rc == 0)); then
  step "all tests passed (${elapsed}s)"
else
  step "TESTS FAILED (ctest exit $rc, ${elapsed}s)"
fi
exit "$rc"
