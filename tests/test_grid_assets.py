"""The grid's front end is one ES module joined from small parts (no bundler, no npm)."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from videogen_nb.display.grid_assets import GRID_ASSETS, GRID_PARTS, grid_css, grid_js
from videogen_nb.display.report import write_report
from videogen_nb.widgets.grid import ComparisonGrid

PARTS = GRID_ASSETS / "grid"


def _lines(name: str) -> list[str]:
    return (PARTS / name).read_text(encoding="utf-8").splitlines()


def _comment(line: str) -> bool:
    return line.lstrip().startswith("//")


def test_every_part_is_joined_once_in_order_and_none_is_left_out() -> None:
    on_disk = sorted(p.name for p in PARTS.glob("*.js"))
    assert sorted(GRID_PARTS) == on_disk
    js = grid_js()
    starts = [js.index(f"// ---- {name} ----\n") for name in GRID_PARTS]
    assert starts == sorted(starts) and starts[0] == 0
    for name in GRID_PARTS:
        code = [line for line in _lines(name) if line.strip() and not _comment(line)]
        assert "\n".join(code) in "\n".join(line for line in js.splitlines() if line.strip())
        assert not any(_comment(line) for line in js.splitlines() if "// ----" not in line)


def test_no_part_has_a_multi_line_template_literal() -> None:
    # grid_js drops whole-line comments; inside a multi-line `...` string that would be text.
    for name in GRID_PARTS:
        odd = [n for n, line in enumerate(_lines(name), 1) if line.count("`") % 2]
        assert not odd, f"{name} lines {odd}"


def test_the_joined_module_has_one_export_from_its_last_part() -> None:
    js = grid_js()
    assert js.count("export default") == 1
    assert js.rstrip().endswith("export default { render };")
    for name in GRID_PARTS[:-1]:
        text = (PARTS / name).read_text(encoding="utf-8")
        assert not re.search(r"^\s*(import|export)\b", text, re.M), name


def test_each_part_has_one_job_and_stays_small() -> None:
    for name in GRID_PARTS:
        lines = (PARTS / name).read_text(encoding="utf-8").count("\n")
        assert lines < 300, f"{name} has {lines} lines"
    assert not (GRID_ASSETS / "grid.js").exists(), "the old one-file module is gone"


def test_widget_and_report_run_the_same_module(tmp_path) -> None:
    assert ComparisonGrid._esm == grid_js()
    assert ComparisonGrid._css == grid_css()
    page = write_report([], tmp_path / "r.html").read_text(encoding="utf-8")
    assert "// ---- sync.js ----" in page and "// ---- main.js ----" in page


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_the_joined_module_parses_and_exports_render(tmp_path) -> None:
    module = tmp_path / "grid.mjs"
    module.write_text(grid_js(), encoding="utf-8")
    done = subprocess.run(
        [
            "node",
            "--input-type=module",
            "-e",
            f"const m = await import({str(module)!r}); console.log(typeof m.default.render);",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "function"
