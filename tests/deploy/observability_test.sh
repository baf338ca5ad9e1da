#!/usr/bin/env bash
# The observability pack against a live local stack (deploy/local/stack.sh with the built
# binaries, free ports, a temp data folder, auth on): `up --observability` starts Debian's
# prometheus; a few commands and queries make the labelled series exist; every metric the
# dashboard and the alert rules query is in the scrapes of the write-side and both read-side
# replicas (tests/deploy/metric_names.py); prometheus reports all three targets up and loaded the
# rules, orders_ready is 1 everywhere, it accepts every dashboard query; status shows it; down
# stops it.
#   observability_test.sh WRITE_SIDE_BIN READ_SIDE_BIN
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
OBS="$ROOT/deploy/observability"
command -v prometheus >/dev/null || { echo "SKIP: prometheus not installed"; exit 77; }

before_teardown() { rm -rf "${scrapes:-}"; }
# shellcheck source=../support/stack_env.sh
source "$ROOT/tests/support/stack_env.sh" obs-test "${1:-}" "${2:-}"
scrapes=$(mktemp -d)
export PROMETHEUS_PORT
PROMETHEUS_PORT=$(pick_port)
call() {  # expected-status METHOD URL TOKEN [BODY]
  local args=(-s -o /dev/null -w '%{http_code}' --max-time 15 -X "$2" -H "Authorization: Bearer $4")
  [[ -n "${5:-}" ]] && args+=(-H 'Content-Type: application/json' --data "$5")
  local got
  got=$(curl "${args[@]}" "$3") || got=000
  [[ "$got" == "$1" ]] || fail "$2 $3 answered $got, expected $1"
}

run up --observability
[[ $rc == 0 ]] || { fail "up --observability exits $rc"; exit 1; }
pass "up --observability exits 0"
grep -q "prometheus   http://127.0.0.1:$PROMETHEUS_PORT" "$out" && pass "up prints the prometheus URL" ||
  fail "up does not print prometheus on $PROMETHEUS_PORT"
READ_PORT2=$(grep 'read-side 2' "$out" | sed -E 's/.*127\.0\.0\.1:([0-9]+).*/\1/')

# Commands of several outcomes, a min_version query on each replica, a 404.
w="http://127.0.0.1:$WRITE_PORT" r1="http://127.0.0.1:$READ_PORT" r2="http://127.0.0.1:$READ_PORT2"
call 201 POST "$w/orders" "$COMMAND_TOKEN" '{"order_id":"obs-1","customer_id":"c-1"}'
call 200 POST "$w/orders/obs-1/items" "$COMMAND_TOKEN" '{"product_id":"p","quantity":1,"price":"2.50"}'
call 200 POST "$w/orders/obs-1/confirm" "$COMMAND_TOKEN"
call 409 POST "$w/orders/obs-1/confirm" "$COMMAND_TOKEN"
call 400 POST "$w/orders" "$COMMAND_TOKEN" '{"order_id":""}'
call 200 GET "$r1/orders/obs-1?min_version=3&wait_ms=5000" "$QUERY_TOKEN"
call 200 GET "$r2/orders/obs-1?min_version=3&wait_ms=5000" "$QUERY_TOKEN"
call 404 GET "$r1/orders/no-such-order" "$QUERY_TOKEN"

while read -r name url; do
  code=$(curl -s -o "$scrapes/$name.txt" -w '%{http_code}' --max-time 10 \
    -H "Authorization: Bearer $ADMIN_TOKEN" "$url/metrics") || code=000
  if [[ $code == 200 ]]; then pass "scraped $name"; else fail "GET $url/metrics answered $code"; fi
done <<<"write-side $w
read-side-1 $r1
read-side-2 $r2"
if python3 "$ROOT/tests/deploy/metric_names.py" "$OBS/grafana/dashboards/orders.json" \
  "$OBS/alerts.yml" "$scrapes"/*.txt; then
  pass "every metric of the dashboard and the rules is in the scrapes"
else
  fail "metrics of the dashboard or the rules are missing from the scrapes (above)"
fi

# Prometheus: all three targets up (within a deadline: the first scrape is up to 5 s away).
prom="http://127.0.0.1:$PROMETHEUS_PORT"
targets_up() {
  curl -s --max-time 3 "$prom/api/v1/targets?state=active" | python3 -c '
import json, sys
t = json.load(sys.stdin)["data"]["activeTargets"]
print(" ".join("%s/%s=%s" % (x["labels"]["job"], x["labels"]["instance"], x["health"]) for x in t))
sys.exit(0 if len(t) == 3 and all(x["health"] == "up" for x in t) else 1)'
}
deadline=$((SECONDS + 30))
until targets=$(targets_up); do
  ((SECONDS < deadline)) || break
  sleep 0.5
done
if targets_up >/dev/null; then pass "prometheus: all 3 targets up ($targets)"; else fail "prometheus targets: $targets"; fi
query() { curl -s --max-time 3 --data-urlencode "query=$1" "$prom/api/v1/query"; }
n=$(query 'count(orders_ready == 1)' | python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else 0)')
[[ $n == 3 ]] && pass "prometheus sees orders_ready 1 on the 3 services" || fail "orders_ready == 1 on $n services"
rules=$(curl -s --max-time 3 "$prom/api/v1/rules" | python3 -c 'import json,sys; print(sum(len(g["rules"]) for g in json.load(sys.stdin)["data"]["groups"]))')
expected=$(grep -c -- '- alert:' "$OBS/alerts.yml")
[[ $rules == "$expected" ]] && pass "prometheus loaded the $expected alert rules" || fail "prometheus has $rules rules, expected $expected"

# Every dashboard query is valid PromQL for this Prometheus (Grafana's $__rate_interval as 1m).
bad=$(python3 - "$OBS/grafana/dashboards/orders.json" "$prom" <<'PY'
import json, sys, urllib.parse, urllib.request
for p in json.load(open(sys.argv[1]))["panels"]:
    for t in p["targets"]:
        q = t["expr"].replace("$__rate_interval", "1m")
        try:
            data = urllib.parse.urlencode({"query": q}).encode()
            status = json.load(urllib.request.urlopen(sys.argv[2] + "/api/v1/query", data, timeout=5))["status"]
        except Exception as e:  # 400 with the parse error
            status = str(e)
        if status != "success":
            print(f"{p['title']}: {q}: {status}")
PY
)
[[ -z "$bad" ]] && pass "prometheus accepts every dashboard query" || fail "dashboard queries refused: $bad"

run status
grep -q "prometheus   running  $PROMETHEUS_PORT .*targets up=3" "$out" && pass "status shows prometheus with 3 targets up" ||
  fail "status does not show prometheus running with 3 targets up"

prom_pid=$(<"$STACK_DATA/run/prometheus.pid")
run down
[[ $rc == 0 ]] && pass "down exits 0" || fail "down exits $rc"
deadline=$((SECONDS + 20))
while { [[ -d /proc/$prom_pid ]] || port_busy "$PROMETHEUS_PORT"; } && ((SECONDS < deadline)); do sleep 0.1; done
if [[ ! -d /proc/$prom_pid ]] && ! port_busy "$PROMETHEUS_PORT"; then
  pass "down stops prometheus and frees its port"
else
  fail "prometheus (pid $prom_pid, port $PROMETHEUS_PORT) still running after down"
fi
[[ ! -e "$STACK_DATA/prometheus" ]] && pass "down deletes prometheus' throwaway data" || fail "prometheus data left"

((failures == 0)) && echo "observability_test: all checks passed"
((failures == 0))
