"""End-to-end fixtures: a sandbox gateway, JupyterLab, Voila and headless Chromium.

Everything is real and local: the sandbox gateway runs in this process on 127.0.0.1; a
JupyterLab server (and, for its test, a Voila server) runs as a child process on a free port
with its config, runtime, settings and workspace directories in a temporary folder, and
gets the sandbox's URL and key through ``VIDEOGEN_BASE_URL``/``VIDEOGEN_API_KEY``; Debian's
``/usr/bin/chromium`` is driven by Playwright (never a downloaded browser).

Without Chromium (``scripts/test.sh`` installs it when it runs as root), or without
Playwright, JupyterLab or Voila, the whole suite is skipped with the reason.

Each test gets an ``E2E`` helper (``e2e`` fixture) that saves a screenshot per step; when a
test fails, the report gets a final screenshot, the list of screenshots, the browser
console and the tail of the server log (``pytest_runtest_makereport`` below).
"""

from __future__ import annotations

import importlib.util
import json
import os
import pathlib
import secrets
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from harness import (
    CHROMIUM,
    CHROMIUM_ARGS,
    E2E,
    ROOT,
    TASK_SECONDS,
    LabNotebook,
    Server,
    start_server,
    write_notebooks,
)

import videogen_nb as vg


def _missing_requirements() -> str | None:
    for module in ("playwright", "jupyterlab", "voila", "ipykernel"):
        if importlib.util.find_spec(module) is None:
            return (
                f"the Python package {module!r} is not installed (pip install 'videogen-nb[e2e]')"
            )
    if not CHROMIUM.is_file() or not os.access(CHROMIUM, os.X_OK):
        how = (
            "run scripts/test.sh as root to install it (apt-get install chromium)"
            if shutil.which("apt-get")
            else "install Chromium there or set VIDEOGEN_E2E_CHROMIUM"
        )
        return f"no Chromium at {CHROMIUM}: {how}"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip every e2e test, with the reason, when the browser stack is not there."""
    reason = _missing_requirements()
    here = pathlib.Path(__file__).parent
    for item in items:
        if here in pathlib.Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.e2e)
            if reason and _required():
                # under scripts/test.sh and CI a missing browser is a failure, never a skip
                item.add_marker(pytest.mark.usefixtures("_browser_stack_required"))
            elif reason:
                item.add_marker(pytest.mark.skip(reason=f"end-to-end suite skipped: {reason}"))


def _required() -> bool:
    """True under scripts/test.sh (which exports VIDEOGEN_LITELLM) and under CI."""
    return bool(os.environ.get("CI") or os.environ.get("VIDEOGEN_LITELLM"))


@pytest.fixture
def _browser_stack_required() -> None:
    reason = _missing_requirements()
    if reason:
        pytest.fail(f"the browser suite must run here: {reason}")


@pytest.fixture(scope="package")
def e2e_root(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """The session's temporary folder: servers' dirs, notebooks, screenshots."""
    return tmp_path_factory.mktemp("e2e")


@pytest.fixture(scope="package")
def e2e_sandbox() -> Iterator[Any]:
    """The sandbox gateway every kernel of the suite talks to."""
    handle = vg.sandbox.start(task_seconds=TASK_SECONDS)
    yield handle
    handle.stop()


@pytest.fixture(scope="package")
def server_env(e2e_root: pathlib.Path, e2e_sandbox: Any) -> dict[str, str]:
    """The environment of the Jupyter/Voila servers (and so of their kernels)."""
    jupyter = e2e_root / "jupyter"
    dirs = {
        "JUPYTER_CONFIG_DIR": jupyter / "config",
        "JUPYTER_RUNTIME_DIR": jupyter / "runtime",
        "JUPYTERLAB_SETTINGS_DIR": jupyter / "settings",
        "JUPYTERLAB_WORKSPACES_DIR": jupyter / "workspaces",
        "IPYTHONDIR": jupyter / "ipython",
    }
    for path in dirs.values():
        path.mkdir(parents=True, exist_ok=True)
    # JUPYTER_DATA_DIR stays: the venv's data dir holds the kernelspec and the widget
    # lab extensions (ipywidgets, anywidget) the pages need.
    config = {
        "ServerApp": {"open_browser": False, "port_retries": 0},
        "LabApp": {
            "news_url": None,
            "check_for_updates_class": "jupyterlab.handlers.announcements.NeverCheckForUpdate",
            # window.jupyterapp: the tests drive Lab through its command registry
            "expose_app_in_browser": True,
        },
    }
    (dirs["JUPYTER_CONFIG_DIR"] / "jupyter_server_config.json").write_text(json.dumps(config))
    settings = dirs["JUPYTERLAB_SETTINGS_DIR"]
    overrides = {
        # No news, no update check: no request leaves the machine, no toast to dismiss.
        "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
            "fetchNews": "false",
            "checkForUpdates": False,
        },
        # Every cell in the DOM, so the tests see outputs that are scrolled away.
        "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    }
    for name, value in overrides.items():
        target = settings / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(value))
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.update({k: str(v) for k, v in dirs.items()})
    env.update(
        VIDEOGEN_BASE_URL=e2e_sandbox.base_url,
        VIDEOGEN_API_KEY=e2e_sandbox.api_key,
        JUPYTER_PLATFORM_DIRS="1",
        PATH=f"{pathlib.Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    )
    return env


@pytest.fixture(scope="package")
def jupyter_lab(e2e_root: pathlib.Path, server_env: dict[str, str]) -> Iterator[Server]:
    """JupyterLab on 127.0.0.1 (random port, random token), serving the notebooks."""
    root = e2e_root / "lab"
    write_notebooks(root)
    token = secrets.token_hex(16)

    def command(port: int) -> list[str]:
        return [
            sys.executable,
            "-m",
            "jupyter",
            "lab",
            "--no-browser",
            "--allow-root",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={root}",
        ]

    server = start_server(
        "JupyterLab",
        command,
        env=server_env,
        cwd=root,
        token=token,
        log_path=e2e_root / "jupyterlab.log",
        ready_path="/api/status",
    )
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="package")
def notebook7(e2e_root: pathlib.Path, server_env: dict[str, str]) -> Iterator[Server]:
    """Notebook 7 (the ``notebook`` package) on 127.0.0.1, options as ``jupyter_lab``'s."""
    if importlib.util.find_spec("notebook") is None:
        reason = "the Python package 'notebook' is not installed (pip install 'videogen-nb[e2e]')"
        if _required():
            pytest.fail(f"the browser suite must run here: {reason}")
        pytest.skip(reason)
    root = e2e_root / "notebook7"
    write_notebooks(root)
    token = secrets.token_hex(16)

    def command(port: int) -> list[str]:
        return [
            sys.executable,
            "-m",
            "jupyter",
            "notebook",
            "--no-browser",
            "--allow-root",
            # window.jupyterapp, as LabApp.expose_app_in_browser gives JupyterLab
            "--JupyterNotebookApp.expose_app_in_browser=True",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={root}",
        ]

    server = start_server(
        "Notebook 7",
        command,
        env=server_env,
        cwd=root,
        token=token,
        log_path=e2e_root / "notebook7.log",
        ready_path="/api/status",
    )
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def voila_server(
    e2e_root: pathlib.Path, server_env: dict[str, str]
) -> Iterator[Callable[[str], Server]]:
    """``voila_server(notebook_name)``: Voila serving that notebook as an app."""
    servers: list[Server] = []

    def start(name: str) -> Server:
        root = e2e_root / f"voila-{len(servers)}"
        write_notebooks(root)

        def command(port: int) -> list[str]:
            return [
                sys.executable,
                "-m",
                "voila",
                name,
                f"--port={port}",
                "--no-browser",
                "--Voila.ip=127.0.0.1",
                "--Voila.port_retries=0",
                "--show_tracebacks=True",
                # Notebook 7's Lab extension (installed for its own browser test) expects
                # Notebook's shared modules, which Voila's page does not provide: loading it
                # logs "The getter for the shared module is not a function".
                "--VoilaConfiguration.extension_denylist=['@jupyter-notebook/lab-extension']",
            ]

        # Not "/": that would start a kernel and run the notebook. Any answer means it listens.
        server = start_server(
            "Voila",
            command,
            env=server_env,
            cwd=root,
            token=None,
            log_path=e2e_root / f"voila-{len(servers)}.log",
            ready_path="/voila/static/",
            any_status=True,
        )
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


# -- the browser --------------------------------------------------------------------------


@pytest.fixture(scope="package")
def browser_context(e2e_root: pathlib.Path) -> Iterator[Any]:
    """One headless Chromium (Debian's) with a fresh profile, for the whole session."""
    from playwright.sync_api import sync_playwright

    profile = tempfile.mkdtemp(prefix="profile-", dir=e2e_root)
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 1000},
        )
        context.set_default_timeout(60_000)
        try:
            yield context
        finally:
            context.close()


@pytest.fixture
def e2e(
    browser_context: Any, e2e_root: pathlib.Path, request: pytest.FixtureRequest
) -> Iterator[E2E]:
    """A fresh page for one test, with step screenshots under the session's temp dir."""
    shots = e2e_root / "screenshots" / request.node.name.replace("/", "_")
    shots.mkdir(parents=True, exist_ok=True)
    page = browser_context.new_page()
    helper = E2E(page, shots)
    request.node._e2e = helper
    yield helper
    page.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Iterator[None]:
    """On failure, attach a last screenshot, the step screenshots, the browser console and
    the servers' log tails to the report."""
    outcome = yield
    report = outcome.get_result()
    helper: E2E | None = getattr(item, "_e2e", None)
    if helper is None or report.when != "call" or not report.failed:
        return
    helper.step("failure")
    report.sections.append(
        ("e2e screenshots", "\n".join(str(p) for p in helper.screenshots) or "(none)")
    )
    report.sections.append(("browser console", "\n".join(helper.console[-80:]) or "(empty)"))
    servers = list(helper.servers)
    lab = item.funcargs.get("jupyter_lab") if hasattr(item, "funcargs") else None
    if isinstance(lab, Server) and lab not in servers:
        servers.append(lab)
    for server in servers:
        report.sections.append((f"{server.name} log (tail)", server.log_tail()))


@pytest.fixture
def open_notebook(e2e: E2E, jupyter_lab: Server) -> Iterator[Callable[[str], LabNotebook]]:
    """``open_notebook(name)``: that notebook open in JupyterLab; kernels end afterwards."""
    opened: list[LabNotebook] = []
    e2e.servers.append(jupyter_lab)

    def open_(name: str) -> LabNotebook:
        notebook = LabNotebook(e2e, jupyter_lab, name).open()
        opened.append(notebook)
        return notebook

    yield open_
    if opened:
        opened[0].shutdown()
