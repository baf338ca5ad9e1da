#!/usr/bin/env bash
# End-to-end test of deploy/local/stack.sh with the built binaries, on free ports and a temp data
# folder: up, status, demo (Shipped, 35.00, 2 items; both read-side replicas serve it), a port in
# use gives a clear error, down stops everything, up again reuses the data, demo again on the same
# stack, rebuild-projection, check (both binaries), events ORDER_ID, archive (dry run, bad duration),
# archive-drop (dry run), down --purge deletes the data.
#   stack_test.sh WRITE_SIDE_BIN READ_SIDE_BIN
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=../support/stack_env.sh
source "$ROOT/tests/support/stack_env.sh" stack-test "${1:-}" "${2:-}"
get_order() {  # port id -> body on stdout
  curl -s --max-time 15 -H "Authorization: Bearer $QUERY_TOKEN" \
    "http://127.0.0.1:$1/orders/$2?min_version=5&wait_ms=5000"
}

run up
[[ $rc == 0 ]] && pass "up exits 0" || fail "up exits $rc"
expect_in "$out" "http://127.0.0.1:$WRITE_PORT" "up prints the write-side URL"
expect_in "$out" "http://127.0.0.1:$READ_PORT" "up prints the read-side URL"
READ_PORT2=$(grep 'read-side 2' "$out" | sed -E 's/.*127\.0\.0\.1:([0-9]+).*/\1/')

run status
expect_in "$out" "write-side   running" "status shows the write-side running"
expect_in "$out" "read-side-2  running" "status shows the second read-side replica"

run demo
[[ $rc == 0 ]] && pass "demo exits 0" || fail "demo exits $rc"
expect_in "$out" '"status": "Shipped"' "demo prints status Shipped"
expect_in "$out" '"total_amount": "35.00"' "demo prints total 35.00"
expect_in "$out" "status Shipped, total 35.00, 2 items" "demo prints the summary line"
expect_in "$out" "TRK123456" "demo prints the tracking number"
body=$(get_order "$READ_PORT2" order-1)
if jq -e '.status == "Shipped" and .total_amount == "35.00" and (.items | length) == 2' >/dev/null <<<"$body"; then
  pass "the second read-side replica serves order-1"
else
  fail "second replica (port $READ_PORT2) answered: $body"
fi

# A port in use gives a clear error (the running write-side holds WRITE_PORT).
run_port_clash() {
  local data
  data=$(mktemp -d /tmp/orders-stack-clash-XXXXXX)
  set +e
  STACK_DATA=$data PG_PORT=$(pick_port) NATS_PORT=$(pick_port) READ_PORT=$(pick_port) "$STACK" up >"$out" 2>&1
  rc=$?
  set -e
  STACK_DATA=$data "$STACK" down --purge >/dev/null 2>&1 || true
  rm -rf "$data"
}
run_port_clash
if [[ $rc != 0 ]] && grep -q "port $WRITE_PORT (WRITE_PORT) is already in use" "$out"; then
  pass "a port in use gives a clear error"
else
  fail "port clash: exit $rc, output: $(cat "$out")"
fi

run down
[[ $rc == 0 ]] && pass "down exits 0" || fail "down exits $rc"
sleep_until_free() {
  local deadline=$((SECONDS + 20)) p
  for p in "$@"; do
    while port_busy "$p" && ((SECONDS < deadline)); do sleep 0.1; done
    port_busy "$p" && return 1
  done
  return 0
}
if sleep_until_free "$WRITE_PORT" "$READ_PORT" "$READ_PORT2" "$PG_PORT" "$NATS_PORT"; then
  pass "down frees every port"
else
  fail "a port is still in use after down"
fi
[[ -d "$STACK_DATA/pg/data" && -d "$STACK_DATA/nats" ]] && pass "down keeps the data" || fail "down removed data"

run up
[[ $rc == 0 ]] && pass "second up exits 0" || fail "second up exits $rc"
if grep -q "creating the PostgreSQL cluster" "$out"; then fail "second up re-created the cluster"; else pass "second up reuses the cluster"; fi
body=$(get_order "$READ_PORT" order-1)
if jq -e '.status == "Shipped" and .total_amount == "35.00"' >/dev/null <<<"$body"; then
  pass "order-1 survives down/up"
else
  fail "after down/up order-1 is: $body"
fi

run demo
[[ $rc == 0 ]] && pass "demo on a stack that has order-1 exits 0" || fail "second demo exits $rc"
expect_in "$out" "running the scenario as order-2" "second demo says it uses order-2"
expect_in "$out" "status Shipped, total 35.00, 2 items" "second demo prints the read model"

run rebuild-projection orders
[[ $rc == 0 ]] && pass "rebuild-projection orders exits 0" || fail "rebuild-projection exits $rc"
body=$(get_order "$READ_PORT" order-2)
if jq -e '.status == "Shipped" and .total_amount == "35.00"' >/dev/null <<<"$body"; then
  pass "order-2 served after the rebuild"
else
  fail "after rebuild order-2 is: $body"
fi

run check
[[ $rc == 0 ]] && pass "check exits 0 on the running stack" || fail "check exits $rc"
expect_in "$out" "ok    relay" "check finds a relay leader"
expect_in "$out" "ok    stream" "check finds the stream with its subjects and dedupe window"
expect_in "$out" "ok    projections" "check finds the projections caught up"
expect_in "$out" "all 6 checks passed" "read-side check passes all six"

run events order-2
[[ $rc == 0 ]] && pass "events order-2 exits 0" || fail "events exits $rc"
expect_in "$out" "order order-2: 5 events" "events lists the five events of order-2"
expect_in "$out" "OrderShipped" "events shows OrderShipped"
run events no-such-order
[[ $rc == 66 ]] && pass "events of an unknown order exits 66" || fail "events unknown exits $rc"

run archive --older-than 30d --dry-run
[[ $rc == 0 ]] && pass "archive --dry-run exits 0" || fail "archive --dry-run exits $rc"
expect_in "$out" "archive (dry run, nothing moved): 0 orders" "archive finds nothing old to move"
run archive --older-than 30x
[[ $rc == 64 ]] && pass "archive with a bad duration exits 64" || fail "archive bad duration exits $rc"
run archive-drop --year 2000 --dry-run
[[ $rc == 0 ]] && pass "archive-drop --dry-run exits 0" || fail "archive-drop --dry-run exits $rc"
expect_in "$out" "no archive for 2000" "archive-drop finds no archive of 2000"

run logs write-side
[[ $rc == 0 && -s "$out" ]] && pass "logs write-side prints the log" || fail "logs exits $rc"

run down --purge
[[ $rc == 0 ]] && pass "down --purge exits 0" || fail "down --purge exits $rc"
[[ ! -e "$STACK_DATA" ]] && pass "down --purge deletes the data" || fail "data folder still there"

echo "$passes passed, $failures failed"
((failures == 0))
