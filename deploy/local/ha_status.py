#!/usr/bin/python3
"""Roles of the HA topology's processes (deploy/local/ha.sh status, wait, primary).

From each tool's own view: Patroni's /cluster (primary, synchronous replica), nats-server's /jsz
(the ORDERS stream's leader and current replicas), the write-sides' orders_relay_is_leader metric,
/readyz of the services. One process for all of it (a loaded 2-core machine pays ~0.5 s per
process started).

  ha_status.py table|json|primary|synchronous|stream   (settings in the environment, from ha.sh)
"""
import json
import os
import sys
import urllib.request

BASE = int(os.environ["HA_BASE"])
WRITE_PORT = int(os.environ["HA_WRITE_PORT"])
READ_PORT = int(os.environ["HA_READ_PORT"])
RUN = os.environ["HA_RUN"]
ADMIN_TOKEN = os.environ.get("HA_ADMIN_TOKEN", "")
NODES = ["etcd", "pg-1", "pg-2", "pg-3", "nats-1", "nats-2", "nats-3", "write-1", "write-2",
         "read-1", "read-2", "haproxy"]


def idx(name):
    return int(name.rsplit("-", 1)[1])


def port_of(name):
    if name == "etcd":
        return BASE + 20
    if name == "haproxy":
        return WRITE_PORT
    offset = {"pg": 0, "nats": 30, "write": 60, "read": 70}[name.rsplit("-", 1)[0]]
    return BASE + offset + idx(name) - 1


def get(url, token=""):
    """(status, body) or (0, "") when nothing answers within 2 s."""
    req = urllib.request.Request(url)
    if token:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=2) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, ""
    except Exception:  # refused, reset, time-out: not answering
        return 0, ""


def pid_of(name):
    try:
        pid = int(open(os.path.join(RUN, name + ".pid")).read().strip())
        with open("/proc/%d/status" % pid) as f:
            if any(line.startswith("State:") and "Z" in line for line in f):
                return None
        return pid
    except (OSError, ValueError):
        return None


def cluster():
    for n in ("pg-1", "pg-2", "pg-3"):
        status, body = get("http://127.0.0.1:%d/cluster" % (BASE + 10 + idx(n) - 1))
        if status == 200:
            return json.loads(body).get("members", [])
    return []


def stream(name):
    """(leader, number of current replicas) of ORDERS as nats-N sees it, or None."""
    status, body = get("http://127.0.0.1:%d/jsz?accounts=true&streams=true" % (BASE + 50 + idx(name) - 1))
    if status != 200:
        return None
    for a in json.loads(body).get("account_details") or []:
        for s in a.get("stream_detail") or []:
            if s.get("name") == "ORDERS":
                c = s.get("cluster") or {}
                return c.get("leader", ""), sum(1 for r in c.get("replicas") or [] if r.get("current"))
    return None


def relay_role(name):
    status, body = get("http://127.0.0.1:%d/metrics" % port_of(name), ADMIN_TOKEN)
    for line in body.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == "orders_relay_is_leader":
            return "relay leader" if parts[1] == "1" else "relay standby"
    return "unknown"


def ready(port, path="/readyz"):
    return get("http://127.0.0.1:%d%s" % (port, path))[0] == 200


def rows():
    members = {m["name"]: m for m in cluster()}
    leader = next((v[0] for v in (stream(n) for n in ("nats-1", "nats-2", "nats-3") if pid_of(n)) if v), "")
    out = []
    for n in NODES:
        pid, port, role, ok = pid_of(n), port_of(n), "", False
        if n == "etcd":
            role, ok = "dcs", ready(port, "/health")
        elif n.startswith("pg-"):
            m = members.get(n)
            role = {"leader": "primary", "sync_standby": "sync-replica"}.get(m["role"], "replica") if m else "down"
            ok = bool(m) and m.get("state") in ("running", "streaming")
        elif n.startswith("nats-"):
            role = "no stream" if not leader else ("stream leader" if leader == n else "stream replica")
            ok = ready(BASE + 50 + idx(n) - 1, "/healthz")
        elif n.startswith("write-"):
            role, ok = relay_role(n), ready(port)
        elif n.startswith("read-"):
            role, ok = "replica", ready(port)
        else:
            role = "proxy :%d :%d" % (WRITE_PORT, READ_PORT)
            ok = get("http://127.0.0.1:%d/livez" % WRITE_PORT)[0] != 0
        out.append({"name": n, "pid": pid, "port": port, "role": role if pid else "down",
                    "ready": bool(pid) and ok})
    return out


def main(mode):
    if mode == "primary":
        m = [m["name"] for m in cluster() if m["role"] == "leader" and m["state"] == "running"]
        print(m[0] if m else "")
        return 0 if m else 1
    if mode == "synchronous":
        ms = cluster()
        ok = any(m["role"] == "leader" and m["state"] == "running" for m in ms) and \
            any(m["role"] == "sync_standby" and m["state"] in ("streaming", "running") for m in ms)
        return 0 if ok else 1
    if mode == "stream":
        views = [stream(n) for n in ("nats-1", "nats-2", "nats-3") if pid_of(n)]
        return 0 if any(v and v[0] and v[1] == 2 for v in views) else 1
    table = rows()
    if mode == "json":
        print(json.dumps(table, indent=2))
        return 0
    print("  %-8s %-8s %-6s %-22s %s" % ("NAME", "PID", "PORT", "ROLE", "READY"))
    for r in table:
        print("  %-8s %-8s %-6s %-22s %s" % (r["name"], r["pid"] or "-", r["port"], r["role"],
                                            "yes" if r["ready"] else "no"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "table"))
