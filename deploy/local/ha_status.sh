# Roles and readiness of the HA topology's processes (sourced by ha.sh), computed by one Python
# process (deploy/local/ha_status.py) from the tools' own views.
# shellcheck shell=bash disable=SC2154

ha_py() {  # table|json|primary|synchronous|stream
  HA_BASE=$BASE HA_WRITE_PORT=$WRITE_PORT HA_READ_PORT=$READ_PORT HA_RUN=$RUN \
    HA_ADMIN_TOKEN=$ADMIN_TOKEN $PY "$ROOT/deploy/local/ha_status.py" "$1"
}
pg_primary() { ha_py primary; }
pg_synchronous() { ha_py synchronous; }  # a leader and a streaming synchronous standby
stream_current() { ha_py stream; }       # the stream has a leader and 2 current replicas

cmd_status() {
  [[ -f "$ENV_FILE" ]] || { say "no HA stack here ($ENV_FILE missing); start one with: stack.sh up --ha"; return 0; }
  if [[ "${1:-}" == --json ]]; then
    ha_py json
  else
    ha_py table
    say "  write: http://127.0.0.1:$WRITE_PORT  read: http://127.0.0.1:$READ_PORT  logs: $LOGS"
  fi
}
