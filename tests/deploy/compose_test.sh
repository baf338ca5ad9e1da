#!/usr/bin/env bash
# Validates deploy/docker-compose.yml and deploy/Dockerfile without a Docker engine:
# `docker-compose config -q`, the structure the issue asks for (postgres 15, JetStream on a volume,
# health checks, depends_on conditions, two read-side replicas, tokens required), and that every
# setting the compose file gives write-side / read-side is one that binary's --help lists; the
# profile `observability` (Prometheus, Grafana) with its files and targets.
#   compose_test.sh [WRITE_SIDE_BIN] [READ_SIDE_BIN]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
COMPOSE="$ROOT/deploy/docker-compose.yml"
WRITE_BIN="${1:-$ROOT/build/write-side/write-side}"
READ_BIN="${2:-$ROOT/build/read-side/read-side}"
failures=0
pass() { echo "ok   $*"; }
fail() { echo "FAIL $*"; failures=$((failures + 1)); }

command -v docker-compose >/dev/null || { echo "SKIP: docker-compose not installed"; exit 77; }
command -v python3 >/dev/null || { echo "SKIP: python3 (docker-compose's own runtime) missing"; exit 77; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export COMMAND_TOKEN=test-command QUERY_TOKEN=test-query ADMIN_TOKEN=test-admin

if docker-compose -f "$COMPOSE" config -q; then pass "docker-compose config -q"; else fail "docker-compose config -q"; fi
if env -u COMMAND_TOKEN docker-compose -f "$COMPOSE" config -q 2>/dev/null; then
  fail "compose accepted a missing COMMAND_TOKEN (auth must be on)"
else
  pass "tokens are required"
fi
docker-compose -f "$COMPOSE" config >"$tmp/config.yml"

# Structure checks, and the env settings per binary (lines "write-side NAME" / "read-side NAME").
python3 - "$tmp/config.yml" "$tmp/settings.txt" "$ROOT/deploy/patroni/patroni.yml" \
  "$ROOT/deploy/haproxy/haproxy.cfg" <<'PY' || failures=$((failures + 1))
import sys, yaml
cfg = yaml.safe_load(open(sys.argv[1]))
services = cfg["services"]
errors = []
def check(cond, msg):
    print(("ok   " if cond else "FAIL ") + msg)
    if not cond:
        errors.append(msg)

check(services.get("postgres", {}).get("image", "").startswith("postgres:15"), "postgres service uses postgres:15")
nats = services.get("nats", {})
cmd = nats.get("command", [])
check("-js" in cmd and "-sd" in cmd, "nats runs with JetStream file storage (-js -sd)")
sd = cmd[cmd.index("-sd") + 1] if "-sd" in cmd else None
check(any(str(v).split(":")[1] == sd for v in nats.get("volumes", [])), "the JetStream store is on a volume")
for name in ("postgres", "nats"):
    check("healthcheck" in services.get(name, {}), f"{name} has a health check")

by_binary = {"write-side": [], "read-side": []}
ha = {n: s for n, s in services.items() if "ha" in (s.get("profiles") or [])}
with open(sys.argv[2], "w") as out:
    for name, svc in services.items():
        command = svc.get("command") or []
        if not command or command[0] not in by_binary:
            continue
        binary = command[0]
        env = svc.get("environment", {})
        for key in env:
            out.write(f"{binary} {key}\n")
        if name in ha:  # checked below
            continue
        by_binary[binary].append(name)
        port_var = "WRITE_PORT" if binary == "write-side" else "READ_PORT"
        port = str(env.get(port_var, ""))
        check(port != "", f"{name}: sets {port_var}")
        addr_var = "WRITE_ADDRESS" if binary == "write-side" else "READ_ADDRESS"
        check(env.get(addr_var) == "0.0.0.0", f"{name}: {addr_var}=0.0.0.0 (reachable from other containers)")
        targets = [str(p.get("target")) if isinstance(p, dict) else str(p).split(":")[-1] for p in svc.get("ports", [])]
        check(port in targets, f"{name}: publishes its container port {port}")
        hc = " ".join(svc.get("healthcheck", {}).get("test", []))
        check(f"127.0.0.1:{port}/readyz" in hc, f"{name}: health check on /readyz port {port}")
        deps = svc.get("depends_on", {})
        check(isinstance(deps, dict) and all(d.get("condition") == "service_healthy" for d in deps.values())
              and {"postgres", "nats"} <= set(deps), f"{name}: depends_on postgres and nats healthy")
        tokens = ["QUERY_TOKEN", "ADMIN_TOKEN"] + (["COMMAND_TOKEN"] if binary == "write-side" else [])
        check(all(env.get(t) for t in tokens), f"{name}: tokens set ({', '.join(tokens)})")
        check("DATABASE_URL" in env and "@postgres:5432/" in env["DATABASE_URL"], f"{name}: DATABASE_URL points at the postgres service")
        check(env.get("NATS_URL") == "nats://nats:4222", f"{name}: NATS_URL points at the nats service")

check(len(by_binary["write-side"]) == 1, "one write-side service")
replicas = sum(services[n].get("deploy", {}).get("replicas", 1) for n in by_binary["read-side"])
check(replicas >= 2, f"read-side runs as {replicas} replicas")

# Profile `ha` (deploy/local/ha.sh's topology): Patroni x3 synchronous, NATS x3 clustered, 2 + 2
# replicas that take multi-host URLs, haproxy health-checking them.
check(sorted(n for n in ha if n.startswith("pg-")) == ["pg-1", "pg-2", "pg-3"], "ha: three Patroni nodes")
check(all("PATRONI_ETCD3_HOSTS" in ha[n].get("environment", {}) for n in ("pg-1", "pg-2", "pg-3")), "ha: Patroni on etcd")
pat = yaml.safe_load(open(sys.argv[3]))
check(pat["bootstrap"]["dcs"].get("synchronous_mode") is True, "ha: Patroni synchronous_mode")
for n in ("nats-1", "nats-2", "nats-3"):
    cmd = " ".join(ha.get(n, {}).get("command", []))
    check("--routes" in cmd and "-js" in cmd and "--cluster_name" in cmd, f"ha: {n} is a clustered JetStream server")
for n, binary in (("write-1", "write-side"), ("write-2", "write-side"), ("read-1", "read-side"), ("read-2", "read-side")):
    env = ha.get(n, {}).get("environment", {})
    check(ha.get(n, {}).get("command", [None])[0] == binary, f"ha: {n} runs {binary}")
    check("pg-1:5432,pg-2:5432,pg-3:5432" in env.get("DATABASE_URL", "") and
          "target_session_attrs=read-write" in env.get("DATABASE_URL", ""), f"ha: {n} takes the multi-host DATABASE_URL")
    check(env.get("NATS_URL", "").count("nats://") == 3, f"ha: {n} takes the three NATS servers")
    check("/readyz" in " ".join(ha.get(n, {}).get("healthcheck", {}).get("test", [])), f"ha: {n} health check on /readyz")
check(all(ha.get(n, {}).get("environment", {}).get("NATS_STREAM_REPLICAS") == "3" for n in ("write-1", "write-2")),
      "ha: the stream at 3 replicas")
hap = open(sys.argv[4]).read()
check("haproxy" in ha and hap.count("option httpchk GET /readyz") == 2, "ha: haproxy health-checks both pairs on /readyz")
sys.exit(1 if errors else 0)
PY

# The profile `observability`: Prometheus and Grafana, pinned images, their files mounted, and the
# scrape targets / datasource / dashboard path agreeing with the compose services and mounts.
docker-compose -f "$COMPOSE" --profile observability config >"$tmp/observability.yml" &&
  pass "docker-compose --profile observability config" || fail "docker-compose --profile observability config"
python3 - "$tmp/observability.yml" "$ROOT/deploy/observability" <<'PY' || failures=$((failures + 1))
import os, sys, yaml
cfg = yaml.safe_load(open(sys.argv[1]))
obs = sys.argv[2]
services = cfg["services"]
errors = []
def check(cond, msg):
    print(("ok   " if cond else "FAIL ") + msg)
    if not cond:
        errors.append(msg)

def mounts(svc):  # target -> host source, for bind mounts
    out = {}
    for v in svc.get("volumes", []):
        if isinstance(v, dict):
            out[v["target"]] = v.get("source", "")
        else:
            parts = str(v).split(":")
            out[parts[1]] = parts[0]
    return out

for name, image in (("prometheus", "prom/prometheus:"), ("grafana", "grafana/grafana:")):
    svc = services.get(name, {})
    check(svc.get("profiles") == ["observability"], f"{name} is in profile observability only")
    img = svc.get("image", "")
    check(img.startswith(image) and img.split(":")[1] not in ("", "latest"), f"{name} image pinned ({img})")
    for target, source in mounts(svc).items():
        if source.startswith("/"):
            check(os.path.exists(source), f"{name}: mounted {source} exists")
    ports = [str(p.get("host_ip", "")) if isinstance(p, dict) else str(p) for p in svc.get("ports", [])]
    check(ports and all(p.startswith("127.0.0.1") for p in ports), f"{name}: published on 127.0.0.1 only")
for name, svc in services.items():
    if name not in ("prometheus", "grafana") and "ha" not in (svc.get("profiles") or []):
        check("profiles" not in svc, f"{name} runs without a profile")

prom = services.get("prometheus", {})
prom_dir = mounts(prom).get("/etc/prometheus/orders", "")
check(os.path.samefile(prom_dir, obs) if prom_dir else False, "prometheus mounts deploy/observability")
script = " ".join(prom.get("command", []))
conf = yaml.safe_load(open(os.path.join(obs, "prometheus.yml")))
for f in conf.get("rule_files", []):
    check(f"/etc/prometheus/orders/{f}" in script, f"prometheus entrypoint copies rule file {f}")
check("admin_token" in script and "ADMIN_TOKEN" in prom.get("environment", {}), "prometheus gets the admin token")
for job in conf["scrape_configs"]:
    check(job.get("authorization", {}).get("credentials_file") == "admin_token", f"job {job['job_name']} sends the admin token")
    for sc in job["static_configs"]:
        for target in sc["targets"]:
            host, port = target.split(":")
            svc = services.get(host)
            env = (svc or {}).get("environment", {})
            check(svc is not None and port in (str(env.get("WRITE_PORT")), str(env.get("READ_PORT"))),
                  f"scrape target {target} is a compose service on its port")
targets = {t.split(":")[0] for j in conf["scrape_configs"] for sc in j["static_configs"] for t in sc["targets"]}
# The default stack's services (profile `ha` is another topology, checked above).
apps = {n for n, s in services.items() if (s.get("command") or [""])[0] in ("write-side", "read-side")
        and "ha" not in (s.get("profiles") or [])}
check(apps <= targets, f"every write-side/read-side service is scraped ({sorted(apps - targets)} missing)")

graf = mounts(services.get("grafana", {}))
ds = yaml.safe_load(open(os.path.join(obs, "grafana/provisioning/datasources/prometheus.yml")))
check(ds["datasources"][0]["url"] == "http://prometheus:9090", "grafana datasource is the prometheus service")
prov = yaml.safe_load(open(os.path.join(obs, "grafana/provisioning/dashboards/orders.yml")))
check(prov["providers"][0]["options"]["path"] in graf, "dashboard provider path is the mounted dashboards folder")
check("/etc/grafana/provisioning" in graf, "grafana provisioning is mounted")
import json
dash = json.load(open(os.path.join(obs, "grafana/dashboards/orders.json")))
uid = ds["datasources"][0]["uid"]
panels = dash.get("panels", [])
check(len(panels) >= 8 and all(p.get("targets") for p in panels), f"dashboard has {len(panels)} panels, each with queries")
check(all(p["datasource"]["uid"] == uid and all(t["datasource"]["uid"] == uid for t in p["targets"]) for p in panels),
      f"every dashboard panel and query uses the provisioned datasource {uid}")
check(len({p["id"] for p in panels}) == len(panels), "dashboard panel ids are unique")
sys.exit(1 if errors else 0)
PY

dockerfile="$ROOT/deploy/Dockerfile"
grep -q '^FROM debian:bookworm' "$dockerfile" && pass "Dockerfile on Debian 12" || fail "Dockerfile is not Debian 12 (bookworm)"
[[ $(grep -c '^FROM ' "$dockerfile") -ge 2 ]] && pass "Dockerfile is multi-stage" || fail "Dockerfile is not multi-stage"
grep -q 'scripts/install-deps.sh' "$dockerfile" && pass "Dockerfile uses scripts/install-deps.sh" || fail "Dockerfile does not use scripts/install-deps.sh"
last_user=$(grep '^USER ' "$dockerfile" | tail -1 | awk '{print $2}')
[[ -n "$last_user" && "$last_user" != root && "$last_user" != 0 ]] && pass "image runs as non-root ($last_user)" || fail "image runs as root"

# Every setting compose gives a binary must be one the binary knows (its --help lists it).
for binary in write-side read-side; do
  bin=$WRITE_BIN
  [[ $binary == read-side ]] && bin=$READ_BIN
  if [[ ! -x "$bin" ]]; then
    echo "skip settings check for $binary: $bin not built"
    continue
  fi
  help=$("$bin" --help 2>&1) || true
  while read -r b var; do
    [[ "$b" == "$binary" ]] || continue
    if grep -qw -- "$var" <<<"$help"; then pass "$binary --help lists $var"; else fail "$binary --help does not list $var (set by docker-compose)"; fi
  done <"$tmp/settings.txt"
done

if ((failures > 0)); then
  echo "compose_test: $failures failure(s)"
  exit 1
fi
echo "compose_test: all checks passed"
