#!/usr/bin/env bash
# Installs what conformance/test/interop-python.test.ts needs: Debian's python3 with
# python3-cryptography and python3-cbor2, for the independent OSCORE peer in
# conformance/interop/ (run as /usr/bin/python3, which sees Debian's dist-packages).
# Plain packages, no service.
set -euo pipefail
. "$(dirname "$0")/apt-install.sh"

install_packages python python3 python3-cryptography python3-cbor2

/usr/bin/python3 -c 'import cryptography, cbor2, sys; print("python", sys.version.split()[0], "cryptography", cryptography.__version__)' || {
  echo "/usr/bin/python3 cannot import cryptography and cbor2 after installing python3-cryptography and python3-cbor2" >&2
  exit 1
}
