# Sourced by test.sh after _venv.sh: build .cache/litellm-venv, a venv of its own holding
# exactly one pinned LiteLLM proxy for the conformance tests (tests/conformance), so its many
# dependencies (about 750 MB) stay out of .venv. Built once (about 40 s from PyPI); a stamp
# naming the pin makes an unchanged pin cost nothing, a changed one rebuilds.
# The pin is one exact version, never a range: two LiteLLM releases (1.82.7, 1.82.8) were
# compromised on PyPI, so a new version comes in only by editing this line on purpose.
LITELLM_PIN="litellm[proxy]==1.106.12"
LITELLM_VENV="$ROOT/.cache/litellm-venv"
LITELLM_STAMP="$LITELLM_VENV/.litellm-installed"
if [ ! -f "$LITELLM_STAMP" ] || [ "$(cat "$LITELLM_STAMP")" != "$LITELLM_PIN" ]; then
  echo "building $LITELLM_VENV ($LITELLM_PIN) for the conformance tests..."
  started=$SECONDS
  rm -rf "$LITELLM_VENV"
  "$VENV/bin/python" -m venv "$LITELLM_VENV"
  "$LITELLM_VENV/bin/python" -m pip install --quiet --upgrade pip
  "$LITELLM_VENV/bin/python" -m pip install --quiet "$LITELLM_PIN"
  echo "$LITELLM_PIN" > "$LITELLM_STAMP"
  echo "built $LITELLM_VENV in $((SECONDS - started)) s ($(du -sh "$LITELLM_VENV" | cut -f1))"
fi
# The conformance fixtures start this executable (tests/conformance/conftest.py).
export VIDEOGEN_LITELLM="$LITELLM_VENV/bin/litellm"
