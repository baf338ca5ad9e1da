#!/usr/bin/env bash
# Installs the Debian 12 packages needed to build, run and test the order service.
# Idempotent and fast when everything is present (one dpkg-query, no apt-get update).
#
#   scripts/install-deps.sh            everything: build + run + tests + deploy checks + load tools
#   scripts/install-deps.sh --build    only what compiles the services (Dockerfile build stage)
#   scripts/install-deps.sh --runtime  only what the built services need at run time (Docker image)
#   scripts/install-deps.sh --stack    build + run the local stack (deploy/local/stack.sh)
#   scripts/install-deps.sh --ha       the local stack + its HA topology (stack.sh up --ha)
#   scripts/install-deps.sh --check    exit 1 and list what is missing, install nothing
set -euo pipefail

BUILD_PKGS=(build-essential cmake ninja-build pkg-config libpqxx-dev libpq-dev libssl-dev libboost1.81-dev
  libnats-dev nlohmann-json3-dev python3-yaml zlib1g-dev)
RUNTIME_PKGS=(libpqxx-6.4 libpq5 libnats3.4 ca-certificates curl)
TEST_PKGS=(ccache postgresql nats-server googletest libgtest-dev util-linux procps curl jq
  python3-jsonschema docker-compose wrk hyperfine clang libclang-rt-14-dev clang-format clang-tidy
  prometheus chromium chromium-driver python3-selenium patroni python3-etcd etcd-server haproxy)
# The HA topology (deploy/local/ha.sh): Patroni on etcd, haproxy in front of the replicas.
HA_PKGS=(patroni python3-etcd etcd-server haproxy)

mode=all
case "${1:-}" in
  "" | --all) mode=all ;;
  --build) mode=build ;;
  --runtime) mode=runtime ;;
  --stack) mode=stack ;;
  --ha) mode=ha ;;
  --check) mode=check ;;
  -h | --help)
    awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
    exit 0
    ;;
  *)
    echo "install-deps.sh: unknown option '$1' (try --help)" >&2
    exit 2
    ;;
esac

case "$mode" in
  build) wanted=("${BUILD_PKGS[@]}") ;;
  runtime) wanted=("${RUNTIME_PKGS[@]}") ;;
  stack) wanted=("${BUILD_PKGS[@]}" "${RUNTIME_PKGS[@]}" ccache postgresql nats-server util-linux procps jq) ;;
  ha) wanted=("${BUILD_PKGS[@]}" "${RUNTIME_PKGS[@]}" ccache postgresql nats-server util-linux procps jq
    "${HA_PKGS[@]}") ;;
  *) wanted=("${BUILD_PKGS[@]}" "${RUNTIME_PKGS[@]}" "${TEST_PKGS[@]}" "${HA_PKGS[@]}") ;;
esac

if ! command -v dpkg-query >/dev/null 2>&1; then
  echo "install-deps.sh: this script supports Debian 12 (bookworm) only (no dpkg-query found)." >&2
  exit 1
fi

missing=()
for pkg in "${wanted[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
  if [[ "$status" != "installed" ]]; then
    missing+=("$pkg")
  fi
done
# Deduplicate (curl is in two lists).
if ((${#missing[@]} > 0)); then
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
fi

if ((${#missing[@]} == 0)); then
  echo "install-deps.sh: all ${#wanted[@]} packages present."
  exit 0
fi

if [[ "$mode" == check ]]; then
  echo "install-deps.sh: missing: ${missing[*]}"
  exit 1
fi

echo "install-deps.sh: installing: ${missing[*]}"
if [[ $(id -u) -eq 0 ]]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1; then
  SUDO=(sudo)
else
  echo "install-deps.sh: not root and no sudo. As root, run:" >&2
  echo "  apt-get update && apt-get install -y --no-install-recommends ${missing[*]}" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt_install() {
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@"
}
# apt-get update only when needed: no package lists yet, or installing fails with the current ones.
if ! compgen -G "/var/lib/apt/lists/*_Packages" >/dev/null || ! apt_install "${missing[@]}"; then
  "${SUDO[@]}" apt-get update
  apt_install "${missing[@]}"
fi
echo "install-deps.sh: done."
