#!/usr/bin/env bash
# The order service on this machine, no Docker: PostgreSQL 15 and nats-server (JetStream) from
# Debian packages, the write-side and two read-side replicas, all on 127.0.0.1, data under
# deploy/local/.data.
#
#   deploy/local/stack.sh up                       install missing packages, build (Release), start all
#   deploy/local/stack.sh up --observability       also Debian's prometheus scraping the stack (alert rules)
#   deploy/local/stack.sh up --ha                  the HA topology instead (deploy/local/ha.sh: Patroni,
#                                                  3 nats-servers, 2+2 replicas behind haproxy); then
#                                                  status [--json], logs, down go to ha.sh
#   deploy/local/stack.sh demo                     up if needed, run the order scenario, print the read model
#   deploy/local/stack.sh status                   what runs, where, and whether it is ready
#   deploy/local/stack.sh logs [NAME] [-f]         NAME: postgres nats write-side read-side-1 read-side-2
#   deploy/local/stack.sh rebuild-projection NAME  NAME: orders | customers | --all  (extra args passed on)
#   deploy/local/stack.sh check [ARGS]             write-side check and read-side check: exit 1 when any fails
#   deploy/local/stack.sh events ORDER_ID [ARGS]   the order's events (write-side events; ARGS passed on)
#   deploy/local/stack.sh archive --older-than D [ARGS]  write-side archive (old Delivered orders)
#   deploy/local/stack.sh archive-drop --year YYYY [ARGS]  write-side archive-drop (a past year)
#   deploy/local/stack.sh down [--purge]           stop what `up` started; --purge also deletes the data
#
# Settings (environment, read by `up`; later commands reuse what `up` chose):
#   WRITE_PORT=8080  READ_PORT=8081 (2nd replica: next free port)  PG_PORT=55432  NATS_PORT=4222
#   COMMAND_TOKEN= QUERY_TOKEN= ADMIN_TOKEN= (empty: auth off)  LOG_LEVEL=info
#   STACK_DATA=deploy/local/.data  STACK_BUILD_DIR=build-release  PROMETHEUS_PORT=9090 (next free)
#   WRITE_SIDE_BIN / READ_SIDE_BIN: use these binaries instead of building
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DATA="${STACK_DATA:-$ROOT/deploy/local/.data}"
BUILD="${STACK_BUILD_DIR:-$ROOT/build-release}"
RUN="$DATA/run"
LOGS="$DATA/logs"
ENV_FILE="$DATA/stack.env"

say() { printf '%s\n' "$*"; }
die() {
  printf 'stack.sh: %s\n' "$*" >&2
  exit 1
}

# shellcheck source=SCRIPTDIR/observability.sh
source "$ROOT/deploy/local/observability.sh"

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }

pg_bindir() {
  local d
  for d in /usr/lib/postgresql/15/bin /usr/lib/postgresql/16/bin /usr/lib/postgresql/17/bin; do
    [[ -x "$d/pg_ctl" ]] && { echo "$d"; return; }
  done
  if command -v pg_config >/dev/null && [[ -x "$(pg_config --bindir)/pg_ctl" ]]; then
    pg_config --bindir
    return
  fi
  die "PostgreSQL server binaries not found (scripts/install-deps.sh --stack installs them)"
}

as_root() { [[ $(id -u) -eq 0 ]]; }
# Postgres refuses to run as root: run its tools as the postgres system user then.
as_pg() {
  if as_root; then runuser -u postgres -- "$@"; else "$@"; fi
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# pid alive and still the program we started (guards against a recycled pid).
alive() {
  local pidfile="$RUN/$1.pid" pid
  [[ -f "$pidfile" ]] || return 1
  pid=$(<"$pidfile")
  [[ -n "$pid" && -r "/proc/$pid/cmdline" ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$2"
}

pg_alive() {
  [[ -f "$RUN/postgres.started" && -f "$PGDATA_DIR/postmaster.pid" ]] || return 1
  local pid
  pid=$(head -1 "$PGDATA_DIR/postmaster.pid")
  [[ -n "$pid" && -d "/proc/$pid" ]]
}

http_status() {  # URL [token]
  local auth=()
  [[ -n "${2:-}" ]] && auth=(-H "Authorization: Bearer $2")
  curl -s -o /dev/null -w '%{http_code}' --max-time 3 "${auth[@]}" "$1" 2>/dev/null || true
}

# The last log lines that are not per-request access lines.
log_tail() { grep -v '"msg":"request"' "$1" | tail -n 30 || true; }

wait_ready() {  # name url logfile
  local name=$1 url=$2 log=$3 deadline=$((SECONDS + ${STACK_READY_TIMEOUT:-60}))
  while ((SECONDS < deadline)); do
    [[ "$(http_status "$url")" == 200 ]] && return 0
    if [[ -f "$RUN/$name.pid" ]] && ! [[ -d "/proc/$(<"$RUN/$name.pid")" ]]; then
      printf '%s exited during start-up; last log lines (%s):\n' "$name" "$log" >&2
      log_tail "$log" >&2
      exit 1
    fi
    sleep 0.2
  done
  printf '%s: no 200 from %s within %ss; last log lines (%s):\n' "$name" "$url" \
    "${STACK_READY_TIMEOUT:-60}" "$log" >&2
  log_tail "$log" >&2
  exit 1
}

# --- settings: chosen by `up`, saved in stack.env, reused by the other commands -------------------
load_settings() {
  if [[ -f "$ENV_FILE" ]]; then
    # shellcheck disable=SC1090
    source "$ENV_FILE"
  fi
  WRITE_PORT="${S_WRITE_PORT:-${WRITE_PORT:-8080}}"
  READ_PORT="${S_READ_PORT:-${READ_PORT:-8081}}"
  READ_PORT2="${S_READ_PORT2:-}"
  PG_PORT="${S_PG_PORT:-${PG_PORT:-55432}}"
  NATS_PORT="${S_NATS_PORT:-${NATS_PORT:-4222}}"
  COMMAND_TOKEN="${S_COMMAND_TOKEN-${COMMAND_TOKEN:-}}"
  QUERY_TOKEN="${S_QUERY_TOKEN-${QUERY_TOKEN:-}}"
  ADMIN_TOKEN="${S_ADMIN_TOKEN-${ADMIN_TOKEN:-}}"
  LOG_LEVEL="${S_LOG_LEVEL:-${LOG_LEVEL:-info}}"
  WRITE_BIN="${S_WRITE_BIN:-${WRITE_SIDE_BIN:-$BUILD/write-side/write-side}}"
  READ_BIN="${S_READ_BIN:-${READ_SIDE_BIN:-$BUILD/read-side/read-side}}"
  PGDATA_DIR="${S_PGDATA_DIR:-$DATA/pg/data}"
}

save_settings() {
  mkdir -p "$DATA"
  umask 077
  cat >"$ENV_FILE" <<EOF
# written by stack.sh up; removed by down --purge
S_WRITE_PORT=$WRITE_PORT
S_READ_PORT=$READ_PORT
S_READ_PORT2=$READ_PORT2
S_PG_PORT=$PG_PORT
S_NATS_PORT=$NATS_PORT
S_COMMAND_TOKEN=$(printf '%q' "$COMMAND_TOKEN")
S_QUERY_TOKEN=$(printf '%q' "$QUERY_TOKEN")
S_ADMIN_TOKEN=$(printf '%q' "$ADMIN_TOKEN")
S_LOG_LEVEL=$LOG_LEVEL
S_WRITE_BIN=$(printf '%q' "$WRITE_BIN")
S_READ_BIN=$(printf '%q' "$READ_BIN")
S_PGDATA_DIR=$(printf '%q' "$PGDATA_DIR")
EOF
  umask 022
}

# Forget saved settings when nothing of the stack runs, so `up` honours new env values.
reset_settings_if_stopped() {
  load_settings
  if ! any_running; then
    rm -f "$ENV_FILE"
    unset S_WRITE_PORT S_READ_PORT S_READ_PORT2 S_PG_PORT S_NATS_PORT S_COMMAND_TOKEN \
      S_QUERY_TOKEN S_ADMIN_TOKEN S_LOG_LEVEL S_WRITE_BIN S_READ_BIN S_PGDATA_DIR
    load_settings
  fi
}

any_running() {
  pg_alive || alive nats nats-server || alive write-side write-side || alive read-side-1 read-side ||
    alive read-side-2 read-side
}

all_running() {
  pg_alive && alive nats nats-server && alive write-side write-side && alive read-side-1 read-side &&
    alive read-side-2 read-side
}

database_url() { echo "postgresql://postgres@127.0.0.1:$PG_PORT/orders"; }

service_env() {
  printf '%s\n' "DATABASE_URL=$(database_url)" "NATS_URL=nats://127.0.0.1:$NATS_PORT" \
    "NATS_STREAM=ORDERS" "LOG_LEVEL=$LOG_LEVEL" "QUERY_TOKEN=$QUERY_TOKEN" "ADMIN_TOKEN=$ADMIN_TOKEN"
}

# --- up --------------------------------------------------------------------------------------------
custom_binaries() {
  [[ "$WRITE_BIN" != "$BUILD/write-side/write-side" || "$READ_BIN" != "$BUILD/read-side/read-side" ]]
}

build_binaries() {
  if custom_binaries; then
    [[ -x "$WRITE_BIN" ]] || die "write-side binary $WRITE_BIN is not an executable"
    [[ -x "$READ_BIN" ]] || die "read-side binary $READ_BIN is not an executable"
    return
  fi
  say "==> building write-side and read-side (Release, $BUILD)"
  # -O2 (not CMake's -O3): GCC 12 reports false -Wrestrict errors at -O3.
  cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release "-DCMAKE_CXX_FLAGS_RELEASE=-O2 -DNDEBUG" \
    -DBUILD_TESTS=OFF >/dev/null
  cmake --build "$BUILD" --target write-side read-side -j "${BUILD_JOBS:-2}"
}

check_port() {  # port setting-name
  if port_busy "$1"; then
    die "port $1 ($2) is already in use by another program; free it or choose another, e.g. $2=$(($1 + 100)) $0 up"
  fi
}

next_free_port() {
  local p=$1
  while port_busy "$p" || [[ $p == "$WRITE_PORT" || $p == "$READ_PORT" || $p == "$PG_PORT" ||
    $p == "$NATS_PORT" ]]; do
    p=$((p + 1))
  done
  echo "$p"
}

start_postgres() {
  local bindir
  bindir=$(pg_bindir)
  if pg_alive; then
    say "postgres    already running (port $PG_PORT)"
    return
  fi
  check_port "$PG_PORT" PG_PORT
  if [[ ! -f "$PGDATA_DIR/PG_VERSION" ]]; then
    say "==> creating the PostgreSQL cluster in $PGDATA_DIR"
    mkdir -p "$(dirname "$PGDATA_DIR")"
    if as_root; then
      chown postgres: "$(dirname "$PGDATA_DIR")"
      if ! runuser -u postgres -- test -w "$(dirname "$PGDATA_DIR")"; then
        die "the postgres user cannot reach $(dirname "$PGDATA_DIR") (a parent folder is closed to it); set STACK_DATA to a folder under /var/tmp or /tmp"
      fi
    fi
    as_pg "$bindir/initdb" -D "$PGDATA_DIR" -U postgres --auth=trust -E UTF8 --locale=C \
      >"$LOGS/initdb.log" 2>&1 || { tail -n 20 "$LOGS/initdb.log" >&2; die "initdb failed"; }
    cat >>"$PGDATA_DIR/postgresql.conf" <<'EOF'

# orders local stack
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
fsync = on
max_connections = 200
shared_buffers = 256MB
EOF
  fi
  if as_root; then touch "$LOGS/postgres.log" && chown postgres: "$LOGS/postgres.log"; fi
  say "==> starting postgres on 127.0.0.1:$PG_PORT"
  touch "$RUN/postgres.started"
  if ! as_pg "$bindir/pg_ctl" -D "$PGDATA_DIR" -l "$LOGS/postgres.log" -o "-p $PG_PORT" -w -t 60 \
    start >/dev/null; then
    rm -f "$RUN/postgres.started"
    tail -n 20 "$LOGS/postgres.log" >&2 || true
    die "postgres did not start (log: $LOGS/postgres.log)"
  fi
  local exists
  exists=$(psql_cmd -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'orders'")
  if [[ "$exists" != 1 ]]; then
    psql_cmd -d postgres -qc "CREATE DATABASE orders" >/dev/null
  fi
}

psql_cmd() { "$(pg_bindir)/psql" -X -h 127.0.0.1 -p "$PG_PORT" -U postgres "$@"; }

start_nats() {
  if alive nats nats-server; then
    say "nats        already running (port $NATS_PORT)"
    return
  fi
  check_port "$NATS_PORT" NATS_PORT
  mkdir -p "$DATA/nats"
  say "==> starting nats-server (JetStream) on 127.0.0.1:$NATS_PORT"
  setsid nats-server -js -sd "$DATA/nats" -a 127.0.0.1 -p "$NATS_PORT" \
    >>"$LOGS/nats.log" 2>&1 </dev/null &
  echo $! >"$RUN/nats.pid"
  local deadline=$((SECONDS + 20))
  until port_busy "$NATS_PORT"; do
    # The process, not its command line: right after the fork the child may not have exec'd
    # nats-server yet (seen in CI under load, reported as "exited").
    [[ -d "/proc/$(<"$RUN/nats.pid")" ]] || { tail -n 20 "$LOGS/nats.log" >&2; die "nats-server exited"; }
    ((SECONDS < deadline)) || die "nats-server not accepting on $NATS_PORT within 20s"
    sleep 0.1
  done
}

start_service() {  # name binary port extra-env...
  local name=$1 bin=$2 port=$3
  shift 3
  if alive "$name" "$(basename "$bin")"; then
    say "$(printf '%-11s' "$name") already running (port $port)"
    return
  fi
  check_port "$port" "$name port"
  say "==> starting $name on 127.0.0.1:$port"
  local envs=()
  mapfile -t envs < <(service_env)
  env "${envs[@]}" "$@" setsid "$bin" serve >>"$LOGS/$name.log" 2>&1 </dev/null &
  echo $! >"$RUN/$name.pid"
  wait_ready "$name" "http://127.0.0.1:$port/readyz" "$LOGS/$name.log"
}

cmd_up() {
  local observability=0 a
  for a in "$@"; do
    case $a in
      --observability) observability=1 ;;
      *) die "usage: $0 up [--observability]" ;;
    esac
  done
  reset_settings_if_stopped
  if ! custom_binaries; then
    "$ROOT/scripts/install-deps.sh" --stack
  fi
  mkdir -p "$RUN" "$LOGS"
  build_binaries
  # Ports chosen now are kept for the life of the stack.
  if [[ -z "$READ_PORT2" ]]; then READ_PORT2=$(next_free_port $((READ_PORT + 1))); fi
  # Every port of a part that is not running yet must be free before anything starts.
  pg_alive || check_port "$PG_PORT" PG_PORT
  alive nats nats-server || check_port "$NATS_PORT" NATS_PORT
  alive write-side write-side || check_port "$WRITE_PORT" WRITE_PORT
  alive read-side-1 read-side || check_port "$READ_PORT" READ_PORT
  alive read-side-2 read-side || check_port "$READ_PORT2" "READ_PORT (second replica)"
  save_settings
  start_postgres
  start_nats
  local envs=()
  mapfile -t envs < <(service_env)
  say "==> applying migrations"
  env "${envs[@]}" "$WRITE_BIN" migrate >>"$LOGS/migrate.log" 2>&1 ||
    { tail -n 20 "$LOGS/migrate.log" >&2; die "write-side migrate failed (log: $LOGS/migrate.log)"; }
  env "${envs[@]}" "$READ_BIN" migrate >>"$LOGS/migrate.log" 2>&1 ||
    { tail -n 20 "$LOGS/migrate.log" >&2; die "read-side migrate failed (log: $LOGS/migrate.log)"; }
  # The web console (/ui) on each service reads the other one: its origin, and CORS for it.
  local w="http://127.0.0.1:$WRITE_PORT" r="http://127.0.0.1:$READ_PORT"
  start_service write-side "$WRITE_BIN" "$WRITE_PORT" WRITE_ADDRESS=127.0.0.1 \
    "WRITE_PORT=$WRITE_PORT" "COMMAND_TOKEN=$COMMAND_TOKEN" "CONSOLE_READ_URL=$r" \
    "CORS_ORIGINS=$r,http://127.0.0.1:$READ_PORT2"
  start_service read-side-1 "$READ_BIN" "$READ_PORT" READ_ADDRESS=127.0.0.1 \
    "READ_PORT=$READ_PORT" REPLICA_ID=local-1 "CONSOLE_WRITE_URL=$w" "CORS_ORIGINS=$w"
  start_service read-side-2 "$READ_BIN" "$READ_PORT2" READ_ADDRESS=127.0.0.1 \
    "READ_PORT=$READ_PORT2" REPLICA_ID=local-2 "CONSOLE_WRITE_URL=$w" "CORS_ORIGINS=$w"
  if ((observability)); then obs_up; fi
  say ""
  say "stack is up (data: $DATA)"
  print_urls
}

print_urls() {
  say "  console      http://127.0.0.1:$WRITE_PORT/ui   (the web console; also on each read-side)"
  say "  write-side   http://127.0.0.1:$WRITE_PORT   (POST /orders, /metrics)"
  say "  read-side 1  http://127.0.0.1:$READ_PORT   (GET /orders/{id}, /projections)"
  say "  read-side 2  http://127.0.0.1:$READ_PORT2"
  say "  postgres     $(database_url)"
  say "  nats         nats://127.0.0.1:$NATS_PORT  (stream ORDERS)"
  obs_print_url
  [[ -n "$COMMAND_TOKEN$QUERY_TOKEN$ADMIN_TOKEN" ]] && say "  auth: bearer tokens on (from COMMAND_TOKEN / QUERY_TOKEN / ADMIN_TOKEN)"
  return 0
}

# --- demo ------------------------------------------------------------------------------------------
api() {  # METHOD URL [BODY] [TOKEN] -> sets API_STATUS and API_BODY
  local method=$1 url=$2 body=${3:-} token=${4:-} out
  local args=(-s -X "$method" --max-time 15 -w '\n%{http_code}')
  [[ -n "$body" ]] && args+=(-H 'Content-Type: application/json' --data "$body")
  [[ -n "$token" ]] && args+=(-H "Authorization: Bearer $token")
  out=$(curl "${args[@]}" "$url") || out=$'\n000'
  API_STATUS=${out##*$'\n'}
  API_BODY=${out%$'\n'*}
}

step() {  # expected-status METHOD PATH [BODY]
  local expect=$1 method=$2 path=$3 body=${4:-}
  api "$method" "http://127.0.0.1:$WRITE_PORT$path" "$body" "$COMMAND_TOKEN"
  printf '  %-6s %-40s %s -> %s\n' "$method" "$path" "$body" "$API_STATUS"
  if [[ "$API_STATUS" != "$expect" ]]; then
    printf 'expected %s, got %s: %s\n' "$expect" "$API_STATUS" "$API_BODY" >&2
    exit 1
  fi
}

cmd_demo() {
  load_settings
  if ! all_running; then
    cmd_up
    load_settings
  fi
  local base="http://127.0.0.1:$WRITE_PORT" id=order-1 n=1
  # The scenario's order is order-1; on a stack that already has it (an earlier demo), the next
  # free order-N is used so the scenario runs from the start again.
  while :; do
    api GET "$base/orders/$id/state" "" "$QUERY_TOKEN"
    [[ "$API_STATUS" == 404 ]] && break
    [[ "$API_STATUS" == 200 ]] || die "write-side answered $API_STATUS to GET /orders/$id/state: $API_BODY"
    n=$((n + 1))
    id="order-$n"
  done
  say ""
  if [[ "$id" != order-1 ]]; then
    say "order-1 already exists on this stack (an earlier demo); running the scenario as $id."
  fi
  say "==> the order scenario, through the write-side ($base)"
  step 201 POST /orders "{\"order_id\":\"$id\",\"customer_id\":\"customer-1\"}"
  step 200 POST "/orders/$id/items" '{"product_id":"product-1","quantity":2,"price":"10.00"}'
  step 200 POST "/orders/$id/items" '{"product_id":"product-2","quantity":1,"price":"15.00"}'
  step 200 POST "/orders/$id/confirm"
  step 200 POST "/orders/$id/ship" '{"tracking_number":"TRK123456"}'
  local url="http://127.0.0.1:$READ_PORT/orders/$id?min_version=5&wait_ms=5000"
  say ""
  say "==> the read model (GET $url)"
  local deadline=$((SECONDS + 30))
  while :; do
    api GET "$url" "" "$QUERY_TOKEN"
    [[ "$API_STATUS" == 200 ]] && break
    if ((SECONDS >= deadline)); then
      local last="$API_STATUS: $API_BODY"
      api GET "http://127.0.0.1:$READ_PORT/projections" "" "$QUERY_TOKEN"
      die "read-side did not reach version 5 of $id (last answer $last); projections: $API_BODY; see: $0 logs read-side-1"
    fi
    [[ "$API_STATUS" == 503 ]] || sleep 0.2  # 503: the long poll itself waited
  done
  if command -v jq >/dev/null; then
    jq . <<<"$API_BODY"
    say ""
    jq -r '"order \(.order_id) for \(.customer_id): status \(.status), total \(.total_amount), \(.items | length) items, tracking \(.tracking_number)"' <<<"$API_BODY"
  else
    say "$API_BODY"
  fi
}

# --- status / logs / rebuild / down ----------------------------------------------------------------
cmd_status() {
  load_settings
  if [[ ! -f "$ENV_FILE" ]]; then
    say "no stack here (data folder $DATA has no stack.env); start one with: $0 up"
    return 0
  fi
  local line
  row() {  # name running port url
    printf '  %-12s %-8s %-6s %s\n' "$1" "$2" "$3" "$4"
  }
  row NAME STATE PORT "ADDRESS / READY"
  if pg_alive; then line=running; else line=stopped; fi
  row postgres "$line" "$PG_PORT" "$(database_url)"
  if alive nats nats-server; then line=running; else line=stopped; fi
  row nats "$line" "$NATS_PORT" "nats://127.0.0.1:$NATS_PORT"
  local name port bin
  for name in write-side read-side-1 read-side-2; do
    case $name in
      write-side) port=$WRITE_PORT bin=write-side ;;
      read-side-1) port=$READ_PORT bin=read-side ;;
      read-side-2) port=$READ_PORT2 bin=read-side ;;
    esac
    if alive "$name" "$bin"; then
      line="running"
      row "$name" "$line" "$port" "http://127.0.0.1:$port  readyz=$(http_status "http://127.0.0.1:$port/readyz") pid=$(<"$RUN/$name.pid")"
    else
      row "$name" stopped "$port" "http://127.0.0.1:$port"
    fi
  done
  obs_status_row
  if alive read-side-1 read-side; then
    api GET "http://127.0.0.1:$READ_PORT/projections" "" "$QUERY_TOKEN"
    if [[ "$API_STATUS" == 200 ]]; then
      say "  projections: $API_BODY"
    fi
  fi
  say "  data: $DATA   logs: $LOGS"
}

cmd_logs() {
  load_settings
  local follow=() names=()
  for a in "$@"; do
    case $a in
      -f | --follow) follow=(-f) ;;
      *) names+=("$a") ;;
    esac
  done
  ((${#names[@]} > 0)) || names=(postgres nats write-side read-side-1 read-side-2)
  local files=() n
  for n in "${names[@]}"; do
    [[ -f "$LOGS/$n.log" ]] || die "no log for '$n' in $LOGS"
    files+=("$LOGS/$n.log")
  done
  tail -n 40 "${follow[@]}" "${files[@]}"
}

cmd_rebuild() {
  load_settings
  (($# > 0)) || die "usage: $0 rebuild-projection NAME|--all [--dry-run]"
  [[ -x "$READ_BIN" ]] || die "no read-side binary at $READ_BIN (run $0 up first)"
  pg_alive || die "postgres is not running (run $0 up first)"
  local envs=()
  mapfile -t envs < <(service_env)
  env "${envs[@]}" "$READ_BIN" rebuild-projection "$@"
}

# The binaries' own checks (docs/operations.md#exit-codes): both run, the worst exit code wins
# (1 when a check failed, 64 bad arguments).
cmd_check() {
  load_settings
  [[ -x "$WRITE_BIN" && -x "$READ_BIN" ]] || die "no binaries at $WRITE_BIN, $READ_BIN (run $0 up first)"
  local envs=() rc=0 r
  mapfile -t envs < <(service_env)
  say "== write-side check"
  env "${envs[@]}" "$WRITE_BIN" check "$@" && r=0 || r=$?
  ((r > rc)) && rc=$r
  say "== read-side check"
  env "${envs[@]}" "$READ_BIN" check "$@" && r=0 || r=$?
  ((r > rc)) && rc=$r
  return "$rc"
}

cmd_events() {
  load_settings
  (($# > 0)) || die "usage: $0 events ORDER_ID [--from-version N] [--json]"
  [[ -x "$WRITE_BIN" ]] || die "no write-side binary at $WRITE_BIN (run $0 up first)"
  local envs=()
  mapfile -t envs < <(service_env)
  exec env "${envs[@]}" "$WRITE_BIN" events "$@"
}

cmd_archive() {  # archive | archive-drop, then its arguments
  load_settings
  [[ -x "$WRITE_BIN" ]] || die "no write-side binary at $WRITE_BIN (run $0 up first)"
  local envs=()
  mapfile -t envs < <(service_env)
  exec env "${envs[@]}" "$WRITE_BIN" "$@"
}

stop_pid() {  # name match
  local name=$1 pid
  alive "$name" "$2" || { rm -f "$RUN/$name.pid"; return 0; }
  pid=$(<"$RUN/$name.pid")
  say "stopping $name (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + 20))
  while [[ -d "/proc/$pid" ]] && ((SECONDS < deadline)); do sleep 0.1; done
  if [[ -d "/proc/$pid" ]]; then
    say "  $name did not stop within 20s: SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$RUN/$name.pid"
}

cmd_down() {
  local purge=0
  case "${1:-}" in
    "") ;;
    --purge) purge=1 ;;
    *) die "usage: $0 down [--purge]" ;;
  esac
  load_settings
  obs_down
  stop_pid read-side-2 read-side
  stop_pid read-side-1 read-side
  stop_pid write-side write-side
  stop_pid nats nats-server
  if pg_alive; then
    say "stopping postgres"
    as_pg "$(pg_bindir)/pg_ctl" -D "$PGDATA_DIR" -m fast -w -t 60 stop >/dev/null
  fi
  rm -f "$RUN/postgres.started"
  if ((purge)); then
    say "deleting $DATA"
    rm -rf "$DATA"
  else
    say "stopped; data kept in $DATA (delete with: $0 down --purge)"
  fi
}

# The HA topology has its own script; once it runs here, status / logs / down are its.
if [[ "${1:-}" == up && "${2:-}" == --ha ]] ||
  [[ -f "$DATA/ha.env" && "${1:-}" =~ ^(status|logs|down)$ ]]; then
  [[ "${1:-}" == up ]] && set -- up
  exec "$ROOT/deploy/local/ha.sh" "$@"
fi

case "${1:-}" in
  up) shift; cmd_up "$@" ;;
  demo) cmd_demo ;;
  status) cmd_status ;;
  logs) shift; cmd_logs "$@" ;;
  rebuild-projection) shift; cmd_rebuild "$@" ;;
  check) shift; cmd_check "$@" ;;
  events) shift; cmd_events "$@" ;;
  archive | archive-drop) cmd_archive "$@" ;;
  down) shift; cmd_down "$@" ;;
  -h | --help | help) usage ;;
  *)
    usage >&2
    exit 2
    ;;
esac
