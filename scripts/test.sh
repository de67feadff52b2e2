#!/usr/bin/env bash
# The project's test command (the README's, and CI's through .ci/run):
#   1. the Debian packages the tests need (mosquitto, mosquitto-clients, libffi-dev, libsqlite3-dev, python3-venv,
#      gcc, g++ and binutils, with which the plugin tests build C plugins, and openssl, with which the
#      TLS tests make their certificates), installed only when missing;
#   2. a Python virtualenv in .venv with tests/python/requirements.txt, refreshed when that file changes;
#   3. swift build (debug) and swift test;
#   4. the black-box suite: tests/python against .build/debug/starling.
# Extra arguments go to pytest, e.g. scripts/test.sh -k shared -x
# STARLING_TEST_BROKER=mosquitto runs the Python suite against Mosquitto instead (Swift still builds).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$(pwd)

say() { printf '\n==> %s\n' "$*"; }

# ---------------------------------------------------------------- Debian packages
# shellcheck source=scripts/debian-packages.sh
. scripts/debian-packages.sh
ensure_debian_packages mosquitto mosquitto-clients libffi-dev libsqlite3-dev python3-venv gcc g++ binutils openssl

# The tests start their own brokers: a Mosquitto started by the package must not be needed,
# and is left alone.

# ---------------------------------------------------------------- Python environment
req=tests/python/requirements.txt
venv=.venv
stamp=$venv/.requirements.sha256
want=$(sha256sum "$req" | cut -d' ' -f1)
if [ ! -x "$venv/bin/python" ]; then
  say "creating $venv"
  python3 -m venv "$venv"
fi
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
  say "installing $req into $venv"
  "$venv/bin/python" -m pip install --disable-pip-version-check -q -r "$req"
  echo "$want" >"$stamp"
fi

# ---------------------------------------------------------------- Swift
say "swift build"
swift build

status=0
say "swift test"
swift test || status=$?
if [ "$status" -ne 0 ]; then
  echo "scripts/test.sh: swift test failed (exit status $status); running the Python suite anyway" >&2
fi

# ---------------------------------------------------------------- black-box suite
say "python integration tests (${STARLING_TEST_BROKER:-starling})"
pytest_status=0
STARLING_TEST_BIN="${STARLING_TEST_BIN:-$repo/.build/debug/starling}" \
  "$venv/bin/python" -m pytest tests/python -q "$@" || pytest_status=$?

# pytest's closing line ("N passed, M failed ...") is the last summary printed.
if [ "$status" -ne 0 ]; then exit "$status"; fi
exit "$pytest_status"
