"""Fixtures of the conformance suite: the OpenAI-style upstream and a real LiteLLM proxy.

The proxy is the pinned LiteLLM that ``scripts/test.sh`` installs into
``.cache/litellm-venv`` (``scripts/_litellm_venv.sh``); it is started once for this
folder's tests as a subprocess bound to 127.0.0.1 (about 8 s to be ready) and killed after
them. A missing proxy is a failure, saying how to build it: the suite must never pass by
not running. Only a bare ``pytest`` run outside ``scripts/test.sh`` and CI (neither
``VIDEOGEN_LITELLM`` nor ``CI`` set) skips these tests instead, with the same message. ``-m conformance`` runs this folder alone.
"""

from __future__ import annotations

import os
import pathlib
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import attrs
import pytest

from tests.conformance.upstream import UPSTREAM_KEY, OpenAIVideoUpstream

ROOT = pathlib.Path(__file__).resolve().parents[2]
LITELLM = pathlib.Path(
    os.environ.get("VIDEOGEN_LITELLM", ROOT / ".cache" / "litellm-venv" / "bin" / "litellm")
)
LITELLM_MASTER_KEY = "sk-conformance-master"
#: the model name the proxy serves, routed to the upstream
LITELLM_MODEL = "sora-2"
READY_TIMEOUT = 90.0

CONFIG = """\
model_list:
  - model_name: {model}
    litellm_params:
      model: openai/{model}
      api_base: {api_base}
      api_key: {upstream_key}
router_settings:
  # The client's own handling of a 429 is under test: the proxy passes it on, untried.
  num_retries: 0
litellm_settings:
  num_retries: 0
general_settings:
  master_key: {master_key}
"""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test in this folder carries the ``conformance`` mark (``-m conformance``)."""
    here = pathlib.Path(__file__).parent
    for item in items:
        if here in pathlib.Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.conformance)


@attrs.define(frozen=True, kw_only=True)
class Proxy:
    """A running LiteLLM proxy: where it listens and the key it accepts."""

    base_url: str
    api_key: str
    log: pathlib.Path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_ready(url: str, process: subprocess.Popen[bytes], log: pathlib.Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"litellm exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.25)
    pytest.fail(f"litellm was not ready within {READY_TIMEOUT:.0f} s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="package")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpenAIVideoUpstream]:
    """The OpenAI-style video server, shared by this folder's tests (2-second jobs)."""
    server = OpenAIVideoUpstream(tmp_path_factory.mktemp("upstream")).start()
    yield server
    server.stop()


@pytest.fixture(scope="package")
def litellm_proxy(
    upstream: OpenAIVideoUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Proxy]:
    """The pinned LiteLLM proxy in front of ``upstream``, on a free port of 127.0.0.1."""
    if not LITELLM.exists():
        reason = f"the pinned LiteLLM is not installed at {LITELLM}; bash scripts/test.sh builds it"
        # scripts/test.sh exports VIDEOGEN_LITELLM after building the proxy: if it is set
        # and the proxy is still missing, the build went wrong and that must not pass.
        if os.environ.get("CI") or os.environ.get("VIDEOGEN_LITELLM"):
            pytest.fail(reason)
        pytest.skip(reason)
    workdir = tmp_path_factory.mktemp("litellm")
    config = workdir / "config.yaml"
    config.write_text(
        CONFIG.format(
            model=LITELLM_MODEL,
            api_base=upstream.base_url,
            upstream_key=UPSTREAM_KEY,
            master_key=LITELLM_MASTER_KEY,
        )
    )
    port = _free_port()
    log = workdir / "litellm.log"
    env = {
        **os.environ,
        # Use the cost map shipped in the package instead of fetching one at start-up.
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "LITELLM_TELEMETRY": "False",
        "NO_PROXY": "127.0.0.1,localhost",
    }
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(LITELLM), "--config", str(config), "--host", "127.0.0.1", "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=workdir,
            env=env,
        )
    try:
        _wait_ready(f"http://127.0.0.1:{port}/health/liveliness", process, log)
        yield Proxy(base_url=f"http://127.0.0.1:{port}", api_key=LITELLM_MASTER_KEY, log=log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
