#!/usr/bin/env bash
# The whole test suite on a fresh machine: builds .venv, installs Chromium for the browser
# tests when it can (root + apt), builds the pinned LiteLLM proxy for the conformance tests
# in .cache/litellm-venv, runs ruff (lint and format), mypy and pytest. Extra arguments go to pytest
# (`bash scripts/test.sh -m conformance` runs the conformance suite alone).
set -euo pipefail
source "$(dirname "$0")/_venv.sh"
if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing Debian's chromium for the end-to-end tests..."
  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
source "$(dirname "$0")/_litellm_venv.sh"
# The house rules first: lint (complexity included), formatting, types.
ruff check videogen_nb tests benchmarks scripts
ruff format --check videogen_nb tests benchmarks scripts
mypy
status=0
python -m pytest "$@" || status=$?
# pytest's 5 means "no tests collected": that is a broken suite here, never a pass.
exit $status
