#!/usr/bin/env bash
# Installs what packages/fastify/test/nginx.test.ts needs: Debian's nginx and its njs module
# (libnginx-mod-http-js, for logging response bodies). The test starts its own nginx (own
# config, port, logs, in a temporary directory); the system service is kept from starting
# (it would bind port 80).
set -euo pipefail
. "$(dirname "$0")/apt-install.sh"

install_service_packages nginx nginx /run/nginx.pid nginx libnginx-mod-http-js

nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
"$nginx_bin" -v
test -f /usr/lib/nginx/modules/ngx_http_js_module.so || { echo "ngx_http_js_module.so is missing after installing libnginx-mod-http-js" >&2; exit 1; }
