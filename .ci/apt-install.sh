# Sourced by the install-*.sh scripts: installs Debian packages of a service the tests run
# themselves, non-interactively and idempotently, without letting the system service start.
#
#   install_service_packages <label> <service> <pid-file> <package>...
#   install_packages <label> <package>...        (packages without a service)
#
# The tests start their own server processes (own ports, own directories), so the system
# service is not wanted: a temporary policy-rc.d (unless one exists) keeps apt from starting
# it, and if it started anyway it is stopped and disabled. A service that was there before is
# left alone.

installed() {
  dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null | grep -qx installed
}

# Sets MISSING to those of the given packages not installed yet, and SUDO to run apt as root.
find_missing() {
  MISSING=()
  local package
  for package in "$@"; do installed "$package" || MISSING+=("$package"); done
  if [ "$(id -u)" -eq 0 ]; then SUDO=(); else SUDO=(sudo -n); fi
}

install_packages() {
  local label=$1
  shift
  find_missing "$@"
  if [ "${#MISSING[@]}" -eq 0 ]; then
    echo "== $label: $* already installed"
    return 0
  fi
  echo "== $label: installing ${MISSING[*]}"
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${MISSING[@]}"
}

install_service_packages() {
  local label=$1 service=$2 pidfile=$3
  shift 3
  find_missing "$@"
  if [ "${#MISSING[@]}" -eq 0 ]; then
    echo "== $label: $* already installed"
    return 0
  fi
  local policy=/usr/sbin/policy-rc.d added_policy=false rc=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee "$policy" >/dev/null
    "${SUDO[@]}" chmod 755 "$policy"
    added_policy=true
  fi
  install_packages "$label" "$@" || rc=$?
  if [ "$added_policy" = true ]; then "${SUDO[@]}" rm -f "$policy"; fi
  [ "$rc" -eq 0 ] || return "$rc"
  if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    "${SUDO[@]}" systemctl disable --now "$service" >/dev/null 2>&1 || true
  elif [ -s "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    "${SUDO[@]}" service "$service" stop >/dev/null 2>&1 || true
  fi
}
