#!/usr/bin/env bash
# The observability pack (deploy/observability) against Debian's promtool, no server needed:
#   promtool_test.sh check-config   promtool check config of the compose prometheus.yml and of the
#                                   loopback variant deploy/local/observability.sh writes (auth on/off)
#   promtool_test.sh check-rules    promtool check rules alerts.yml; every alert has a `for:`, a
#                                   severity and a runbook_url whose anchor is a docs/operations.md heading
#   promtool_test.sh test-rules     promtool test rules alerts_test.yml; each alert has a case where
#                                   it fires and one where it does not
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
OBS="$ROOT/deploy/observability"
command -v promtool >/dev/null || { echo "SKIP: promtool not installed (Debian package prometheus)"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

check_config() {
  mkdir -p "$tmp/compose"
  cp "$OBS/prometheus.yml" "$OBS/alerts.yml" "$tmp/compose/"
  printf 'token' >"$tmp/compose/admin_token"  # the compose entrypoint writes it
  promtool check config "$tmp/compose/prometheus.yml"
  # The loopback variant, written by the functions stack.sh uses.
  local token
  for token in local-admin ""; do
    (
      # shellcheck disable=SC2034  # read by the sourced observability.sh
      DATA="$tmp/local-${token:-noauth}" WRITE_PORT=18080 READ_PORT=18081 READ_PORT2=18082 ADMIN_TOKEN=$token
      # shellcheck source=SCRIPTDIR/../../deploy/local/observability.sh
      source "$ROOT/deploy/local/observability.sh"
      obs_write_config
      conf="$OBS_DIR/config/prometheus.yml"
      promtool check config "$conf"
      for port in 18080 18081 18082; do
        grep -q "\"127.0.0.1:$port\"" "$conf" || { echo "FAIL: target 127.0.0.1:$port missing in $conf"; exit 1; }
      done
      if [[ -n "$token" ]]; then
        grep -q 'credentials_file: admin_token' "$conf" || { echo "FAIL: auth on but no token"; exit 1; }
      elif grep -q 'authorization:' "$conf"; then
        echo "FAIL: auth off but $conf still sends a token"
        exit 1
      fi
      echo "ok   loopback variant (ADMIN_TOKEN=${token:-empty})"
    )
  done
}

check_rules() {
  promtool check rules "$OBS/alerts.yml"
  python3 - "$OBS/alerts.yml" "$ROOT/docs/operations.md" <<'PY'
import re, sys, yaml
rules = [r for g in yaml.safe_load(open(sys.argv[1]))["groups"] for r in g["rules"] if "alert" in r]
def slug(h):  # GitHub's heading anchors
    return re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-")
anchors = {slug(l.lstrip("#")) for l in open(sys.argv[2]) if l.startswith("#")}
errors = 0
for r in rules:
    url = r.get("annotations", {}).get("runbook_url", "")
    problems = []
    if "for" not in r: problems.append("no for:")
    if r.get("labels", {}).get("severity") not in ("critical", "warning"): problems.append("no severity")
    if not url.startswith("docs/operations.md#") or url.split("#", 1)[1] not in anchors:
        problems.append(f"runbook_url {url!r} is not a heading of docs/operations.md")
    print(("FAIL " if problems else "ok   ") + r["alert"] + (": " + ", ".join(problems) if problems else ""))
    errors += bool(problems)
sys.exit(1 if errors or len(rules) < 7 else 0)
PY
}

test_rules() {
  promtool test rules "$OBS/alerts_test.yml"
  python3 - "$OBS/alerts.yml" "$OBS/alerts_test.yml" <<'PY'
import sys, yaml
alerts = [r["alert"] for g in yaml.safe_load(open(sys.argv[1]))["groups"] for r in g["rules"] if "alert" in r]
cases = [c for t in yaml.safe_load(open(sys.argv[2]))["tests"] for c in t.get("alert_rule_test", [])]
errors = 0
for a in alerts:
    fires = any(c["alertname"] == a and c.get("exp_alerts") for c in cases)
    quiet = any(c["alertname"] == a and not c.get("exp_alerts") for c in cases)
    ok = fires and quiet
    print(("ok   " if ok else "FAIL ") + f"{a}: a case where it fires: {fires}, where it does not: {quiet}")
    errors += not ok
sys.exit(1 if errors else 0)
PY
}

case "${1:-}" in
  check-config) check_config ;;
  check-rules) check_rules ;;
  test-rules) test_rules ;;
  *)
    echo "usage: $0 check-config|check-rules|test-rules" >&2
    exit 64
    ;;
esac
