#!/usr/bin/env bash
# The order service as a high-availability topology on this machine (stack.sh up --ha), from
# Debian packages, all on 127.0.0.1, data under STACK_DATA (default deploy/local/.data):
#   etcd (one node: Patroni's store)      pg-1 pg-2 pg-3 (Patroni 3 + PostgreSQL, synchronous mode)
#   nats-1 nats-2 nats-3 (one JetStream cluster, stream ORDERS at 3 replicas)
#   write-1 write-2 (one relay leader between them)   read-1 read-2
#   haproxy: WRITE_PORT -> write-1/write-2, READ_PORT -> read-1/read-2 (health: GET /readyz)
# The services reach Postgres by a libpq multi-host URL (target_session_attrs=read-write) and NATS
# by the list of the three servers, so they follow a failover by themselves.
#
#   deploy/local/ha.sh up              install missing packages, build, start everything
#   deploy/local/ha.sh status [--json] each process: name, pid, port, role, ready
#   deploy/local/ha.sh kill NAME       SIGKILL one process (pg-N: Patroni and its PostgreSQL)
#   deploy/local/ha.sh start NAME      start one process again (after kill or stop)
#   deploy/local/ha.sh stop NAME       stop one process gracefully (pg-N: Patroni stops PostgreSQL)
#   deploy/local/ha.sh restart-all     rolling restart: every process, one at a time
#   deploy/local/ha.sh url write|read|db|nats   the endpoints clients use
#   deploy/local/ha.sh wait synchronous|stream  until Postgres has a synchronous standby again /
#                                               the stream's 3 replicas are current
#   deploy/local/ha.sh logs [NAME] [-f]
#   deploy/local/ha.sh down [--purge]
#
# Settings (read by `up`, kept in STACK_DATA/ha.env): WRITE_PORT=8080 READ_PORT=8081
#   HA_PORT_BASE=26100 (below the kernel's ephemeral ports, 32768+; every other port:
#   pg +0..2, patroni REST +10..12, etcd +20/21, nats +30..32, nats routes +40..42,
#   nats monitoring +50..52, write-sides +60/61, read-sides +70/71)
#   LOG_LEVEL=info  COMMAND_TOKEN QUERY_TOKEN ADMIN_TOKEN
#   STACK_BUILD_DIR=build-release  WRITE_SIDE_BIN / READ_SIDE_BIN: use these binaries
#   PATRONI_TTL=8 (s: a dead primary's leader key expires after this; failover follows)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DATA="${STACK_DATA:-$ROOT/deploy/local/.data}"
BUILD="${STACK_BUILD_DIR:-$ROOT/build-release}"
HA="$DATA/ha"
RUN="$HA/run"
LOGS="$HA/logs"
ENV_FILE="$DATA/ha.env"
PY=/usr/bin/python3
NODES=(etcd pg-1 pg-2 pg-3 nats-1 nats-2 nats-3 write-1 write-2 read-1 read-2 haproxy)

say() { printf '%s\n' "$*"; }
die() {
  printf 'ha.sh: %s\n' "$*" >&2
  exit 1
}
usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

load_settings() {
  # shellcheck disable=SC1090
  [[ -f "$ENV_FILE" ]] && source "$ENV_FILE"
  WRITE_PORT="${S_WRITE_PORT:-${WRITE_PORT:-8080}}"
  READ_PORT="${S_READ_PORT:-${READ_PORT:-8081}}"
  BASE="${S_BASE:-${HA_PORT_BASE:-26100}}"
  LOG_LEVEL="${S_LOG_LEVEL:-${LOG_LEVEL:-info}}"
  COMMAND_TOKEN="${S_COMMAND_TOKEN-${COMMAND_TOKEN:-}}"
  QUERY_TOKEN="${S_QUERY_TOKEN-${QUERY_TOKEN:-}}"
  ADMIN_TOKEN="${S_ADMIN_TOKEN-${ADMIN_TOKEN:-}}"
  WRITE_BIN="${S_WRITE_BIN:-${WRITE_SIDE_BIN:-$BUILD/write-side/write-side}}"
  READ_BIN="${S_READ_BIN:-${READ_SIDE_BIN:-$BUILD/read-side/read-side}}"
  TTL="${S_TTL:-${PATRONI_TTL:-8}}"
}

save_settings() {
  mkdir -p "$DATA"
  umask 077
  {
    echo "# written by ha.sh up; removed by ha.sh down --purge"
    local v
    for v in WRITE_PORT READ_PORT BASE LOG_LEVEL COMMAND_TOKEN QUERY_TOKEN ADMIN_TOKEN WRITE_BIN \
      READ_BIN TTL; do
      printf 'S_%s=%q\n' "$v" "${!v}"
    done
  } >"$ENV_FILE"
  umask 022
}

# --- the ports of each process ---------------------------------------------------------------------
idx() { echo "${1##*-}"; }  # pg-2 -> 2
port_of() {
  case $1 in
    etcd) echo $((BASE + 20)) ;;
    pg-*) echo $((BASE + $(idx "$1") - 1)) ;;
    nats-*) echo $((BASE + 30 + $(idx "$1") - 1)) ;;
    write-*) echo $((BASE + 60 + $(idx "$1") - 1)) ;;
    read-*) echo $((BASE + 70 + $(idx "$1") - 1)) ;;
    haproxy) echo "$WRITE_PORT" ;;
  esac
}
rest_port() { echo $((BASE + 10 + $(idx "$1") - 1)); }  # Patroni REST API of pg-N
mon_port() { echo $((BASE + 50 + $(idx "$1") - 1)); }   # nats-server monitoring of nats-N

database_url() {
  echo "postgresql://postgres@127.0.0.1:$(port_of pg-1),127.0.0.1:$(port_of pg-2),127.0.0.1:$(port_of pg-3)/orders?target_session_attrs=read-write"
}
nats_url() {
  echo "nats://127.0.0.1:$(port_of nats-1),nats://127.0.0.1:$(port_of nats-2),nats://127.0.0.1:$(port_of nats-3)"
}

# --- processes -------------------------------------------------------------------------------------
pid_of() { [[ -f "$RUN/$1.pid" ]] && cat "$RUN/$1.pid"; }
alive() {
  local pid
  pid=$(pid_of "$1") || return 1
  [[ -n "$pid" && -d "/proc/$pid" ]] && ! grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null
}
pg_data() { echo "$HA/$1/data"; }
postmaster_pid() { [[ -f "$(pg_data "$1")/postmaster.pid" ]] && head -1 "$(pg_data "$1")/postmaster.pid"; }

http_code() {  # url [token]
  local auth=()
  [[ -n "${2:-}" ]] && auth=(-H "Authorization: Bearer $2")
  curl -s -o /dev/null -w '%{http_code}' --max-time 2 "${auth[@]}" "$1" 2>/dev/null || true
}

wait_for() {  # what seconds command...
  local what=$1 deadline=$((SECONDS + $2))
  shift 2
  until "$@"; do
    ((SECONDS < deadline)) || {
      printf 'ha.sh: %s not reached within the deadline; logs in %s\n' "$what" "$LOGS" >&2
      return 1
    }
    sleep 0.2
  done
}

spawn() {  # name command... : a new session (its own process group), output to the log
  local name=$1
  shift
  setsid "$@" >>"$LOGS/$name.log" 2>&1 </dev/null &
  echo $! >"$RUN/$name.pid"
}

# shellcheck source=deploy/local/ha_configs.sh
source "$ROOT/deploy/local/ha_configs.sh"

start_etcd() {
  spawn etcd etcd --name etcd-1 --data-dir "$HA/etcd" \
    --listen-client-urls "http://127.0.0.1:$(port_of etcd)" \
    --advertise-client-urls "http://127.0.0.1:$(port_of etcd)" \
    --listen-peer-urls "http://127.0.0.1:$((BASE + 21))" \
    --initial-advertise-peer-urls "http://127.0.0.1:$((BASE + 21))" \
    --initial-cluster "etcd-1=http://127.0.0.1:$((BASE + 21))"
  wait_for "etcd health" 30 eval '[[ "$(http_code http://127.0.0.1:$(port_of etcd)/health)" == 200 ]]'
}

start_pg() {  # pg-N
  local n=$1 dir="$HA/$1"
  mkdir -p "$dir"
  write_patroni_config "$n" >"$dir/patroni.yml"
  chown -R postgres: "$dir"
  touch "$LOGS/$n.log"
  # setpriv execs Patroni itself (the pid file names Patroni, not a wrapper).
  spawn "$n" setpriv --reuid=postgres --regid=postgres --init-groups env HOME="$dir" \
    patroni "$dir/patroni.yml"
}

pg_running() { [[ "$(http_code "http://127.0.0.1:$(rest_port "$1")/health")" == 200 ]]; }

start_nats() {  # nats-N
  mkdir -p "$HA/$1"
  write_nats_config "$1" >"$HA/$1/nats.conf"
  spawn "$1" nats-server -c "$HA/$1/nats.conf"
}

service_env() {
  printf '%s\n' "DATABASE_URL=$(database_url)" "NATS_URL=$(nats_url)" NATS_STREAM=ORDERS \
    NATS_STREAM_REPLICAS=3 "LOG_LEVEL=$LOG_LEVEL" "QUERY_TOKEN=$QUERY_TOKEN" "ADMIN_TOKEN=$ADMIN_TOKEN"
}

start_service() {  # write-N | read-N
  local n=$1 envs=()
  mapfile -t envs < <(service_env)
  case $n in
    write-*)
      spawn "$n" env "${envs[@]}" WRITE_ADDRESS=127.0.0.1 "WRITE_PORT=$(port_of "$n")" \
        "COMMAND_TOKEN=$COMMAND_TOKEN" RELAY_ENABLED=on RELAY_ACK_TIMEOUT_MS=1000 \
        RELAY_RETRY_MAX_MS=500 "$WRITE_BIN" serve
      ;;
    read-*)
      spawn "$n" env "${envs[@]}" READ_ADDRESS=127.0.0.1 "READ_PORT=$(port_of "$n")" \
        "REPLICA_ID=ha-$(idx "$n")" "$READ_BIN" serve
      ;;
  esac
}
service_ready() { [[ "$(http_code "http://127.0.0.1:$(port_of "$1")/readyz")" == 200 ]]; }

start_haproxy() {
  write_haproxy_config >"$HA/haproxy.cfg"
  write_error_pages "$HA"
  spawn haproxy haproxy -W -db -f "$HA/haproxy.cfg"
  wait_for "haproxy on $WRITE_PORT and $READ_PORT" 20 eval 'port_busy "$WRITE_PORT" && port_busy "$READ_PORT"'
}

start_one() {  # name; waits until it is ready
  local n=$1
  alive "$n" && { say "$n already running (pid $(pid_of "$n"))"; return 0; }
  say "==> starting $n"
  case $n in
    etcd) start_etcd ;;
    pg-*) start_pg "$n" && wait_for "$n running" 90 pg_running "$n" ;;
    nats-*) start_nats "$n" && wait_for "$n on $(port_of "$n")" 20 port_busy "$(port_of "$n")" ;;
    write-* | read-*) start_service "$n" && wait_for "$n ready" 60 service_ready "$n" ;;
    haproxy) start_haproxy ;;
    *) die "unknown process '$n' (one of: ${NODES[*]})" ;;
  esac
}

build_binaries() {
  if [[ "$WRITE_BIN" != "$BUILD/write-side/write-side" || "$READ_BIN" != "$BUILD/read-side/read-side" ]]; then
    [[ -x "$WRITE_BIN" && -x "$READ_BIN" ]] || die "no executables at $WRITE_BIN / $READ_BIN"
    return
  fi
  "$ROOT/scripts/install-deps.sh" --ha
  say "==> building write-side and read-side (Release, $BUILD)"
  cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    "-DCMAKE_CXX_FLAGS_RELEASE=-O2 -DNDEBUG" -DBUILD_TESTS=OFF >/dev/null
  cmake --build "$BUILD" --target write-side read-side -j "${BUILD_JOBS:-2}"
}

cmd_up() {
  [[ $(id -u) -eq 0 ]] || die "up --ha runs PostgreSQL as the postgres user: run it as root"
  local any=0 n
  for n in "${NODES[@]}"; do alive "$n" 2>/dev/null && any=1; done
  ((any)) || rm -f "$ENV_FILE"
  load_settings
  build_binaries
  mkdir -p "$RUN" "$LOGS"
  chmod 755 "$DATA" "$HA"
  runuser -u postgres -- test -x "$HA" ||
    die "the postgres user cannot reach $HA (a parent folder is closed to it); set STACK_DATA under /tmp"
  if ((!any)); then
    for p in "$WRITE_PORT" "$READ_PORT" $(seq "$BASE" $((BASE + 71))); do
      port_busy "$p" && die "port $p is in use; choose other WRITE_PORT / READ_PORT / HA_PORT_BASE"
    done
  fi
  save_settings
  start_one etcd
  for n in pg-1 pg-2 pg-3; do alive "$n" || { say "==> starting $n"; start_pg "$n"; }; done
  wait_for "a Patroni primary with a synchronous standby" 120 pg_synchronous
  for n in nats-1 nats-2 nats-3; do alive "$n" || { say "==> starting $n"; start_nats "$n"; }; done
  for n in nats-1 nats-2 nats-3; do
    wait_for "$n on port $(port_of "$n")" 20 port_busy "$(port_of "$n")" ||
      { tail -n 5 "$LOGS/$n.log" >&2; exit 1; }
  done
  local envs=() admin_url
  admin_url=$(database_url | sed 's|/orders?|/postgres?|')
  if [[ "$("$(pg_bin)/psql" -X -tAc "SELECT 1 FROM pg_database WHERE datname = 'orders'" "$admin_url")" != 1 ]]; then
    "$(pg_bin)/psql" -X -qc "CREATE DATABASE orders" "$admin_url" >/dev/null
  fi
  mapfile -t envs < <(service_env)
  say "==> applying migrations (primary: $(pg_primary))"
  env "${envs[@]}" "$WRITE_BIN" migrate >>"$LOGS/migrate.log" 2>&1 || die "write-side migrate failed ($LOGS/migrate.log)"
  env "${envs[@]}" "$READ_BIN" migrate >>"$LOGS/migrate.log" 2>&1 || die "read-side migrate failed ($LOGS/migrate.log)"
  for n in write-1 write-2 read-1 read-2 haproxy; do start_one "$n"; done
  say ""
  say "HA stack is up (data: $DATA)"
  say "  write endpoint  http://127.0.0.1:$WRITE_PORT    read endpoint  http://127.0.0.1:$READ_PORT"
  say "  postgres        $(database_url)"
  say "  nats            $(nats_url)"
}

# shellcheck source=deploy/local/ha_status.sh
source "$ROOT/deploy/local/ha_status.sh"

cmd_kill() {  # name: SIGKILL, as if its machine was lost
  local n=$1 pid pm kids
  alive "$n" || die "$n is not running"
  pid=$(pid_of "$n")
  if [[ $n == pg-* ]]; then
    # Patroni and its PostgreSQL (postmaster and every backend) die together.
    pm=$(postmaster_pid "$n" || true)
    kids=""
    [[ -n "$pm" ]] && kids=$(ps -o pid= --ppid "$pm" 2>/dev/null || true)
    kill -KILL "$pid" ${pm:+"$pm"} $kids 2>/dev/null || true
  else
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait_for "$n gone" 10 eval '! [[ -d /proc/$pid ]] || grep -q "^State:.*Z" /proc/$pid/status'
  say "killed $n (pid $pid)"
}

cmd_stop() {  # name: SIGTERM and wait (Patroni stops its PostgreSQL first)
  local n=$1 pid
  alive "$n" || { rm -f "$RUN/$n.pid"; return 0; }
  pid=$(pid_of "$n")
  kill -TERM "$pid" 2>/dev/null || true
  if ! wait_for "$n stopped" 30 eval '! [[ -d /proc/$pid ]]' 2>/dev/null; then
    say "$n did not stop within 30 s: SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$RUN/$n.pid"
  say "stopped $n"
}

# One process at a time, each back and ready (and Postgres synchronous again) before the next.
# The Patroni primary goes last, by a switchover to the synchronous standby first.
cmd_restart_all() {
  local n primary t0=$SECONDS
  # haproxy is reloaded, as it is upgraded or reconfigured: its master keeps the ports and a new
  # worker takes the new connections while the old one finishes its requests.
  say "==> reloading haproxy"
  kill -USR2 "$(pid_of haproxy)"
  for n in read-1 read-2 write-1 write-2 nats-1 nats-2 nats-3; do
    cmd_stop "$n"
    start_one "$n"
    [[ $n == nats-* ]] && wait_for "the stream's 3 replicas current" 30 stream_current
    say "    ($((SECONDS - t0)) s)"
  done
  primary=$(pg_primary)
  for n in pg-1 pg-2 pg-3; do
    [[ $n == "$primary" ]] && continue
    cmd_stop "$n"
    start_one "$n"
    wait_for "synchronous replication" 60 pg_synchronous
    say "    ($((SECONDS - t0)) s)"
  done
  say "==> switchover away from $primary"
  curl -sf --max-time 30 -X POST -H 'Content-Type: application/json' \
    -d "{\"leader\":\"$primary\"}" "http://127.0.0.1:$(rest_port "$primary")/switchover" >/dev/null ||
    die "switchover from $primary refused"
  wait_for "a new primary" 60 eval '[[ -n "$(pg_primary)" && "$(pg_primary)" != "$primary" ]]'
  wait_for "synchronous replication" 60 pg_synchronous
  cmd_stop "$primary"
  start_one "$primary"
  wait_for "synchronous replication" 60 pg_synchronous
  say "    ($((SECONDS - t0)) s)"
  # etcd last: Patroni keeps the primary while its store is briefly away (retry_timeout < ttl).
  cmd_stop etcd
  start_one etcd
  say "restarted every process in $((SECONDS - t0)) s"
}

cmd_url() {
  case ${1:-} in
    write) echo "http://127.0.0.1:$WRITE_PORT" ;;
    read) echo "http://127.0.0.1:$READ_PORT" ;;
    db) database_url ;;
    nats) nats_url ;;
    *) die "usage: ha.sh url write|read|db|nats" ;;
  esac
}

cmd_logs() {
  local follow=() names=() a
  for a in "$@"; do
    case $a in
      -f | --follow) follow=(-f) ;;
      *) names+=("$a") ;;
    esac
  done
  ((${#names[@]} > 0)) || names=("${NODES[@]}")
  local files=()
  for a in "${names[@]}"; do [[ -f "$LOGS/$a.log" ]] && files+=("$LOGS/$a.log"); done
  ((${#files[@]} > 0)) || die "no logs in $LOGS"
  tail -n 40 "${follow[@]}" "${files[@]}"
}

cmd_down() {
  local n
  for n in haproxy read-2 read-1 write-2 write-1 nats-3 nats-2 nats-1 pg-3 pg-2 pg-1 etcd; do
    alive "$n" && cmd_stop "$n"
  done
  # A PostgreSQL left behind by a killed Patroni.
  for n in pg-1 pg-2 pg-3; do
    local pm
    pm=$(postmaster_pid "$n" 2>/dev/null || true)
    if [[ -n "$pm" && -d "/proc/$pm" ]] && tr '\0' ' ' <"/proc/$pm/cmdline" | grep -q postgres; then
      kill -TERM "$pm" 2>/dev/null || true
    fi
  done
  if [[ "${1:-}" == --purge ]]; then
    rm -rf "$HA" "$ENV_FILE"
    say "deleted $HA"
  fi
}

load_settings
case "${1:-}" in
  up) cmd_up ;;
  status) shift; cmd_status "$@" ;;
  kill) cmd_kill "${2:?usage: ha.sh kill NAME}" ;;
  start) start_one "${2:?usage: ha.sh start NAME}" ;;
  stop) cmd_stop "${2:?usage: ha.sh stop NAME}" ;;
  restart-all) cmd_restart_all ;;
  url) cmd_url "${2:-}" ;;
  wait)
    case ${2:-} in
      synchronous) wait_for "a Patroni primary with a synchronous standby" 90 pg_synchronous ;;
      stream) wait_for "the stream's 3 replicas current" 60 stream_current ;;
      *) die "usage: ha.sh wait synchronous|stream" ;;
    esac
    ;;
  logs) shift; cmd_logs "$@" ;;
  down) cmd_down "${2:-}" ;;
  -h | --help | help) usage ;;
  *) usage >&2; exit 2 ;;
esac
