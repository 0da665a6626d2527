#!/usr/bin/env bash
# Installs what packages/redis/test needs: Debian's redis-server (and redis-tools, which
# it depends on, with redis-cli for the cluster test). Non-interactive and idempotent:
# does nothing when it is installed.
#
# The tests start their own redis-server processes (own port, own data directory in a
# temporary directory, AOF with appendfsync always), so the system service is not
# wanted: it is kept from starting during the installation (a temporary policy-rc.d,
# unless one exists already), and stopped and disabled if it started anyway.
set -euo pipefail

PACKAGES=(redis-server)

installed() {
  dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null | grep -qx installed
}

missing=()
for package in "${PACKAGES[@]}"; do
  installed "$package" || missing+=("$package")
done

if [ "$(id -u)" -eq 0 ]; then SUDO=(); else SUDO=(sudo -n); fi

if [ "${#missing[@]}" -eq 0 ]; then
  echo "== redis: ${PACKAGES[*]} already installed"
else
  export DEBIAN_FRONTEND=noninteractive
  echo "== redis: installing ${missing[*]}"

  # Keep apt from starting the system redis-server (it would bind port 6379).
  policy=/usr/sbin/policy-rc.d
  added_policy=false
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee "$policy" >/dev/null
    "${SUDO[@]}" chmod 755 "$policy"
    added_policy=true
  fi
  cleanup() { if [ "$added_policy" = true ]; then "${SUDO[@]}" rm -f "$policy"; fi; }
  trap cleanup EXIT

  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}"

  cleanup
  trap - EXIT

  # If the service started anyway, stop it and keep it from starting at boot. (A system
  # redis-server that was there before is left alone: the tests use their own ports.)
  if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    "${SUDO[@]}" systemctl disable --now redis-server >/dev/null 2>&1 || true
  elif [ -s /run/redis/redis-server.pid ] && kill -0 "$(cat /run/redis/redis-server.pid)" 2>/dev/null; then
    "${SUDO[@]}" service redis-server stop >/dev/null 2>&1 || true
  fi
fi

redis_bin=$(command -v redis-server || echo /usr/bin/redis-server)
test -x "$redis_bin" || { echo "redis-server is missing after installing ${PACKAGES[*]}" >&2; exit 1; }
command -v redis-cli >/dev/null || { echo "redis-cli (redis-tools) is missing after installing ${PACKAGES[*]}" >&2; exit 1; }
"$redis_bin" --version
