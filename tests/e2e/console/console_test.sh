#!/usr/bin/env bash
# The web console end to end in headless Chromium: starts the local stack (deploy/local/stack.sh)
# on free ports with bearer tokens on, runs the demo scenario (order-1: 5 events ending Shipped),
# adds 11 orders of one customer (two pages) and an order holding hostile text, then runs
# console_browser.py against the console of the write-side and of a read-side.
#   console_test.sh WRITE_SIDE_BIN READ_SIDE_BIN ARTIFACT_DIR
#
# Hostile text: the API accepts only [A-Za-z0-9._:-] ids (product ids, tracking numbers included),
# so no command can store markup. The hostile order's third event is written into the event store
# directly (events + outbox, as the write-side would), standing for data from an older version or
# a bug: whatever is stored, the console must show it as text. A hostile order id also reaches the
# console through a deep link (/ui?order=<img ...>), which needs no stored data.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
ARTIFACTS="${3:-$ROOT/build/artifacts/console}"
for tool in chromium chromedriver curl jq; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool missing (scripts/install-deps.sh)"; exit 77; }
done
# Debian's python3 (python3-selenium is a Debian package), not one earlier on PATH.
PYTHON="${CONSOLE_TEST_PYTHON:-/usr/bin/python3}"
"$PYTHON" -c 'import selenium' 2>/dev/null || { echo "SKIP: python3-selenium missing"; exit 77; }

started=$SECONDS
before_teardown() { echo "browser done after $((SECONDS - started)) s"; }
# shellcheck source=../../support/stack_env.sh
source "$ROOT/tests/support/stack_env.sh" console-test "${1:-}" "${2:-}"
W="http://127.0.0.1:$WRITE_PORT" R="http://127.0.0.1:$READ_PORT"

"$STACK" demo >"$STACK_DATA.demo.out" 2>&1 || { cat "$STACK_DATA.demo.out"; exit 1; }
echo "stack up and demo in $((SECONDS - started)) s: $(grep 'status Shipped' "$STACK_DATA.demo.out")"
rm -f "$STACK_DATA.demo.out"

send() {  # method path [body] -> fails unless 2xx
  curl -sf --max-time 10 -X "$1" -H "Authorization: Bearer $COMMAND_TOKEN" \
    -H 'Content-Type: application/json' -d "${3:-}" "$W$2" >/dev/null ||
    { echo "FAIL: $1 $2 ${3:-}"; exit 1; }
}
visible() {  # order version: waits (min_version, a deadline on the server) until the read side has it
  curl -sf --max-time 15 -H "Authorization: Bearer $QUERY_TOKEN" \
    "$R/orders/$1?min_version=$2&wait_ms=10000" >/dev/null || { echo "FAIL: $1 v$2 not visible"; exit 1; }
}

# Two pages of a customer's orders (10 a page).
for i in $(seq -w 1 11); do
  send POST /orders "{\"order_id\":\"paged-$i\",\"customer_id\":\"customer-paged\"}"
done

# The hostile order: created and one item through the API, the third event written directly.
HOSTILE='<script>window.__xss=1</script><img src=x onerror="window.__xss=2;alert(1)">'
send POST /orders '{"order_id":"order-hostile","customer_id":"customer-hostile"}'
send POST /orders/order-hostile/items '{"product_id":"plain-1","quantity":1,"price":"1.00"}'
psql_db() {
  local bindir
  bindir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  "$bindir/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres -d orders "$@"
}
psql_db -v hostile="$HOSTILE" <<'SQL'
WITH e AS (
  INSERT INTO events (event_id, stream_id, version, type, schema_version, data, metadata)
  SELECT gen_random_uuid(), stream_id, 3, type, schema_version,
         jsonb_set(data, '{product_id}', to_jsonb(:'hostile'::text)),
         jsonb_set(metadata, '{request_id}', to_jsonb(:'hostile'::text))
  FROM events WHERE stream_id = 'order-hostile' AND version = 2
  RETURNING position)
INSERT INTO outbox (position) SELECT position FROM e;
SQL
visible order-hostile 3
visible paged-11 1
echo "test data in place after $((SECONDS - started)) s"

"$PYTHON" "$HERE/console_browser.py" --write "$W" --read "$R" --token "$QUERY_TOKEN" \
  --command-token "$COMMAND_TOKEN" \
  --hostile "$HOSTILE" --artifacts "$ARTIFACTS"
