"""Screenshots of the quickstart's comparison grid for the README, light and dark.

    .venv/bin/python scripts/screenshots.py            # writes docs/images/quickstart-grid-*.png

Runs ``notebooks/01_quickstart.ipynb`` as a user would, in the browser suite's set-up
(``tests/e2e/harness.py``: JupyterLab on 127.0.0.1 with a throwaway config, headless
Chromium), against the notebook's own offline sandbox, then photographs its comparison
grid with every video paused on the same frame: once in JupyterLab's light theme, once in
its dark theme. Needs the ``e2e`` extra and Chromium (as the browser tests do). The PNGs
are reduced to a palette so each stays well under 300 KB.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import secrets
import sys
import tempfile
from typing import Any

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "e2e"))

from harness import (  # noqa: E402  (the browser suite's harness, not an installed module)
    CHROMIUM,
    CHROMIUM_ARGS,
    E2E,
    LabNotebook,
    Server,
    start_server,
    write_notebooks,
)

NOTEBOOK = "01_quickstart.ipynb"
OUT = ROOT / "docs" / "images"
MAX_BYTES = 300 * 1024
#: where the videos are paused for the picture (seconds into the clip)
STILL_AT = 2.5


def lab_env(base: pathlib.Path) -> dict[str, str]:
    """A Jupyter environment of its own (config, settings, runtime) under ``base``; no
    gateway variables, so the quickstart starts its own sandbox."""
    dirs = {
        "JUPYTER_CONFIG_DIR": base / "config",
        "JUPYTER_RUNTIME_DIR": base / "runtime",
        "JUPYTERLAB_SETTINGS_DIR": base / "settings",
        "JUPYTERLAB_WORKSPACES_DIR": base / "workspaces",
        "IPYTHONDIR": base / "ipython",
    }
    for path in dirs.values():
        path.mkdir(parents=True, exist_ok=True)
    config = {
        "ServerApp": {"open_browser": False, "port_retries": 0},
        "LabApp": {
            "news_url": None,
            "check_for_updates_class": "jupyterlab.handlers.announcements.NeverCheckForUpdate",
            "expose_app_in_browser": True,
        },
    }
    (dirs["JUPYTER_CONFIG_DIR"] / "jupyter_server_config.json").write_text(json.dumps(config))
    notifications = (
        dirs["JUPYTERLAB_SETTINGS_DIR"]
        / "@jupyterlab/apputils-extension/notification.jupyterlab-settings"
    )
    notifications.parent.mkdir(parents=True, exist_ok=True)
    notifications.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DISPLAY", "WAYLAND_DISPLAY", "VIDEOGEN_BASE_URL", "VIDEOGEN_API_KEY")
    }
    env.update({k: str(v) for k, v in dirs.items()})
    env.update(
        JUPYTER_PLATFORM_DIRS="1",
        PATH=f"{pathlib.Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    )
    return env


def start_lab(base: pathlib.Path) -> Server:
    root = base / "lab"
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

    return start_server(
        "JupyterLab",
        command,
        env=lab_env(base / "jupyter"),
        cwd=root,
        token=token,
        log_path=base / "jupyterlab.log",
        ready_path="/api/status",
    )


def hold_still(page: Any) -> None:
    """Pause every grid video on the same frame and wait until each shows it."""
    page.wait_for_function(
        "() => { const v = [...document.querySelectorAll('.vgg video')];"
        " return v.length >= 2 && v.every((x) => x.readyState >= 2); }",
        timeout=120_000,
    )
    # through the grid's own slider, as a user drags it: the grid's clock and counter follow
    page.evaluate(
        "(t) => { const s = document.querySelector('.vgg .vgg-seek'); s.value = String(t);"
        " s.dispatchEvent(new Event('input', {bubbles: true}));"
        " s.dispatchEvent(new Event('change', {bubbles: true})); }",
        STILL_AT,
    )
    page.wait_for_function(
        "(t) => [...document.querySelectorAll('.vgg video')].every((v) => v.paused &&"
        " !v.seeking && v.readyState >= 2 && Math.abs(v.currentTime - t) < 0.1)",
        arg=STILL_AT,
    )
    page.wait_for_timeout(300)  # the frame counter and time label repaint


def set_theme(page: Any, theme: str, light: bool) -> None:
    page.evaluate(
        "(t) => window.jupyterapp.commands.execute('apputils:change-theme', {theme: t})", theme
    )
    page.wait_for_function(
        "(light) => document.body.dataset.jpThemeLight === String(light)", arg=light
    )
    page.wait_for_timeout(500)  # the theme's stylesheet settles (a picture, not a test)


def save_small(png: bytes, target: pathlib.Path) -> int:
    """Write ``png`` as a palette PNG (the UI's flat colours survive 256 colours)."""
    import io

    from PIL import Image

    with Image.open(io.BytesIO(png)) as img:
        small = img.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
        small.save(target, optimize=True)
    size = target.stat().st_size
    if size > MAX_BYTES:
        raise SystemExit(f"{target} is {size / 1024:.0f} KB, over the {MAX_BYTES // 1024} KB cap")
    return size


def shoot(page: Any, name: str) -> None:
    hold_still(page)
    grid = page.locator(".vgg").last
    grid.scroll_into_view_if_needed()
    target = OUT / f"quickstart-grid-{name}.png"
    size = save_small(grid.screenshot(), target)
    print(f"{target.relative_to(ROOT)}: {size / 1024:.0f} KB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=1280, help="browser viewport width")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="videogen-shots-") as tmp:
        base = pathlib.Path(tmp)
        lab = start_lab(base)
        try:
            with sync_playwright() as playwright:
                context = playwright.chromium.launch_persistent_context(
                    str(base / "profile"),
                    executable_path=str(CHROMIUM),
                    headless=True,
                    args=CHROMIUM_ARGS,
                    viewport={"width": args.width, "height": 900},
                    device_scale_factor=1,
                )
                try:
                    page = context.new_page()
                    (base / "steps").mkdir()
                    notebook = LabNotebook(E2E(page, base / "steps"), lab, NOTEBOOK).open()
                    notebook.run_all(timeout=240)
                    # the file browser closed: the notebook, and so the grid, get the width
                    page.evaluate(
                        "() => window.jupyterapp.commands.execute('application:toggle-left-area')"
                    )
                    shoot(page, "light")
                    set_theme(page, "JupyterLab Dark", light=False)
                    shoot(page, "dark")
                    set_theme(page, "JupyterLab Light", light=True)
                    notebook.shutdown()
                finally:
                    context.close()
        finally:
            lab.stop()


if __name__ == "__main__":
    main()
