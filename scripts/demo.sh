#!/usr/bin/env bash
# The main job: the quickstart notebook against the built-in sandbox gateway (no key needed).
# With a display, JupyterLab opens on it; headless (CI, ssh), the notebook is executed and
# the script prints where the videos and the executed notebook are.
set -euo pipefail
source "$(dirname "$0")/_venv.sh"
exec videogen-nb demo "$@"
