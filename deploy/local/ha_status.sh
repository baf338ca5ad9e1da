# `ha.sh status [--json]`: each process with its role, from the tools' own views (sourced by
# ha.sh): Patroni's /cluster (primary, synchronous replica), nats-server's /jsz (the stream's
# leader), the write-sides' orders_relay_is_leader metric.
# shellcheck shell=bash disable=SC2154

# The ORDERS stream as the nats-server on monitoring port $1 sees it: "leader current-replicas".
stream_view() {
  curl -sf --max-time 2 "http://127.0.0.1:$1/jsz?accounts=true&streams=true" 2>/dev/null |
    $PY -c 'import json,sys
d = json.load(sys.stdin)
for a in d.get("account_details") or []:
    for s in a.get("stream_detail") or []:
        if s["name"] == "ORDERS":
            c = s.get("cluster") or {}
            cur = sum(1 for r in c.get("replicas") or [] if r.get("current"))
            print(c.get("leader", ""), cur)' 2>/dev/null
}

# The stream has a leader and both other replicas are current (after a nats-server restart).
stream_current() {
  local n v
  for n in nats-1 nats-2 nats-3; do
    v=$(stream_view "$(mon_port "$n")") || continue
    [[ -n "$v" ]] || continue
    read -r leader current <<<"$v"
    [[ -n "$leader" && "$current" == 2 ]] && return 0
  done
  return 1
}

relay_role() {  # write-N
  local auth=() v
  [[ -n "$ADMIN_TOKEN" ]] && auth=(-H "Authorization: Bearer $ADMIN_TOKEN")
  v=$(curl -sf --max-time 2 "${auth[@]}" "http://127.0.0.1:$(port_of "$1")/metrics" 2>/dev/null |
    awk '$1 == "orders_relay_is_leader" { print $2 }')
  case $v in
    1) echo "relay leader" ;;
    0) echo "relay standby" ;;
    *) echo "unknown" ;;
  esac
}

status_rows() {  # name pid port role ready, tab-separated
  local cluster n pid port role ready leader
  cluster=$(cluster_json 2>/dev/null || echo '{"members":[]}')
  leader=""
  for n in nats-1 nats-2 nats-3; do
    alive "$n" || continue
    leader=$(stream_view "$(mon_port "$n")" | awk '{print $1}')
    [[ -n "$leader" ]] && break
  done
  for n in "${NODES[@]}"; do
    pid=$(pid_of "$n" 2>/dev/null || true)
    alive "$n" || pid=""
    port=$(port_of "$n")
    ready=false
    role=""
    case $n in
      etcd)
        role=dcs
        [[ "$(http_code "http://127.0.0.1:$port/health")" == 200 ]] && ready=true
        ;;
      pg-*)
        read -r role ready < <($PY -c 'import json,sys
ms = {m["name"]: m for m in json.loads(sys.argv[1])["members"]}
m = ms.get(sys.argv[2])
if not m: print("down false")
else:
    role = {"leader": "primary", "sync_standby": "sync-replica"}.get(m["role"], "replica")
    print(role, "true" if m["state"] in ("running", "streaming") else "false")' "$cluster" "$n")
        [[ -n "$pid" ]] || { role=down; ready=false; }
        ;;
      nats-*)
        if [[ -z "$leader" ]]; then role="no stream"; elif [[ $leader == "$n" ]]; then
          role="stream leader"
        else role="stream replica"; fi
        [[ "$(http_code "http://127.0.0.1:$(mon_port "$n")/healthz")" == 200 ]] && ready=true
        ;;
      write-*)
        role=$(relay_role "$n")
        service_ready "$n" && ready=true
        ;;
      read-*)
        role=replica
        service_ready "$n" && ready=true
        ;;
      haproxy)
        role="proxy :$WRITE_PORT :$READ_PORT"
        port_busy "$WRITE_PORT" && port_busy "$READ_PORT" && ready=true
        ;;
    esac
    [[ -n "$pid" ]] || ready=false
    printf '%s\t%s\t%s\t%s\t%s\n' "$n" "${pid:-}" "$port" "$role" "$ready"
  done
}

cmd_status() {
  [[ -f "$ENV_FILE" ]] || { say "no HA stack here ($ENV_FILE missing); start one with: stack.sh up --ha"; return 0; }
  local json=0
  [[ "${1:-}" == --json ]] && json=1
  status_rows | $PY -c 'import json,sys
rows = []
for line in sys.stdin:
    name, pid, port, role, ready = line.rstrip("\n").split("\t")
    rows.append({"name": name, "pid": int(pid) if pid else None, "port": int(port),
                 "role": role, "ready": ready == "true"})
if sys.argv[1] == "1":
    print(json.dumps(rows, indent=2))
else:
    print("  %-8s %-8s %-6s %-22s %s" % ("NAME", "PID", "PORT", "ROLE", "READY"))
    for r in rows:
        print("  %-8s %-8s %-6s %-22s %s" % (r["name"], r["pid"] or "-", r["port"], r["role"],
              "yes" if r["ready"] else "no"))' "$json"
  ((json)) || say "  write: http://127.0.0.1:$WRITE_PORT  read: http://127.0.0.1:$READ_PORT  logs: $LOGS"
}
