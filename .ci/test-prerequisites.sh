#!/usr/bin/env bash
# npm's `pretest`: before `npm test`, the Debian packages of what some tests run themselves —
# nginx (the reverse-proxy test), redis-server (the Redis store and replicas) and python3
# with cryptography and cbor2 (the independent OSCORE peer) — are installed when missing.
# Each install script checks first and does nothing when its packages are there, so this
# costs a few dpkg queries on a machine that has them (CI has: .ci/run installs them).
#
# Installing needs root or password-less sudo and apt-get. Where that is not possible, it
# says so and `npm test` goes on: every other test runs, and those that need the missing
# program fail saying how to install it.
set -uo pipefail
cd "$(dirname "$0")/.."

for what in nginx redis python; do
  bash ".ci/install-$what.sh" ||
    echo "warning: .ci/install-$what.sh could not install what the tests of $what need (it needs apt-get, and root or sudo -n); those tests will fail, saying what is missing." >&2
done
exit 0
