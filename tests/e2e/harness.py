"""The end-to-end harness: server processes, the test-only notebooks, a page helper
with step screenshots, and JupyterLab driven through its own command registry.

The fixtures that put these together live in ``conftest.py``.
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import secrets
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import nbformat

ROOT = pathlib.Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
CHROMIUM = pathlib.Path(os.environ.get("VIDEOGEN_E2E_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Videos must play without a user gesture, and a hidden tab must not be throttled.
    "--autoplay-policy=no-user-gesture-required",
    "--disable-renderer-backgrounding",
    "--disable-background-timer-throttling",
]
#: third-party resources whose failed load is not an error of ours: Voila's page template
#: links FontAwesome from a CDN, which an offline machine cannot reach
IGNORED_RESOURCES = ("https://cdn.jsdelivr.net/npm/@fortawesome/",)
#: seconds a sandbox task takes in these tests: long enough to watch progress advance
TASK_SECONDS = 3.0
SERVER_START_TIMEOUT = 180.0
#: fresh ports tried when a server exits at start (another process took its port)
START_ATTEMPTS = 3
#: the models the test notebooks compare (all take 4 s videos and 16:9)
GRID_MODELS = ["kling-v3-std-silent", "veo_3_1-fast", "sora-2"]

# Test-only notebooks, written into the server's root at the start of the session. They
# use the real-gateway branch: the Jupyter server's environment points at the sandbox.
_CONNECT = "import json, videogen_nb as vg\nclient = vg.Client()"
TEST_NOTEBOOKS: dict[str, list[str]] = {
    "e2e_grid.ipynb": [
        _CONNECT,
        f"run = client.compare(prompt='e2e: three clocks', models={GRID_MODELS!r},\n"
        "                     aspect_ratio='16:9', duration=4)\n"
        "run.wait()\n"
        "assert all(r.ok for r in run.results), run.results",
        "grid = vg.ComparisonGrid(run.results)\ngrid",
    ],
    "e2e_blind.ipynb": [
        _CONNECT,
        f"run = client.compare(prompt='e2e: blind row', models={GRID_MODELS!r},\n"
        "                     aspect_ratio='16:9', duration=4)\n"
        "run.wait()\n"
        "assert all(r.ok for r in run.results), run.results",
        "grid = vg.ComparisonGrid(run.results, blind=True, journal=client.journal,"
        " run_id=run.run_id)\ngrid",
        "print(json.dumps({'votes': grid.votes,\n"
        "                  'journal': len(client.journal.votes(run_id=run.run_id))}))",
    ],
    "e2e_busy.ipynb": [
        "import time, videogen_nb as vg\nclient = vg.Client()",
        "run = client.compare(prompt=[f'e2e: busy {i}' for i in range(10)],\n"
        "                     models=['kling-v3-std-silent', 'veo_3_1-fast'],\n"
        "                     aspect_ratio='16:9', duration=3, concurrency=20)\n"
        "run",
        "print('pong', len(run.rows), sum(not row.state.is_finished for row in run.rows))",
        "run.cancel()",
    ],
    "e2e_studio.ipynb": [
        "import videogen_nb as vg\nclient = vg.Client()\nstudio = vg.Studio(client)\nstudio",
        "print('launched', studio.launched, studio.run is None)",
    ],
}


# -- processes ---------------------------------------------------------------------------


def free_port() -> int:
    """A port nobody listens on now (the server binds it right after; port_retries=0
    makes a lost race fail loudly instead of silently moving)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerExitedError(RuntimeError):
    """The server process ended before it answered."""


class Server:
    """A child server process (JupyterLab or Voila) and where to reach it."""

    def __init__(
        self,
        name: str,
        command: list[str],
        *,
        env: dict[str, str],
        cwd: pathlib.Path,
        port: int,
        token: str | None,
        log_path: pathlib.Path,
    ) -> None:
        self.name = name
        self.port = port
        self.token = token
        self.log_path = log_path
        self.base = f"http://127.0.0.1:{port}"
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        # Its own process group: stop() ends the server and every kernel it started.
        self.process = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def url(self, path: str) -> str:
        """``path`` on this server, with the token when there is one."""
        if not self.token:
            return self.base + path
        sep = "&" if "?" in path else "?"
        return f"{self.base}{path}{sep}token={self.token}"

    def wait_ready(
        self, path: str, timeout: float = SERVER_START_TIMEOUT, *, any_status: bool = False
    ) -> None:
        """Wait until ``GET path`` answers 200 (any HTTP answer with ``any_status``);
        bounded, and failing with the log if the process dies."""
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerExitedError(
                    f"{self.name} exited with {self.process.returncode}:\n{self.log_tail()}"
                )
            try:
                with urllib.request.urlopen(self.url(path), timeout=5) as response:
                    if response.status == 200:
                        return
            except urllib.error.HTTPError as exc:
                if any_status:
                    return
                last = exc
            except (urllib.error.URLError, OSError) as exc:
                last = exc
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} not ready after {timeout} s ({last}):\n{self.log_tail()}")

    def api(self, method: str, path: str) -> Any:
        """A call to the server's REST API (JSON answer, or None)."""
        request = urllib.request.Request(self.url(path), method=method)
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
        return json.loads(body) if body else None

    def log_tail(self, lines: int = 60) -> str:
        """The end of the server's log."""
        self._log.flush()
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        """SIGTERM the process group, then SIGKILL what is left (bounded)."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)  # kernels that outlived the server
        self._log.close()


def start_server(
    name: str,
    command: Callable[[int], list[str]],
    *,
    env: dict[str, str],
    cwd: pathlib.Path,
    token: str | None,
    log_path: pathlib.Path,
    ready_path: str,
    any_status: bool = False,
) -> Server:
    """Start ``command(port)`` on a free port and wait until it answers ``ready_path``.

    A free port can be taken by another process between the check and the server's bind
    (the servers run with port_retries=0, so they exit rather than move): then it is tried
    again on a new port, a few times.
    """
    for attempt in range(1, START_ATTEMPTS + 1):
        port = free_port()
        server = Server(
            name, command(port), env=env, cwd=cwd, port=port, token=token, log_path=log_path
        )
        try:
            server.wait_ready(ready_path, any_status=any_status)
        except ServerExitedError:
            server.stop()
            if attempt == START_ATTEMPTS:
                raise
            continue
        except BaseException:
            server.stop()
            raise
        return server
    raise AssertionError("unreachable")


def write_notebooks(target: pathlib.Path) -> None:
    """The project's notebooks and the test-only ones, into ``target``."""
    target.mkdir(parents=True, exist_ok=True)
    for source in NOTEBOOKS.glob("*.ipynb"):
        shutil.copyfile(source, target / source.name)
    for name, cells in TEST_NOTEBOOKS.items():
        nb = nbformat.v4.new_notebook()
        nb.metadata = {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}
        }
        nb.cells = [nbformat.v4.new_code_cell(src) for src in cells]
        nbformat.write(nb, target / name)


class E2E:
    """One test's page, its screenshots and what the browser console said."""

    def __init__(self, page: Any, shots: pathlib.Path) -> None:
        self.page = page
        self.shots = shots
        self.screenshots: list[pathlib.Path] = []
        self.console: list[str] = []
        self.errors: list[str] = []
        self.servers: list[Server] = []
        page.on("console", self._on_console)
        page.on("pageerror", lambda exc: self.errors.append(f"page error: {exc}"))
        page.on(
            "requestfailed",
            lambda req: self.console.append(
                f"[request failed] {req.method} {req.url}: {req.failure}"
            ),
        )

    def _on_console(self, message: Any) -> None:
        url = (message.location or {}).get("url", "")
        line = f"[{message.type}] {message.text}" + (f" ({url})" if url else "")
        self.console.append(line)
        if message.type == "error" and not url.startswith(IGNORED_RESOURCES):
            self.errors.append(line)

    def step(self, name: str, focus: str | None = None) -> pathlib.Path:
        """Screenshot the page as step ``name`` (scrolled to the element ``focus`` first)."""
        path = self.shots / f"{len(self.screenshots) + 1:02d}-{name}.png"
        try:
            if focus is not None:
                self.page.locator(focus).last.scroll_into_view_if_needed(timeout=5_000)
            self.page.screenshot(path=str(path), full_page=True, timeout=15_000)
        except Exception as exc:  # a screenshot must never be why a test fails
            self.console.append(f"[screenshot failed] {name}: {exc}")
            return path
        self.screenshots.append(path)
        return path


# -- JupyterLab pages ---------------------------------------------------------------------

# JavaScript run in the page. `jupyterapp` is there because of expose_app_in_browser.
_JS_PANEL = """
(name) => {
  const app = window.jupyterapp;
  if (!app || !app.shell) return null;
  for (const w of app.shell.widgets('main')) {
    if (w.context && w.context.path === name && w.content && w.content.widgets) return w;
  }
  return null;
}
"""
_JS_READY = f"""
(name) => {{
  const w = ({_JS_PANEL})(name);
  if (!w || !w.context.isReady) return false;
  const kernel = w.sessionContext.session && w.sessionContext.session.kernel;
  return !!kernel && kernel.connectionStatus === 'connected' && kernel.status === 'idle';
}}
"""
_JS_CELLS = f"""
(name) => {{
  const w = ({_JS_PANEL})(name);
  return w.content.widgets.map((cell) => {{
    const outputs = cell.model.type === 'code' ? cell.model.outputs.toJSON() : [];
    const text = outputs.map((o) => {{
      if (o.output_type === 'stream') return Array.isArray(o.text) ? o.text.join('') : o.text;
      if (o.output_type === 'error') return o.ename + ': ' + o.evalue + '\\n' + (o.traceback || []).join('\\n');
      const plain = o.data && o.data['text/plain'];
      return Array.isArray(plain) ? plain.join('') : (plain || '');
    }}).join('\\n');
    return {{
      type: cell.model.type,
      count: cell.model.type === 'code' ? cell.model.executionCount : null,
      error: outputs.some((o) => o.output_type === 'error'),
      text,
    }};
  }});
}}
"""
_JS_RUN_CELL = f"""
async ([name, index, limit]) => {{
  const w = ({_JS_PANEL})(name);
  const cell = w.content.widgets[index];
  const before = cell.model.executionCount;
  w.content.activeCellIndex = index;
  const t0 = performance.now();
  window.jupyterapp.commands.execute('notebook:run-cell');
  await new Promise((resolve, reject) => {{
    const check = () => {{
      const count = cell.model.executionCount;
      if (count !== null && count !== before) resolve();
      else if (performance.now() - t0 > limit) reject(new Error('cell ' + index + ' did not finish'));
      else setTimeout(check, 5);
    }};
    check();
  }});
  return performance.now() - t0;
}}
"""


class LabNotebook:
    """A notebook open in JupyterLab, driven through Lab's own command registry."""

    def __init__(self, e2e: E2E, server: Server, name: str) -> None:
        self.e2e = e2e
        self.page = e2e.page
        self.server = server
        self.name = name

    def open(self) -> LabNotebook:
        """Load Lab on this notebook (a workspace of its own) and wait for an idle kernel."""
        workspace = f"w{secrets.token_hex(4)}"
        self.page.goto(self.server.url(f"/lab/workspaces/{workspace}/tree/{self.name}"))
        self.page.wait_for_function(_JS_READY, arg=self.name, timeout=120_000)
        self.e2e.step("opened")
        return self

    def cells(self) -> list[dict[str, Any]]:
        """Every cell: type, execution count, whether it has an error, its output text."""
        return self.page.evaluate(_JS_CELLS, self.name)

    def run_all(self, timeout: float = 180.0) -> list[dict[str, Any]]:
        """Run all cells; wait until each code cell has run (or one failed); fail on errors."""
        self.page.evaluate(
            "() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }"
        )
        self.page.wait_for_function(
            f"""(name) => {{
                const cells = ({_JS_CELLS})(name).filter((c) => c.type === 'code');
                return cells.some((c) => c.error) || cells.every((c) => c.count !== null);
            }}""",
            arg=self.name,
            timeout=timeout * 1000,
        )
        cells = self.cells()
        errors = [c["text"] for c in cells if c["error"]]
        assert not errors, "a cell failed:\n" + "\n\n".join(errors)
        return cells

    def run_cell(self, index: int, timeout: float = 60.0) -> tuple[float, str]:
        """Run one cell; returns (milliseconds until its reply, its output text)."""
        elapsed = self.page.evaluate(_JS_RUN_CELL, [self.name, index, timeout * 1000])
        cell = self.cells()[index]
        assert not cell["error"], cell["text"]
        return float(elapsed), str(cell["text"])

    def shutdown(self) -> None:
        """End every session (and so kernel) the server has: the next test starts clean."""
        for session in self.server.api("GET", "/api/sessions") or []:
            with contextlib.suppress(urllib.error.URLError, OSError):
                self.server.api("DELETE", f"/api/sessions/{session['id']}")


class Notebook7Notebook(LabNotebook):
    """A notebook open in Notebook 7: its own page (``/notebooks/<name>``), but the same
    application object (``window.jupyterapp``), shell and command ids as JupyterLab."""

    def open(self) -> Notebook7Notebook:
        """Load Notebook 7's page of this notebook and wait for an idle kernel."""
        self.page.goto(self.server.url(f"/notebooks/{self.name}"))
        self.page.wait_for_function(_JS_READY, arg=self.name, timeout=120_000)
        self.e2e.step("opened")
        return self


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``predicate`` (bounded) from the test process."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(0.05)


# -- colours: JupyterLab's theme and WCAG contrast ---------------------------------------

# For each element with text (or, for a form control, a value): its colour over the
# background it is drawn on (the nearest opaque ancestor's, with translucent layers in
# between blended in), and the WCAG ratio.
JS_CONTRAST = """
(selectors) => {
  const parse = (s) => {
    const m = /rgba?\\(([^)]+)\\)/.exec(s || '');
    if (!m) return null;
    const p = m[1].split(/[\\s,\\/]+/).filter(Boolean).map(Number);
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
  };
  const over = (top, base) => base.map((v, i) => v * (1 - top[3]) + top[i] * top[3]);
  const background = (el) => {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c && c[3] > 0) { layers.push(c); if (c[3] >= 1) break; }
    }
    return layers.reverse().reduce((bg, c) => over(c, bg), [255, 255, 255]);
  };
  const lum = (c) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]);
  };
  const ratio = (a, b) => (Math.max(lum(a), lum(b)) + 0.05) / (Math.min(lum(a), lum(b)) + 0.05);
  const shown = (e) => {
    if (e.matches('input, textarea, select')) return String(e.value || '').trim();
    return e.textContent.trim();
  };
  const out = {};
  for (const [name, sel] of Object.entries(selectors)) {
    out[name] = [...document.querySelectorAll(sel)]
      .filter((e) => shown(e) && e.getClientRects().length)
      .map((e) => {
        const bg = background(e);
        const style = getComputedStyle(e);
        const fg = over(parse(style.color), bg);
        const line = parse(style.borderBottomColor);
        return {
          ratio: ratio(fg, bg),
          text: shown(e).slice(0, 50),
          color: style.color,
          background: 'rgb(' + bg.map(Math.round).join(',') + ')',
          lineLuminance: line && style.borderBottomStyle !== 'none' ? lum(over(line, bg)) : null,
        };
      });
  }
  return out;
}
"""


def set_theme(page: Any, theme: str, light: bool) -> None:
    """Switch JupyterLab to ``theme`` and wait until its colours apply."""
    page.evaluate(
        "(t) => window.jupyterapp.commands.execute('apputils:change-theme', {theme: t})", theme
    )
    page.wait_for_function(
        "(light) => document.body.dataset.jpThemeLight === String(light)", arg=light
    )
    # the theme's stylesheet is applied once the layout colour changes with it
    page.wait_for_function(
        "(light) => { const c = getComputedStyle(document.body)"
        ".getPropertyValue('--jp-layout-color0').trim().toLowerCase();"
        " return light ? c === 'white' || c === '#fff' || c === '#ffffff' : c !== '' &&"
        " c !== 'white' && c !== '#fff' && c !== '#ffffff'; }",
        arg=light,
    )


def check_contrast(
    page: Any, selectors: dict[str, str], theme: str, minimum: float = 4.5
) -> dict[str, list[dict[str, Any]]]:
    """Every shown element with text under each selector meets ``minimum`` (WCAG AA: 4.5);
    each selector must match at least one. Returns the measurements by name."""
    measured: dict[str, list[dict[str, Any]]] = page.evaluate(JS_CONTRAST, selectors)
    for name, found in measured.items():
        assert found, f"{theme}: no {name} ({selectors[name]}) on the page"
        worst = min(found, key=lambda m: m["ratio"])
        assert worst["ratio"] >= minimum, (
            f"{theme}: {name} has contrast {worst['ratio']:.2f}: {worst}"
        )
    return measured
