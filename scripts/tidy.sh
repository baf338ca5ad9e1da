#!/usr/bin/env bash
# Runs clang-tidy (the repository's .clang-tidy) on C++ sources, with the compile commands of the
# release build (build/compile_commands.json; configured with the `release` preset if missing).
#
#   scripts/tidy.sh FILE...          these files
#   scripts/tidy.sh                  the *.cpp files changed since TIDY_BASE (default: the merge base
#                                    with origin/main when that exists and differs from HEAD,
#                                    otherwise HEAD~1, i.e. the last commit - works in a fresh clone)
#   scripts/tidy.sh --all            every *.cpp in compile_commands.json (the whole tree)
#   scripts/tidy.sh --fatal ...      warnings are errors (exit 1 on any finding); CI uses this
#   TIDY_BASE=main~5 scripts/tidy.sh   another base;  BUILD_DIR=... another compile_commands.json
#   CLANG_TIDY=clang-tidy-14 ...       another clang-tidy;  JOBS=2  parallel clang-tidy processes
# Headers are checked through the .cpp files that include them only when .clang-tidy sets
# HeaderFilterRegex (today it does not); files missing from compile_commands.json (e.g. fuzzers,
# which need BUILD_FUZZERS=ON) are skipped with a note. Exit 1 when clang-tidy reports an error.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BUILD_DIR="${BUILD_DIR:-$ROOT/build}"
CLANG_TIDY="${CLANG_TIDY:-clang-tidy}"
JOBS="${JOBS:-2}"

fatal=0 all=0
while (($# > 0)); do
  case "$1" in
    -h | --help)
      awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
      exit 0
      ;;
    --fatal) fatal=1 ;;
    --all) all=1 ;;
    --) shift; break ;;
    -*) echo "tidy.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
    *) break ;;
  esac
  shift
done

command -v "$CLANG_TIDY" >/dev/null 2>&1 || { echo "tidy.sh: $CLANG_TIDY not found (apt-get install clang-tidy)" >&2; exit 2; }
if [[ ! -f "$BUILD_DIR/compile_commands.json" ]]; then
  echo "tidy.sh: no $BUILD_DIR/compile_commands.json, configuring the release preset"
  cmake --preset release -B "$BUILD_DIR" >/dev/null
fi
# The generated embedded_migrations.cpp is compiled from the build folder; harmless if absent.
mapfile -t db_files < <(python3 -c 'import json,sys; [print(e["file"]) for e in json.load(open(sys.argv[1]))]' \
  "$BUILD_DIR/compile_commands.json" | sort -u)

if (($# > 0)); then
  files=("$@")
elif ((all)); then
  files=()
  for f in "${db_files[@]}"; do [[ "$f" == "$ROOT"/* && "$f" != "$BUILD_DIR"/* ]] && files+=("$f"); done
else
  base="${TIDY_BASE:-}"
  if [[ -z "$base" ]] && git rev-parse -q --verify origin/main >/dev/null; then
    base="$(git merge-base HEAD origin/main)"
    [[ "$base" == "$(git rev-parse HEAD)" ]] && base=""
  fi
  if [[ -z "$base" ]]; then
    base=HEAD~1
    git rev-parse -q --verify "$base" >/dev/null || { echo "tidy.sh: no HEAD~1 (single commit); nothing to compare"; exit 0; }
  fi
  mapfile -t files < <(git diff --name-only --diff-filter=d "$base" HEAD -- '*.cpp')
  echo "tidy.sh: ${#files[@]} changed .cpp file(s) since $base"
fi

# Keep only files that have a compile command (absolute paths compared).
selected=()
for f in "${files[@]}"; do
  abs="$(realpath -m "$f")"
  if printf '%s\n' "${db_files[@]}" | grep -qxF "$abs"; then
    selected+=("$abs")
  else
    echo "tidy.sh: skipping $f (not in $BUILD_DIR/compile_commands.json)"
  fi
done
if ((${#selected[@]} == 0)); then
  echo "tidy.sh: nothing to check"
  exit 0
fi

args=(-p "$BUILD_DIR" --quiet
  # The compile commands are GCC's: ignore GCC-only warning flags (-Wno-restrict) in clang.
  --extra-arg=-Wno-unknown-warning-option)
((fatal)) && args+=("--warnings-as-errors=*")
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
set +e
printf '%s\0' "${selected[@]}" | xargs -0 -n 1 -P "$JOBS" "$CLANG_TIDY" "${args[@]}" 2>&1 | tee "$log" |
  grep -v -E '^[0-9]+ warnings? (and [0-9]+ errors? )?generated\.$|^Suppressed [0-9]+ warnings|^Use -header-filter'
rc=${PIPESTATUS[1]}
set -e
findings=$(grep -cE '^/.*:[0-9]+:[0-9]+: (warning|error): ' "$log" || true)
echo "tidy.sh: ${#selected[@]} file(s), $findings finding(s)"
exit $((rc == 0 ? 0 : 1))
