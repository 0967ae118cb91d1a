"""How heavy an executed quickstart is: its widget models and the bytes it grows by.

Executes ``notebooks/01_quickstart.ipynb`` against the sandbox with nbclient (as
``tests/test_notebooks.py`` does, in a temporary working directory), then reports how many
widget models the saved notebook holds (by model class), the size of the saved widget state
and how many bytes the notebook grew by. ``tests/test_studio_size.py`` holds the limits.

    .venv/bin/python scripts/measure_quickstart.py            # the report
    .venv/bin/python scripts/measure_quickstart.py --json     # the figures as JSON
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import pathlib
import sys
import tempfile
from typing import Any

import nbformat
from nbclient import NotebookClient

ROOT = pathlib.Path(__file__).resolve().parent.parent
QUICKSTART = ROOT / "notebooks" / "01_quickstart.ipynb"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
CELL_TIMEOUT = 180


def _kernel_env() -> dict[str, str]:
    """The environment the kernel gets: offline (the sandbox), this checkout importable."""
    env = {
        k: v for k, v in os.environ.items() if k not in ("VIDEOGEN_BASE_URL", "VIDEOGEN_API_KEY")
    }
    env["PATH"] = f"{pathlib.Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def execute(source: pathlib.Path, workdir: pathlib.Path) -> nbformat.NotebookNode:
    """``source`` executed in ``workdir`` (its journal and videos land there)."""
    target = workdir / source.name
    target.write_bytes(source.read_bytes())
    notebook = nbformat.read(target, as_version=4)
    saved_env = dict(os.environ)
    os.environ.clear()
    os.environ.update(_kernel_env())
    try:
        NotebookClient(
            notebook,
            timeout=CELL_TIMEOUT,
            kernel_name="python3",
            resources={"metadata": {"path": str(workdir)}},
        ).execute()
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
    return notebook


def figures(source: pathlib.Path, executed: nbformat.NotebookNode) -> dict[str, Any]:
    """The weight of ``executed`` compared with the unexecuted ``source``."""
    state = executed.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    kinds = collections.Counter(str(model.get("model_name", "?")) for model in state.values())
    saved = nbformat.writes(executed).encode()
    return {
        "widget_models": len(state),
        "widget_state_bytes": len(json.dumps(state).encode()),
        "notebook_bytes": len(saved),
        "grown_bytes": len(saved) - len(source.read_bytes()),
        "models_by_kind": dict(kinds.most_common()),
    }


def measure(source: pathlib.Path = QUICKSTART) -> dict[str, Any]:
    """Execute ``source`` in a temporary directory and return its ``figures``."""
    with tempfile.TemporaryDirectory(prefix="vg-measure-") as tmp:
        return figures(source, execute(source, pathlib.Path(tmp)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    result = measure()
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"widget models:       {result['widget_models']}")
    print(f"widget state:        {result['widget_state_bytes'] / 1024:.1f} KB")
    print(f"notebook grew by:    {result['grown_bytes'] / 1024:.1f} KB")
    for kind, count in result["models_by_kind"].items():
        print(f"  {count:4} {kind}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
