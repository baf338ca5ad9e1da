# The generated configurations of the HA topology (sourced by ha.sh; every value from its
# settings): Patroni per node, nats-server per node, haproxy and its error pages.
# shellcheck shell=bash disable=SC2154

# Patroni 3.0 on etcd 3.4 (v3 API). synchronous_mode: a commit is acknowledged once a second node
# has it, and only that synchronous standby may be promoted. ttl / loop_wait / retry_timeout are
# short (loop_wait + 2 * retry_timeout <= ttl) so a dead primary is replaced within ~ttl seconds.
write_patroni_config() {  # pg-N
  local n=$1 dir="$HA/$1"
  local retry=$(((TTL - 1) / 2))
  cat <<EOF
scope: orders
namespace: /orders-ha/
name: $n
log:
  level: WARNING
restapi:
  listen: 127.0.0.1:$(rest_port "$n")
  connect_address: 127.0.0.1:$(rest_port "$n")
etcd3:
  hosts: 127.0.0.1:$(port_of etcd)
bootstrap:
  dcs:
    ttl: $TTL
    loop_wait: 1
    retry_timeout: $retry
    maximum_lag_on_failover: 1048576
    synchronous_mode: true
    failsafe_mode: true
    postgresql:
      use_pg_rewind: true
      use_slots: true
      parameters:
        wal_level: replica
        hot_standby: "on"
        wal_log_hints: "on"
        max_connections: 200
        max_wal_senders: 10
        max_replication_slots: 10
        shared_buffers: 128MB
        fsync: "on"
        synchronous_commit: "on"
        wal_keep_size: 256MB
  initdb:
    - encoding: UTF8
    - locale: C
    - auth: trust
postgresql:
  listen: 127.0.0.1:$(port_of "$n")
  connect_address: 127.0.0.1:$(port_of "$n")
  data_dir: $dir/data
  bin_dir: $(pg_bin)
  pgpass: $dir/pgpass
  authentication:
    superuser:
      username: postgres
    replication:
      username: postgres
    rewind:
      username: postgres
  parameters:
    unix_socket_directories: '$dir'
  pg_hba:
    - host all all 127.0.0.1/32 trust
    - host replication all 127.0.0.1/32 trust
tags:
  nofailover: false
  noloadbalance: false
EOF
}

pg_bin() {
  local d
  for d in /usr/lib/postgresql/15/bin /usr/lib/postgresql/16/bin /usr/lib/postgresql/17/bin; do
    [[ -x "$d/pg_ctl" ]] && { echo "$d"; return; }
  done
  die "PostgreSQL server binaries not found (scripts/install-deps.sh --ha installs them)"
}

# One JetStream cluster of three servers; each routes to all three (its own route is ignored).
write_nats_config() {  # nats-N
  local n=$1 i routes=""
  for i in 1 2 3; do routes+="    nats-route://127.0.0.1:$((BASE + 40 + i - 1))"$'\n'; done
  cat <<EOF
server_name: $n
listen: 127.0.0.1:$(port_of "$n")
http: 127.0.0.1:$(mon_port "$n")
jetstream {
  store_dir: "$HA/$n/js"
  max_memory_store: 256MB
  max_file_store: 4GB
}
cluster {
  name: orders
  listen: 127.0.0.1:$((BASE + 40 + $(idx "$n") - 1))
  routes: [
$routes  ]
}
EOF
}

# Two stable endpoints. A replica is used while GET /readyz answers 200 (checked every 500 ms);
# a request whose replica is gone is retried on the other when it was not sent yet (redispatch),
# and an error of the proxy itself (no replica up, a replica died mid-request) is a 503 with
# Retry-After, like the services' own (common/http/problem.cpp), so a client retries it.
write_haproxy_config() {
  cat <<EOF
global
  maxconn 4096
defaults
  mode http
  timeout connect 1s
  timeout client 60s
  timeout server 30s
  timeout http-keep-alive 10s
  retries 3
  option redispatch
  errorfile 502 $HA/err503.http
  errorfile 503 $HA/err503.http
  errorfile 504 $HA/err503.http
frontend write
  bind 127.0.0.1:$WRITE_PORT
  default_backend write_sides
frontend read
  bind 127.0.0.1:$READ_PORT
  default_backend read_sides
backend write_sides
  balance roundrobin
  option httpchk GET /readyz
  http-check expect status 200
  default-server inter 500ms fastinter 250ms fall 2 rise 1
  server write-1 127.0.0.1:$(port_of write-1) check
  server write-2 127.0.0.1:$(port_of write-2) check
backend read_sides
  balance roundrobin
  option httpchk GET /readyz
  http-check expect status 200
  default-server inter 500ms fastinter 250ms fall 2 rise 1
  server read-1 127.0.0.1:$(port_of read-1) check
  server read-2 127.0.0.1:$(port_of read-2) check
EOF
}

write_error_pages() {  # dir
  local body='{"type":"/problems/unavailable","title":"Service unavailable","status":503,"detail":"no replica could answer; retry after Retry-After seconds with the same Idempotency-Key"}'
  printf 'HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/problem+json\r\nRetry-After: 1\r\nCache-Control: no-store\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s' \
    "${#body}" "$body" >"$1/err503.http"
}
