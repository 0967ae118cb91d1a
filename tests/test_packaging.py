"""Issue 12, item 12: a plain install either works or says at once which extra it needs,
and the wheel ships the notebooks that ``videogen-nb demo`` opens."""

from __future__ import annotations

import importlib.util
import os
import pathlib
import subprocess
import sys
import zipfile

import pytest

from videogen_nb.display.grid_assets import GRID_PARTS

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _python(code: str, cwd: pathlib.Path | None = None, path: str | None = None):
    env = {**os.environ, "PYTHONPATH": path or str(ROOT)}
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd or ROOT,
        env=env,
    )


def test_sandbox_start_says_which_extra_is_missing():
    # a plain `pip install videogen-nb` has none of the renderer's packages: hide each in turn
    done = _python(
        "import sys\n"
        "import videogen_nb as vg\n"
        "for module in ('av', 'numpy', 'PIL'):\n"
        "    saved = sys.modules.get(module)\n"
        "    sys.modules[module] = None\n"
        "    try:\n"
        "        vg.sandbox.start()\n"
        "    except ImportError as exc:\n"
        "        print(module, 'REFUSED', exc)\n"
        "    else:\n"
        "        print(module, 'STARTED')\n"
        "    if saved is None:\n"
        "        del sys.modules[module]\n"
        "    else:\n"
        "        sys.modules[module] = saved\n"
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 3, done.stdout
    for line, name in zip(lines, ("PyAV", "NumPy", "Pillow"), strict=True):
        assert "REFUSED the sandbox renders videos with " + name in line
        assert line.endswith("pip install 'videogen-nb[sandbox]'")


def test_to_dataframe_names_the_pandas_extra():
    done = _python(
        "import sys; sys.modules['pandas'] = None\n"
        "from videogen_nb.run.export import rows_dataframe\n"
        "try:\n"
        "    rows_dataframe([])\n"
        "except ImportError as exc:\n"
        "    print('REFUSED', exc)\n"
    )
    assert done.returncode == 0, done.stderr
    assert "pip install 'videogen-nb[pandas]'" in done.stdout


@pytest.mark.slow
def test_the_wheel_ships_the_notebooks_and_the_demo_finds_them(tmp_path):
    isolation: list[str] = []
    if importlib.util.find_spec("hatchling"):
        isolation = ["--no-build-isolation"]
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "-q",
            *isolation,
            "-w",
            str(tmp_path),
            ".",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = tmp_path.glob("videogen_nb-*.whl")
    expected = sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
    assert expected, "the repository has notebooks"
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        shipped = sorted(
            n.rsplit("/", 1)[1] for n in names if n.startswith("videogen_nb/notebooks/")
        )
        assert shipped == expected, "every notebook is package data"
        # the grid's front end: every part grid_assets joins, and its stylesheet
        assets = "videogen_nb/display/assets/"
        wanted = {assets + "grid.css", *(assets + "grid/" + part for part in GRID_PARTS)}
        assert wanted <= set(names), sorted(wanted - set(names))
        site = tmp_path / "site"
        archive.extractall(site)
    # the installed package (not the checkout) answers `videogen-nb demo`
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = _python(
        "import videogen_nb.cli as cli; print(cli.__file__); print(cli.find_notebook(cli.QUICKSTART))",
        cwd=elsewhere,
        path=str(site),
    )
    assert done.returncode == 0, done.stderr
    module_file, found = done.stdout.split()
    assert module_file.startswith(str(site))
    assert found == str(site / "videogen_nb" / "notebooks" / "01_quickstart.ipynb")
