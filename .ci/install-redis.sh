#!/usr/bin/env bash
# Installs what packages/redis/test and bench/stores.mjs need: Debian's redis-server (with
# redis-tools: redis-cli for the cluster test). The tests start their own redis-server
# processes (own port, own data directory, AOF with appendfsync always); the system service
# is kept from starting (it would bind port 6379).
set -euo pipefail
. "$(dirname "$0")/apt-install.sh"

install_service_packages redis redis-server /run/redis/redis-server.pid redis-server

redis_bin=$(command -v redis-server || echo /usr/bin/redis-server)
test -x "$redis_bin" || { echo "redis-server is missing after installing it" >&2; exit 1; }
command -v redis-cli >/dev/null || { echo "redis-cli (redis-tools) is missing after installing redis-server" >&2; exit 1; }
"$redis_bin" --version
