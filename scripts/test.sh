#!/usr/bin/env bash
# The whole test suite on a fresh machine: builds .venv, installs Chromium for the browser
# tests when it can (root + apt), runs ruff and pytest. Extra arguments go to pytest.
set -euo pipefail
source "$(dirname "$0")/_venv.sh"
if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing Debian's chromium for the end-to-end tests..."
  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
ruff check videogen_nb tests benchmarks
status=0
python -m pytest "$@" || status=$?
# pytest's 5 means "no tests collected": that is a broken suite here, never a pass.
exit $status
