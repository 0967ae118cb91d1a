"""What a live run costs the notebook: kernel latency while 200 tasks poll, and saved size.

Executes a small notebook with nbclient (a real ipykernel) against the sandbox, which runs
in its own process so that its work never shares a GIL with the kernel or with nbclient:

1. ~20 trivial cells (``1 + 1``) with nothing running: the baseline latency;
2. a cell that starts 200 tasks (``max_tasks=200``) and shows the run live (the table);
3. the same ~20 trivial cells while the tasks poll on the background loop;
4. the kernel's CPU time over phase 3, then a wait for the run to end;
5. ``vg.show`` of a few videos, and a ``ComparisonGrid``: the saved notebook's growth.

A trivial cell's latency is measured from the client (execute request sent to reply and
idle status received), so it is what a user waits. Writes
``benchmarks/results/notebook-<date>.json`` and prints a markdown table. Runs in well under
two minutes::

    .venv/bin/python benchmarks/notebook_cost.py [--tasks 200] [--task-seconds 12]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import pathlib
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

import nbformat
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent

SETUP = """\
import json, time
from videogen_nb.widgets.run_view import NotebookPresenter, install
from videogen_nb.core.request import VideoRequest
from videogen_nb.client.sync_client import Client
presenter = install(NotebookPresenter(interval={interval}))
client = Client(journal={journal!r}, output_dir={videos!r}, concurrency={tasks}, max_tasks={tasks})
"""

START = """\
requests = [VideoRequest(model="kling-v1", prompt=f"notebook bench {{i}}", size="256x144",
                         duration=1, seed=i) for i in range({tasks})]
run = client.run(requests, max_tasks={tasks})
cpu0, wall0 = time.process_time(), time.perf_counter()
{show}
"""

LOADED_END = """\
cpu1, wall1 = time.process_time(), time.perf_counter()
view = presenter.last_view
print(json.dumps({"cpu": cpu1 - cpu0, "wall": wall1 - wall0, "counts": run.counts}))
"""

WAIT = """\
run.wait({timeout})
print(json.dumps({{"counts": run.counts,
                  "redraws": view.table.redraws if view and view.table else 0,
                  "table_html_bytes": len(view.table.html.encode()) if view and view.table else 0}}))
"""

SHOW = """\
from videogen_nb.display.video import show
show(run.results[{i}])
"""

GRID = """\
from videogen_nb.widgets.grid import ComparisonGrid
ComparisonGrid(run.results[:{n}])
"""

TRIVIAL = "1 + 1"


def start_sandbox(
    task_seconds: float, poll_after_ms: int
) -> tuple[subprocess.Popen[str], dict[str, str]]:
    """The sandbox in a child process; returns it and the environment to reach it."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "videogen_nb.sandbox",
            "--port",
            "0",
            "--task-seconds",
            str(task_seconds),
            "--poll-after-ms",
            str(poll_after_ms),
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    env: dict[str, str] = {}
    assert proc.stdout is not None
    deadline = time.monotonic() + 30
    while len(env) < 2 and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        name, _, value = line.strip().partition("=")
        if name in ("VIDEOGEN_BASE_URL", "VIDEOGEN_API_KEY"):
            env[name] = value
    if len(env) < 2:
        proc.terminate()
        raise RuntimeError("the sandbox did not start")
    return proc, env


def stats(values: list[float]) -> dict[str, float]:
    """p50 / mean / max in milliseconds."""
    ms = sorted(v * 1000 for v in values)
    return {
        "n": len(ms),
        "p50_ms": round(statistics.median(ms), 2),
        "mean_ms": round(statistics.fmean(ms), 2),
        "p90_ms": round(ms[min(len(ms) - 1, int(0.9 * len(ms)))], 2),
        "max_ms": round(ms[-1], 2),
    }


def kernel_seconds(cell: Any) -> float | None:
    """Busy to idle, by the kernel's own message timestamps (nbclient records them)."""
    timing = cell.metadata.get("execution", {})
    try:
        busy = datetime.datetime.fromisoformat(timing["iopub.status.busy"].replace("Z", "+00:00"))
        idle = datetime.datetime.fromisoformat(timing["iopub.status.idle"].replace("Z", "+00:00"))
    except (KeyError, ValueError):
        return None
    return (idle - busy).total_seconds()


def last_json(cell: Any) -> dict[str, Any]:
    """The JSON line a cell printed."""
    text = "".join(o.get("text", "") for o in cell.outputs if o.get("output_type") == "stream")
    return json.loads(text.strip().splitlines()[-1])


def notebook_bytes(client: NotebookClient, nb: Any) -> int:
    """The size of the notebook as saved now (with the widget state nbclient gathered)."""
    client.set_widgets_metadata()
    return len(nbformat.writes(nb).encode())


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--task-seconds", type=float, default=12.0)
    parser.add_argument(
        "--poll-after-ms",
        type=int,
        default=1000,
        help="the sandbox asks for a poll this often (per task)",
    )
    parser.add_argument("--cells", type=int, default=20)
    parser.add_argument(
        "--gap",
        type=float,
        default=0.25,
        help="seconds between timed cells (spreads them over the polling)",
    )
    parser.add_argument("--videos", type=int, default=3)
    parser.add_argument(
        "--interval",
        type=float,
        default=0.2,
        help="the live display's shortest time between redraws",
    )
    parser.add_argument(
        "--no-display",
        action="store_true",
        help="start the run without showing it (to see what the display costs)",
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the work folder (executed notebook, videos, journal)",
    )
    parser.add_argument("--out", type=pathlib.Path, default=HERE / "results")
    args = parser.parse_args(argv)

    sandbox, env = start_sandbox(args.task_seconds, args.poll_after_ms)
    work = pathlib.Path(tempfile.mkdtemp(prefix="vg-notebook-bench-"))
    # The kernel inherits the gateway from the environment, so no key is written into a cell.
    os.environ.update(env)
    os.environ["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(ROOT), os.environ.get("PYTHONPATH", "")])
    )
    fmt = {
        "journal": str(work / "journal.db"),
        "videos": str(work / "videos"),
        "tasks": args.tasks,
        "timeout": 90,
        "show": "run.counts" if args.no_display else "run",
        "interval": args.interval,
    }
    cells = [new_code_cell(SETUP.format(**fmt))]
    baseline_idx = list(range(len(cells), len(cells) + args.cells))
    cells += [new_code_cell(TRIVIAL) for _ in baseline_idx]
    start_idx = len(cells)
    cells.append(new_code_cell(START.format(**fmt)))
    loaded_idx = list(range(len(cells), len(cells) + args.cells))
    cells += [new_code_cell(TRIVIAL) for _ in loaded_idx]
    end_idx = len(cells)
    cells.append(new_code_cell(LOADED_END))
    wait_idx = len(cells)
    cells.append(new_code_cell(WAIT.format(**fmt)))
    show_idx = list(range(len(cells), len(cells) + args.videos))
    cells += [new_code_cell(SHOW.format(i=i)) for i in range(args.videos)]
    grid_idx = len(cells)
    cells.append(new_code_cell(GRID.format(n=min(6, args.tasks))))
    nb = new_notebook(cells=cells)

    client = NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(work)}}
    )
    latency: dict[int, float] = {}
    sizes: dict[str, int] = {}
    began = time.perf_counter()
    try:
        with client.setup_kernel():
            for index, cell in enumerate(nb.cells):
                if index in baseline_idx or index in loaded_idx:
                    time.sleep(args.gap)
                if index == show_idx[0]:
                    sizes["before_videos"] = notebook_bytes(client, nb)
                if index == grid_idx:
                    sizes["after_videos"] = notebook_bytes(client, nb)
                t0 = time.perf_counter()
                client.execute_cell(cell, index)
                latency[index] = time.perf_counter() - t0
            sizes["after_grid"] = notebook_bytes(client, nb)
    finally:
        sandbox.terminate()
        sandbox.wait(10)
    total = time.perf_counter() - began

    loaded_end = last_json(nb.cells[end_idx])
    finished = last_json(nb.cells[wait_idx])
    per_video = (sizes["after_videos"] - sizes["before_videos"]) / max(1, args.videos)
    result = {
        "benchmark": "notebook_cost",
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        },
        "params": {
            "tasks": args.tasks,
            "task_seconds": args.task_seconds,
            "poll_after_ms": args.poll_after_ms,
            "cells": args.cells,
            "gap": args.gap,
            "display": not args.no_display,
            "interval": args.interval,
        },
        "idle": stats([latency[i] for i in baseline_idx]),
        "polling": stats([latency[i] for i in loaded_idx]),
        "kernel_idle": stats(
            [k for i in baseline_idx if (k := kernel_seconds(nb.cells[i])) is not None]
        ),
        "kernel_polling": stats(
            [k for i in loaded_idx if (k := kernel_seconds(nb.cells[i])) is not None]
        ),
        "start_cell_ms": round(latency[start_idx] * 1000, 1),
        "kernel_cpu_while_polling": {
            "cpu_s": round(loaded_end["cpu"], 3),
            "wall_s": round(loaded_end["wall"], 3),
            "share_of_one_core": round(loaded_end["cpu"] / loaded_end["wall"], 3)
            if loaded_end["wall"]
            else None,
            "rows_finished_by_then": args.tasks
            - loaded_end["counts"]["queued"]
            - loaded_end["counts"]["in_progress"]
            - loaded_end["counts"]["waiting"]
            - loaded_end["counts"]["submitting"],
        },
        "run": {
            "counts": finished["counts"],
            "table_redraws": finished["redraws"],
            "table_html_bytes": finished["table_html_bytes"],
        },
        "notebook_bytes": sizes,
        "bytes_per_shown_video": round(per_video),
        "grid_bytes": sizes["after_grid"] - sizes["after_videos"],
        "seconds": round(total, 1),
    }
    nbformat.write(nb, work / "executed.ipynb")
    if args.keep:
        print(f"work folder kept: {work}", file=sys.stderr)
    else:
        shutil.rmtree(work, ignore_errors=True)
    args.out.mkdir(parents=True, exist_ok=True)
    suffix = "-nodisplay" if args.no_display else ""
    path = args.out / f"notebook-{datetime.date.today().isoformat()}{suffix}.json"
    path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")

    idle, busy = result["idle"], result["polling"]
    cpu = result["kernel_cpu_while_polling"]
    print(f"## Notebook cost: {args.tasks} tasks polling (every {args.poll_after_ms} ms)\n")
    print("| trivial cell | p50 ms | p90 ms | max ms |")
    print("|---|---:|---:|---:|")
    print(f"| nothing running | {idle['p50_ms']} | {idle['p90_ms']} | {idle['max_ms']} |")
    print(
        f"| {args.tasks} tasks polling | {busy['p50_ms']} | {busy['p90_ms']} | {busy['max_ms']} |"
    )
    kidle, kbusy = result["kernel_idle"], result["kernel_polling"]
    print(
        f"| kernel busy→idle, nothing running | {kidle['p50_ms']} | {kidle['p90_ms']} | {kidle['max_ms']} |"
    )
    print(
        f"| kernel busy→idle, {args.tasks} polling | {kbusy['p50_ms']} | {kbusy['p90_ms']} | {kbusy['max_ms']} |"
    )
    print()
    print("| measure | value |")
    print("|---|---:|")
    print(f"| kernel CPU while polling (share of one core) | {cpu['share_of_one_core']} |")
    print(
        f"| rows finished when the timed cells ended | {cpu['rows_finished_by_then']} of {args.tasks} |"
    )
    print(f"| live table redraws over the whole run | {finished['redraws']} |")
    print(f"| live table HTML at the end | {finished['table_html_bytes']} B |")
    print(f"| saved notebook growth per shown video | {result['bytes_per_shown_video']} B |")
    print(f"| saved notebook growth for a 6-video grid | {result['grid_bytes']} B |")
    print(f"| notebook size at the end | {sizes['after_grid']} B |")
    print(f"| benchmark wall time | {result['seconds']} s |")
    print(f"\nwritten to {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return result


if __name__ == "__main__":
    main()
