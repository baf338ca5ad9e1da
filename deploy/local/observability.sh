# shellcheck shell=bash
# Sourced by stack.sh: `up --observability` also runs Debian's prometheus (package `prometheus`)
# on 127.0.0.1, scraping the local write-side and both read-side replicas with the alert rules of
# deploy/observability; `down` stops it and deletes its data (throwaway), `status` shows it.
# The configuration is deploy/observability/prometheus.yml with the compose service names
# replaced by the local loopback ports. Setting: PROMETHEUS_PORT=9090 (next free port if busy).

OBS_DIR="$DATA/prometheus"
OBS_ENV="$DATA/observability.env"

obs_load() {
  PROM_PORT=""
  if [[ -f "$OBS_ENV" ]]; then
    # shellcheck disable=SC1090
    source "$OBS_ENV"
    PROM_PORT="${S_PROM_PORT:-}"
  fi
}

obs_running() { alive prometheus prometheus; }

# The compose file's targets become the local ports; without ADMIN_TOKEN (auth off) the
# authorization blocks are dropped.
obs_write_config() {
  local src="$ROOT/deploy/observability" conf="$OBS_DIR/config"
  mkdir -p "$conf"
  cp "$src/alerts.yml" "$conf/alerts.yml"
  (umask 077 && printf '%s' "$ADMIN_TOKEN" >"$conf/admin_token")
  sed -e "s/\"write-side:8080\"/\"127.0.0.1:$WRITE_PORT\"/" \
    -e "s/\"read-side-1:8081\"/\"127.0.0.1:$READ_PORT\"/" \
    -e "s/\"read-side-2:8081\"/\"127.0.0.1:$READ_PORT2\"/" "$src/prometheus.yml" |
    awk -v auth="$ADMIN_TOKEN" '
      auth == "" && /^ *authorization:/ { skip = match($0, /[^ ]/); next }
      skip && match($0, /[^ ]/) > skip { next }
      { skip = 0; print }' >"$conf/prometheus.yml"
}

obs_up() {
  command -v prometheus >/dev/null ||
    die "prometheus not installed (apt-get install prometheus; scripts/install-deps.sh installs it with the test packages)"
  obs_load
  if obs_running; then
    say "prometheus  already running (port $PROM_PORT)"
    return
  fi
  PROM_PORT=$(next_free_port "${PROMETHEUS_PORT:-9090}")
  while [[ $PROM_PORT == "$READ_PORT2" ]]; do PROM_PORT=$(next_free_port $((PROM_PORT + 1))); done
  echo "S_PROM_PORT=$PROM_PORT" >"$OBS_ENV"
  obs_write_config
  rm -rf "$OBS_DIR/data"
  say "==> starting prometheus on 127.0.0.1:$PROM_PORT (scrapes the stack, alert rules loaded)"
  setsid prometheus --config.file="$OBS_DIR/config/prometheus.yml" \
    --storage.tsdb.path="$OBS_DIR/data" --web.listen-address="127.0.0.1:$PROM_PORT" \
    >>"$LOGS/prometheus.log" 2>&1 </dev/null &
  echo $! >"$RUN/prometheus.pid"
  wait_ready prometheus "http://127.0.0.1:$PROM_PORT/-/ready" "$LOGS/prometheus.log"
}

obs_print_url() {
  obs_load
  obs_running || return 0
  say "  prometheus   http://127.0.0.1:$PROM_PORT   (targets: /targets, alerts: /alerts)"
}

obs_status_row() {  # uses stack.sh's row()
  obs_load
  [[ -n "$PROM_PORT" ]] || return 0
  if obs_running; then
    local up
    up=$(curl -s --max-time 3 "http://127.0.0.1:$PROM_PORT/api/v1/targets?state=active" |
      grep -o '"health":"up"' | wc -l) || up="?"
    row prometheus running "$PROM_PORT" "http://127.0.0.1:$PROM_PORT  targets up=$up pid=$(<"$RUN/prometheus.pid")"
  else
    row prometheus stopped "$PROM_PORT" "http://127.0.0.1:$PROM_PORT"
  fi
}

obs_down() {
  obs_load
  stop_pid prometheus prometheus
  rm -rf "$OBS_DIR" "$OBS_ENV"
}
