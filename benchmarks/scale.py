"""Scale benchmark (issue 13): N tasks in flight in one process, and a responsive notebook.

    python benchmarks/scale.py --n 10000 --scale 30            # the issue's run, ~1-3 minutes
    python benchmarks/scale.py --n 1000 --scale 20 --profile   # + a cProfile of the client

A fresh benchmark sandbox (``sandbox_proc.py``, its own process) serves ``n`` seeded tasks;
a child process runs ``AsyncClient.run(requests, concurrency=n)`` (journal, downloads and
spec checks as in a notebook) and, on the same event loop, a trivial coroutine every 100 ms
standing in for a notebook cell: its lateness while the tasks poll is the responsiveness
figure. Figures (written to ``results/scale-<name>.json`` and one line of ``.md``):

- *wall / ideal*: the run's time from its first call to its last video on disk, over the
  slowest task's own duration;
- *CPU ms / task*: the child's process time (user + system, every thread) over the run,
  per task, end to end (submit, polls, downloads, journal, spec checks);
- *CPU ms / GET*: the same over the status GETs the sandbox served (as ``run_benchmarks``);
- *CPU ms / poll (isolated)*: after the run, one status read of every task (GET, decode,
  journal record) with 64 at once, process time per read;
- *tick p99*: the 99th percentile of the 100 ms ticker's lateness while tasks were in flight;
- *peak RSS* (``ru_maxrss``) and failures.

With ``--profile`` the child runs under cProfile and its top entries (by own time and by
cumulative time) go to ``results/scale-<name>-profile.txt``. Profiling slows the client
down: read that run's figures as a map of where the time goes, not as its speed.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import datetime
import io
import json
import os
import pathlib
import pstats
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from typing import Any

import psutil

_HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(_HERE))

from run_benchmarks import (  # noqa: E402
    POLL_ROUTES,
    _quantiles,
    _sandbox_stats,
    _start_sandbox,
    _stop,
    machine,
)
from sandbox_proc import prompt_for, task_durations  # noqa: E402

__all__ = ["main"]

MODEL = "sora-2"
SIZE = "64x64"
SECONDS = 4
TICK_S = 0.1

# Targets of issue 13 ("Scale")
TARGETS = {
    "wall_over_ideal": 1.2,
    "cpu_ms_per_task": 3.0,
    "cpu_ms_per_poll_isolated": 1.0,
    "peak_rss_mb": 200.0,
    "failures": 0,
    "tick_p99_ms": 50.0,
}


# --- the child: the client under test -------------------------------------------------


async def _ticker(lateness: list[float], stop: asyncio.Event) -> None:
    """A notebook cell's stand-in: wakes every 100 ms; records how late each wake is."""
    loop = asyncio.get_running_loop()
    due = loop.time() + TICK_S
    while not stop.is_set():
        await asyncio.sleep(max(0.0, due - loop.time()))
        lateness.append(max(0.0, loop.time() - due))
        due = loop.time() + TICK_S


async def _finished(run: Any) -> Any:
    return await run


async def _isolated_polls(client: Any, task_ids: list[str]) -> dict[str, float]:
    """Process time of one status read per task (64 at once), after the run."""
    gate = asyncio.Semaphore(64)

    async def one(task_id: str) -> None:
        async with gate:
            await client.retrieve(task_id)

    cpu0 = time.process_time()
    await asyncio.gather(*(one(t) for t in task_ids))
    cpu = time.process_time() - cpu0
    return {"reads": len(task_ids), "cpu_s": cpu}


async def _child_run(args: argparse.Namespace) -> dict[str, Any]:
    import videogen_nb as vg

    workdir = pathlib.Path(args.workdir)
    client = vg.AsyncClient(
        args.base_url,
        os.environ["VIDEOGEN_API_KEY"],
        journal=workdir / "journal.sqlite",
        output_dir=workdir / "videos",
        max_tasks=args.n,
    )
    requests = [
        vg.VideoRequest(model=MODEL, prompt=prompt_for(i), size=SIZE, duration=SECONDS)
        for i in range(args.n)
    ]
    lateness: list[float] = []
    stop = asyncio.Event()
    ticker = asyncio.get_running_loop().create_task(_ticker(lateness, stop))
    started = time.time()
    cpu0 = time.process_time()
    loop_cpu0 = time.thread_time()
    try:
        run = client.run(requests, concurrency=args.n)
        try:
            await asyncio.wait_for(_finished(run), timeout=args.deadline)
        except asyncio.TimeoutError:
            run.cancel()
            await asyncio.sleep(0.5)
        cpu = time.process_time() - cpu0
        loop_cpu = time.thread_time() - loop_cpu0
        ended = time.time()
        stop.set()
        await ticker
        rows = list(run.rows)
        failures: dict[str, int] = {}
        for row in rows:
            if row.state.value != "done":
                reason = f"{row.state.value}: {row.error}"[:80]
                failures[reason] = failures.get(reason, 0) + 1
        task_ids = [row.task.id for row in rows if row.task is not None]
        finished = [row.finished_at for row in rows if row.finished_at is not None]
        isolated = await _isolated_polls(client, task_ids[: min(len(task_ids), 2000)])
    finally:
        await client.aclose()
    return {
        "started_at": started,
        "ended_at": max(finished) if finished else ended,
        "cpu_s": cpu,
        "loop_thread_cpu_s": loop_cpu,
        "ok": args.n - sum(failures.values()),
        "failure_reasons": failures,
        "tick_lateness_s": lateness,
        "isolated_polls": isolated,
        "polls_sent": client.scheduler.polls_sent,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _child(args: argparse.Namespace) -> int:
    warnings.simplefilter("ignore")  # catalog warnings about the tiny size
    import videogen_nb
    import videogen_nb.insight  # (imported before the measured window)

    del videogen_nb
    # thread_time: the loop thread's CPU, not wall time (fsync waits are not CPU)
    profiler = cProfile.Profile(time.thread_time) if args.profile_out else None
    if profiler is not None:
        profiler.enable()
    result = asyncio.run(_child_run(args))
    if profiler is not None:
        profiler.disable()
        pathlib.Path(args.profile_out).write_text(_profile_text(profiler))
        # the raw stats too, for pstats' callers/callees views
        profiler.dump_stats(str(pathlib.Path(args.profile_out).with_suffix(".prof")))
    pathlib.Path(args.out).write_text(json.dumps(result))
    return 0


def _profile_text(profiler: cProfile.Profile, top: int = 35) -> str:
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.strip_dirs()
    out.write("=== by own time (tottime) ===\n")
    stats.sort_stats("tottime").print_stats(top)
    out.write("\n=== by cumulative time ===\n")
    stats.sort_stats("cumulative").print_stats(top)
    return out.getvalue()


# --- the parent: sandbox, child, figures ------------------------------------------------


def _p(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def measure(args: argparse.Namespace, profile_out: pathlib.Path | None) -> dict[str, Any]:
    """One sandbox, one child client; the figures of the run."""
    workdir = pathlib.Path(tempfile.mkdtemp(prefix=f"vg-scale-{args.n}-"))
    sandbox, where = _start_sandbox(args.n, args.scale, args.seed)
    try:
        out = workdir / "child.json"
        root = args.package_root or str(_HERE.parent)
        env = dict(os.environ, VIDEOGEN_API_KEY=where["api_key"], PYTHONPATH=root)
        cmd = [
            sys.executable,
            str(pathlib.Path(__file__).resolve()),
            "--child",
            "--base-url",
            where["base_url"],
            "--n",
            str(args.n),
            "--workdir",
            str(workdir),
            "--out",
            str(out),
            "--deadline",
            str(args.deadline),
        ]
        if profile_out is not None:
            cmd += ["--profile-out", str(profile_out)]
        if args.py_spy:
            # sampling (100 Hz), so the client runs at about its own speed; collapsed stacks
            spy = shutil.which("py-spy") or str(pathlib.Path(sys.executable).with_name("py-spy"))
            cmd = [spy, "record", "--format", "raw", "-r", "100", "-o", args.py_spy, "--", *cmd]
        proc = subprocess.run(
            cmd, env=env, capture_output=True, text=True, timeout=args.deadline + 300
        )
        if proc.returncode != 0 or not out.exists():
            raise RuntimeError(f"the client failed:\n{(proc.stderr or proc.stdout)[-3000:]}")
        child = json.loads(out.read_text())
        stats = _sandbox_stats(where["base_url"], where["api_key"])
        # the gateway shares the 2 cores: its CPU says whether it, not the client, set the pace
        times = psutil.Process(sandbox.pid).cpu_times()
        child["sandbox_cpu_s"] = times.user + times.system
    finally:
        _stop(sandbox)
        shutil.rmtree(workdir, ignore_errors=True)
    return _figures(args, child, stats)


def _figures(
    args: argparse.Namespace, child: dict[str, Any], stats: dict[str, Any]
) -> dict[str, Any]:
    durations = task_durations(args.n, args.scale, args.seed)
    ideal = max(durations)
    requests = stats.get("requests", {})
    gets = sum(requests.get(route, 0) for route in POLL_ROUTES)
    lags = [
        t["first_completed_read_at"] - t["completed_at"]
        for t in stats.get("tasks", {}).values()
        if t.get("first_completed_read_at") is not None and t.get("completed_at") is not None
    ]
    isolated = child["isolated_polls"]
    wall = child["ended_at"] - child["started_at"]
    ticks = child["tick_lateness_s"]
    return {
        "n": args.n,
        "scale_s": args.scale,
        "profiled": bool(args.profile),
        "ideal_s": ideal,
        "wall_s": wall,
        "wall_over_ideal": wall / ideal,
        "failures": args.n - child["ok"],
        "failure_reasons": child["failure_reasons"],
        "cpu_s": child["cpu_s"],
        "sandbox_cpu_s": child.get("sandbox_cpu_s"),
        "cpu_ms_per_task": 1000 * child["cpu_s"] / args.n,
        # the rest is worker threads: spec checks, file moves, the default executor
        "loop_thread_cpu_ms_per_task": 1000 * child["loop_thread_cpu_s"] / args.n,
        "status_gets": gets,
        "gets_per_task": gets / args.n,
        "cpu_ms_per_get": 1000 * child["cpu_s"] / gets if gets else None,
        "cpu_ms_per_poll_isolated": (
            1000 * isolated["cpu_s"] / isolated["reads"] if isolated["reads"] else None
        ),
        "server_seen_lag_s": _quantiles(lags),
        "tick_p50_ms": 1000 * (_p(ticks, 0.50) or 0.0),
        "tick_p99_ms": 1000 * (_p(ticks, 0.99) or 0.0),
        "tick_max_ms": 1000 * max(ticks, default=0.0),
        "ticks": len(ticks),
        "peak_rss_mb": child["peak_rss_mb"],
        "requests": requests,
    }


def _verdicts(fig: dict[str, Any]) -> dict[str, bool]:
    return {key: fig[key] is not None and fig[key] <= limit for key, limit in TARGETS.items()}


def markdown_row(fig: dict[str, Any], label: str) -> str:
    """One line of the README's scale table."""
    lag = fig["server_seen_lag_s"]
    return (
        f"| {label} | {fig['n']:,} | {fig['wall_over_ideal']:.2f} | {fig['cpu_ms_per_task']:.2f}"
        f" | {fig['cpu_ms_per_get']:.2f} | {fig['cpu_ms_per_poll_isolated']:.2f}"
        f" | {fig['gets_per_task']:.2f} | {lag['p95'] or 0:.2f}"
        f" | {fig['tick_p99_ms']:.1f} | {fig['peak_rss_mb']:.0f} | {fig['failures']} |"
    )


def main(argv: list[str] | None = None) -> int:
    """Run the scale benchmark (or, with ``--child``, the client under test)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10000)
    parser.add_argument("--scale", type=float, default=30.0, help="longest task, seconds")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--deadline", type=float, default=600.0)
    parser.add_argument("--profile", action="store_true", help="run the client under cProfile")
    parser.add_argument("--py-spy", default=None, help="sample the client with py-spy into FILE")
    parser.add_argument("--name", default=None, help="result file stem")
    parser.add_argument("--label", default="videogen-nb", help="the row's label in the table")
    parser.add_argument("--out", default=str(_HERE / "results"))
    parser.add_argument(
        "--package-root",
        default=None,
        help="import videogen_nb from this folder (e.g. an older commit's export) in the client",
    )
    # the child's own options
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    parser.add_argument("--profile-out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return _child(args)
    out_dir = pathlib.Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = args.name or f"scale-{datetime.date.today().isoformat()}-{args.n}"
    profile_out = out_dir / f"{stem}-profile.txt" if args.profile else None
    host = machine()
    fig = measure(args, profile_out)
    fig["verdicts"] = _verdicts(fig)
    fig["machine"] = host
    fig["label"] = args.label
    (out_dir / f"{stem}.json").write_text(json.dumps(fig, indent=2))
    row = markdown_row(fig, args.label)
    (out_dir / f"{stem}.md").write_text(row + "\n")
    print(row, flush=True)
    print(json.dumps({k: fig[k] for k in ("verdicts", "failure_reasons")}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
