#!/usr/bin/env bash
# Installs what packages/fastify/test/nginx.test.ts needs: Debian's nginx and its njs
# module (libnginx-mod-http-js, for logging response bodies). Non-interactive and
# idempotent: does nothing when both are installed.
#
# The test starts its own nginx (own config, port, logs, in a temporary directory), so
# the system service is not wanted: it is kept from starting during the installation
# (a temporary policy-rc.d, unless one exists already), and stopped if it runs anyway.
set -euo pipefail

PACKAGES=(nginx libnginx-mod-http-js)

installed() {
  dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null | grep -qx installed
}

missing=()
for package in "${PACKAGES[@]}"; do
  installed "$package" || missing+=("$package")
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "== nginx: ${PACKAGES[*]} already installed"
else
  if [ "$(id -u)" -eq 0 ]; then SUDO=(); else SUDO=(sudo -n); fi
  export DEBIAN_FRONTEND=noninteractive
  echo "== nginx: installing ${missing[*]}"

  # Keep apt from starting the system nginx (it would bind port 80, and a busy port 80
  # would make the package's configuration step fail).
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

  # If the service started anyway, stop it and keep it from starting at boot.
  if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    "${SUDO[@]}" systemctl disable --now nginx >/dev/null 2>&1 || true
  elif [ -s /run/nginx.pid ] && kill -0 "$(cat /run/nginx.pid)" 2>/dev/null; then
    "${SUDO[@]}" service nginx stop >/dev/null 2>&1 || true
  fi
fi

nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
"$nginx_bin" -v
test -f /usr/lib/nginx/modules/ngx_http_js_module.so || { echo "ngx_http_js_module.so is missing after installing libnginx-mod-http-js" >&2; exit 1; }
