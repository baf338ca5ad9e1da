# Sourced (not run) by the tests that drive deploy/local/stack.sh with the built binaries:
#   source "$ROOT/tests/support/stack_env.sh" NAME [WRITE_SIDE_BIN READ_SIDE_BIN]
# Checks the binaries (exit 77 = skipped when missing), makes a temp data folder STACK_DATA
# (/tmp/orders-NAME-XXXXXX) and an output file $out, picks free ports (WRITE_PORT, READ_PORT,
# PG_PORT, NATS_PORT, all exported), turns the bearer tokens on (NAME-command, NAME-query,
# NAME-admin) and tears the stack down on exit (`down --purge`), after calling the test's own
# `before_teardown` function when it defines one. Gives pass/fail/expect_in (counted in $passes
# and $failures), pick_port, port_busy, and run (stack.sh ARGS, output in $out, exit code in $rc).
# Expects ROOT (the repository) to be set.
STACK="$ROOT/deploy/local/stack.sh"
export WRITE_SIDE_BIN="${2:-$ROOT/build/write-side/write-side}"
export READ_SIDE_BIN="${3:-$ROOT/build/read-side/read-side}"
for b in "$WRITE_SIDE_BIN" "$READ_SIDE_BIN"; do
  [[ -x "$b" ]] || { echo "SKIP: $b not built"; exit 77; }
done

STACK_DATA=$(mktemp -d "/tmp/orders-$1-XXXXXX")
chmod 755 "$STACK_DATA"  # the postgres user must reach the cluster inside
export STACK_DATA
out="$STACK_DATA.out"
stack_teardown() {
  if declare -F before_teardown >/dev/null; then before_teardown || true; fi
  "$STACK" down --purge >/dev/null 2>&1 || true
  rm -rf "$STACK_DATA" "$out"
}
trap stack_teardown EXIT

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pick_port() {  # a free port whose successor is free too (the stack puts read-side 2 there)
  local p
  while :; do
    p=$((20000 + RANDOM % 12000))
    port_busy "$p" || port_busy $((p + 1)) || { echo "$p"; return; }
  done
}
export WRITE_PORT READ_PORT PG_PORT NATS_PORT
WRITE_PORT=$(pick_port) READ_PORT=$(pick_port) PG_PORT=$(pick_port) NATS_PORT=$(pick_port)
export COMMAND_TOKEN="$1-command" QUERY_TOKEN="$1-query" ADMIN_TOKEN="$1-admin"

failures=0
passes=0
pass() { echo "ok   $*"; passes=$((passes + 1)); }
fail() { echo "FAIL $*"; failures=$((failures + 1)); }
expect_in() {  # file pattern description
  if grep -q -- "$2" "$1"; then pass "$3"; else fail "$3 (no '$2' in the output above)"; fi
}
run() {  # args... -> output in $out, exit code in $rc
  set +e
  "$STACK" "$@" >"$out" 2>&1
  rc=$?
  set -e
  echo "--- stack.sh $* (exit $rc)"
  sed 's/^/    /' "$out"
}
