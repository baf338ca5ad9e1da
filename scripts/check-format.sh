#!/usr/bin/env bash
# Checks that every tracked C++ file (*.cpp, *.hpp) is formatted per the repository's
# .clang-format; changes nothing. Exit 1 and the offending lines when a file is not.
#
#   scripts/check-format.sh            all tracked *.cpp / *.hpp
#   scripts/check-format.sh FILE...    only these files
#   scripts/check-format.sh --fix      reformat the tracked files in place (clang-format -i)
#   CLANG_FORMAT=clang-format-14 ...   another clang-format binary
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

CLANG_FORMAT="${CLANG_FORMAT:-clang-format}"
mode=(--dry-run --Werror)
case "${1:-}" in
  -h | --help)
    awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
    exit 0
    ;;
  --fix)
    mode=(-i)
    shift
    ;;
esac
if ! command -v "$CLANG_FORMAT" >/dev/null 2>&1; then
  echo "check-format.sh: $CLANG_FORMAT not found (apt-get install clang-format)" >&2
  exit 2
fi

if (($# > 0)); then
  files=("$@")
else
  mapfile -t files < <(git ls-files -- '*.cpp' '*.hpp')
fi
((${#files[@]} > 0)) || exit 0

# --style=file: the .clang-format at the repository root.
if printf '%s\0' "${files[@]}" | xargs -0 "$CLANG_FORMAT" --style=file "${mode[@]}"; then
  echo "check-format.sh: ${#files[@]} files clean ($("$CLANG_FORMAT" --version | head -1))"
else
  echo "check-format.sh: formatting differs; fix with scripts/check-format.sh --fix" >&2
  exit 1
fi
