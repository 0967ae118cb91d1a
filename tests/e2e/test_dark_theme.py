"""Issue 16.9 in a real browser: in JupyterLab's dark theme the run summary, the table and
the leaderboard's footnotes stay readable (WCAG AA: 4.5:1 for text, measured on the colours
Chromium computes) and the table's lines are not bright white. The light theme is checked
too, so the fix for one theme does not break the other.
"""

from __future__ import annotations

import pathlib
from typing import Any

import nbformat
import pytest
from harness import GRID_MODELS, Server, check_contrast, set_theme

pytestmark = pytest.mark.e2e

NOTEBOOK = "e2e_dark.ipynb"
CELLS = [
    "import videogen_nb as vg\nclient = vg.Client()",
    # one model the gateway does not have: a failed row with an error message in the table
    f"run = client.compare(prompt='e2e: dark theme', models=[{GRID_MODELS[0]!r}, 'no-such-model'],\n"
    "                     aspect_ratio='16:9', duration=4)\n"
    "run.wait()\n"
    "from videogen_nb.display.table import table_html\n"
    "from IPython.display import HTML\n"
    "HTML(table_html(run))",
    "run",
    "vg.leaderboard(client.journal)",
]

# What must be readable, by CSS selector (each must match at least one element with text).
TEXT = {
    "run summary": ".vg-rs",
    "table header": ".vg-rt th",
    "table cells": ".vg-rt td",
    "error message": ".vg-rt .m",
    "state word": ".vg-rt td.st",
    "leaderboard cells": ".videogen-leaderboard td",
    "leaderboard footnotes": ".videogen-leaderboard li",
}


def check_readable(page: Any, theme: str) -> dict[str, list[dict[str, Any]]]:
    return check_contrast(page, TEXT, theme)


def test_dark_theme_keeps_text_readable(
    open_notebook: Any, jupyter_lab: Server, e2e: Any, e2e_root: pathlib.Path
) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}
    }
    nb.cells = [nbformat.v4.new_code_cell(src) for src in CELLS]
    nbformat.write(nb, e2e_root / "lab" / NOTEBOOK)

    notebook = open_notebook(NOTEBOOK)
    page = e2e.page
    notebook.run_all(timeout=120)
    page.wait_for_selector(".videogen-leaderboard li")
    page.wait_for_selector(".vg-rt .m")
    check_readable(page, "light")
    try:
        set_theme(page, "JupyterLab Dark", light=False)
        e2e.step("dark", focus=".videogen-leaderboard")
        measured = check_readable(page, "dark")
        # the table's lines are quiet, not bright white on black
        lines = [
            m["lineLuminance"] for m in measured["table cells"] if m["lineLuminance"] is not None
        ]
        assert lines and max(lines) < 0.2, lines
    finally:
        # the theme is a saved setting of the suite's one JupyterLab: put it back
        set_theme(page, "JupyterLab Light", light=True)
