"""The example notebooks: each executes top to bottom against the sandbox, cleanly.

Each notebook is copied into its own temporary working directory (its journal and videos
land there) and run with nbclient in a real kernel. A cell error fails the test; so does
anything written to stderr (a warning the reader would see), a missing video, or the
sandbox's API key in the saved outputs. The checked-in notebooks must be what
``notebooks/_build.py`` writes, without outputs.
"""

from __future__ import annotations

import importlib.util
import json
import os
import pathlib
import subprocess
import sys
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

from videogen_nb.sandbox import DEFAULT_API_KEY

ROOT = pathlib.Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
NAMES = [
    "01_quickstart.ipynb",
    "02_model_comparison.ipynb",
    "03_prompt_sweep.ipynb",
    "04_image_to_video.ipynb",
    "05_resume_after_restart.ipynb",
]
CELL_TIMEOUT = 180
#: what each notebook's outputs must say: what its markdown promises the reader
EXPECTED = {
    "01_quickstart.ipynb": ["served from the journal: True | same file: True", "Studio(http"],
    "02_model_comparison.ipynb": ["Run(6 tasks: 6 done)", "report: report.html", "Leaderboard("],
    "03_prompt_sweep.ipynb": [
        "refused, nothing sent: max_tasks",
        "all served from the journal: True",
    ],
    "04_image_to_video.ipynb": ["first frame vs our first:", "last frame  vs our last:"],
    "05_resume_after_restart.ipynb": ["accepted by the gateway: ['", " submitted ", " downloaded "],
}
#: lines "model status path" the notebook prints for finished videos
FINISHED = {
    "01_quickstart.ipynb": 2,
    "04_image_to_video.ipynb": 2,
    "05_resume_after_restart.ipynb": 3,
}


def _builder() -> Any:
    spec = importlib.util.spec_from_file_location("notebooks_build", NOTEBOOKS / "_build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _kernel_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # The notebooks must take their offline branch here, whatever the developer's shell has.
    monkeypatch.delenv("VIDEOGEN_BASE_URL", raising=False)
    monkeypatch.delenv("VIDEOGEN_API_KEY", raising=False)
    # The kernel is "python3": make sure it is this interpreter, with this checkout importable.
    monkeypatch.setenv(
        "PATH", f"{pathlib.Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    )
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    )


def _execute(path: pathlib.Path) -> nbformat.NotebookNode:
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()  # raises CellExecutionError on the first failing cell
    return notebook


def _outputs(notebook: nbformat.NotebookNode) -> list[dict[str, Any]]:
    return [out for cell in notebook.cells if cell.cell_type == "code" for out in cell.outputs]


def _text(output: dict[str, Any]) -> str:
    if output.get("output_type") == "stream":
        return str(output.get("text", ""))
    return str(output.get("data", {}).get("text/plain", ""))


@pytest.mark.parametrize("name", NAMES)
def test_notebook_is_saved_from_the_builder_without_outputs(name: str) -> None:
    saved = nbformat.read(NOTEBOOKS / name, as_version=4)
    built = _builder().build(name, _builder().NOTEBOOKS[name])
    assert [c.source for c in saved.cells] == [c.source for c in built.cells], (
        f"{name} is out of date: run `python notebooks/_build.py`"
    )
    for cell in saved.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{name} has outputs saved"
    first_code = next(c for c in saved.cells if c.cell_type == "code")
    assert "vg.sandbox.start(" in first_code.source and "VIDEOGEN_BASE_URL" in first_code.source


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_notebook_executes_cleanly(
    name: str, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _kernel_env(monkeypatch)
    target = tmp_path / name
    target.write_bytes((NOTEBOOKS / name).read_bytes())

    notebook = _execute(target)

    outputs = _outputs(notebook)
    errors = [o for o in outputs if o.get("output_type") == "error"]
    assert not errors, errors
    stderr = [
        o["text"] for o in outputs if o.get("output_type") == "stream" and o.get("name") == "stderr"
    ]
    assert not stderr, f"{name} wrote to stderr:\n" + "\n".join(stderr)
    saved = json.dumps(notebook)
    assert DEFAULT_API_KEY not in saved, f"{name} leaked the API key into its outputs"
    videos = sorted((tmp_path / "videogen-runs" / "videos").glob("*.mp4"))
    assert videos, f"{name} produced no video"
    assert all(v.stat().st_size > 1000 for v in videos)
    text = "\n".join(_text(o) for o in outputs)
    for expected in EXPECTED[name]:
        assert expected in text, f"{name}: {expected!r} not in its outputs:\n{text}"
    if name in FINISHED:
        printed = "\n".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
        finished = [
            line for line in printed.splitlines() if " completed " in line and ".mp4" in line
        ]
        assert len(finished) == FINISHED[name], text


@pytest.mark.slow
def test_demo_command_executes_the_quickstart_headless(tmp_path: pathlib.Path) -> None:
    """``videogen-nb demo`` (the README's main job) on a machine without a display."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DISPLAY", "WAYLAND_DISPLAY", "VIDEOGEN_BASE_URL", "VIDEOGEN_API_KEY")
    }
    env["PATH"] = f"{pathlib.Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    workdir = tmp_path / "videogen-demo"
    done = subprocess.run(
        [sys.executable, "-m", "videogen_nb.cli", "demo", "--workdir", str(workdir)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    executed = nbformat.read(workdir / NAMES[0], as_version=4)
    assert any(cell.get("outputs") for cell in executed.cells if cell.cell_type == "code")
    assert len(list((workdir / "videogen-runs" / "videos").glob("*.mp4"))) >= 3
    assert "video(s) under" in done.stdout
