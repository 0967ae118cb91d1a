"""Benchmark videogen-nb against openai-python and the naive polling loop, in one run.

    python benchmarks/run_benchmarks.py                 # N = 100, 1,000, 10,000 (~20 min)
    python benchmarks/run_benchmarks.py --quick         # N = 100, 1,000, short tasks (~3 min)

For every size N and every contender, a fresh benchmark sandbox (``sandbox_proc.py``, its
own process) serves N tasks whose durations come from one seeded distribution; the
contender (``contenders.py``, its own process) submits them all, with all N allowed in
flight, follows them and downloads every video. The sandbox's counters then give requests
per route and each task's server-side completion time. ``download_bench.py`` adds the
500 MB download comparison with curl. Results go to ``benchmarks/results/<date>.json`` and
``<date>.md``; the run reports pass/fail against the targets of issue 6. Not a test: the
figures depend on the machine (and on whatever else runs on it).
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
import urllib.request
from typing import Any

import psutil

_HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(_HERE))

from download_bench import measure as measure_download  # noqa: E402
from sandbox_proc import task_durations  # noqa: E402

__all__ = ["main"]

CONTENDERS = ("videogen", "videogen-defaults", "openai", "naive")
#: opt-in contenders measured like ``videogen`` (none at the moment)
EXPERIMENTS: tuple[str, ...] = ()
LABELS = {
    "videogen": "videogen-nb `client.run` (concurrency=N)",
    "videogen-defaults": "videogen-nb `client.run`, all defaults (16-task lane)",
    "openai": "openai-python `create_and_poll` + asyncio.gather",
    "naive": "naive loop: `requests`, fixed interval, N threads",
}
POLL_ROUTES = ("GET /v1/video/generations/{task_id}", "GET /v1/videos/{task_id}")

# Targets of issue 6
TARGET_CPU_PER_POLL_S = 0.002
TARGET_RSS_MB = 300.0
TARGET_GET_RATIO = 0.5
TARGET_LAG_RATIO = 1.5
TARGET_DOWNLOAD_RATIO = 0.8
TARGET_DOWNLOAD_RSS_MB = 50.0
TARGET_WALL_OVER_IDEAL = 1.1


# --- one contender against one fresh sandbox -------------------------------------------


def _start_sandbox(
    n: int, scale: float, seed: int, extra: tuple[str, ...] = ()
) -> tuple[subprocess.Popen[str], dict[str, str]]:
    proc = subprocess.Popen(
        [
            sys.executable,
            str(_HERE / "sandbox_proc.py"),
            "--n",
            str(n),
            "--scale",
            str(scale),
            "--seed",
            str(seed),
            *extra,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        proc.wait(10)
        raise RuntimeError(f"the benchmark sandbox did not start (exit code {proc.returncode})")
    return proc, json.loads(line)


def _stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def _sandbox_stats(base_url: str, api_key: str) -> dict[str, Any]:
    req = urllib.request.Request(
        base_url + "/_sandbox/stats", headers={"Authorization": f"Bearer {api_key}"}
    )
    with urllib.request.urlopen(req, timeout=120) as resp:
        return json.loads(resp.read())


def _quantiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None, "max": None, "mean": None}
    ordered = sorted(values)

    def pick(q: float) -> float:
        # nearest rank: the p95 of 100 values is the 95th smallest
        return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]

    return {
        "p50": statistics.median(ordered),
        "p95": pick(0.95),
        "max": ordered[-1],
        "mean": statistics.fmean(ordered),
    }


def run_contender(
    name: str,
    n: int,
    *,
    scale: float,
    seed: int,
    interval: float,
    deadline: float,
    sandbox_args: tuple[str, ...] = (),
    contender_args: tuple[str, ...] = (),
    min_share: float | None = None,
) -> dict[str, Any]:
    """Run one contender on a fresh sandbox and return its figures (``sandbox_args`` and
    ``contender_args`` add flags to ``sandbox_proc.py`` and ``contenders.py``)."""
    workdir = pathlib.Path(tempfile.mkdtemp(prefix=f"vg-bench-{name}-{n}-"))
    if min_share is not None:
        sandbox_args = (*sandbox_args, "--min-share", str(min_share))
    sandbox, where = _start_sandbox(n, scale, seed, sandbox_args)
    try:
        out = workdir / "contender.json"
        env = dict(os.environ, VIDEOGEN_API_KEY=where["api_key"], PYTHONPATH=str(_HERE.parent))
        started = time.time()
        proc = subprocess.run(
            [
                sys.executable,
                str(_HERE / "contenders.py"),
                name,
                "--base-url",
                where["base_url"],
                "--n",
                str(n),
                "--workdir",
                str(workdir),
                "--out",
                str(out),
                "--deadline",
                str(deadline),
                "--interval",
                str(interval),
                *contender_args,
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=deadline + 180,
        )
        if proc.returncode != 0 or not out.exists():
            return {"name": name, "n": n, "error": (proc.stderr or proc.stdout)[-2000:]}
        client = json.loads(out.read_text())
        stats = _sandbox_stats(where["base_url"], where["api_key"])
        if sandbox.poll() is not None:
            raise RuntimeError("the benchmark sandbox died during the run")
        result = _figures(client, stats, n=n, scale=scale, seed=seed, min_share=min_share)
        if client.get("poll_stats"):
            result["poll_stats"] = client["poll_stats"]
        result["process_seconds"] = time.time() - started
        result["stderr_tail"] = proc.stderr[-1500:] if proc.stderr else ""
        return result
    finally:
        _stop(sandbox)
        shutil.rmtree(workdir, ignore_errors=True)


def _figures(
    client: dict[str, Any],
    stats: dict[str, Any],
    *,
    n: int,
    scale: float,
    seed: int,
    min_share: float | None = None,
) -> dict[str, Any]:
    durations = (
        task_durations(n, scale, seed)
        if min_share is None
        else task_durations(n, scale, seed, min_share)
    )
    ideal = max(durations)
    server_tasks = stats.get("tasks", {})
    lags: list[float] = []
    server_lags: list[float] = []
    duration_errors = 0
    failures: dict[str, int] = {}
    for task in client["tasks"]:
        if not task["ok"]:
            reason = (task["error"] or "unknown").split(":")[0][:60]
            failures[reason] = failures.get(reason, 0) + 1
        srv = server_tasks.get(task["task_id"] or "")
        if srv is None or srv.get("completed_at") is None:
            continue
        if abs(srv["completed_at"] - srv["created_at"] - durations[task["i"]]) > 0.01:
            duration_errors += 1
        if task["noticed_at"] is not None:
            lags.append(task["noticed_at"] - srv["completed_at"])
        if srv.get("first_completed_read_at") is not None:
            server_lags.append(srv["first_completed_read_at"] - srv["completed_at"])
    created = [t["created_at"] for t in server_tasks.values()]
    requests = stats.get("requests", {})
    poll_gets = sum(requests.get(route, 0) for route in POLL_ROUTES)
    all_gets = sum(v for k, v in requests.items() if k.startswith("GET "))
    cpu = client["cpu_user"] + client["cpu_system"]
    wall = client["ended_at"] - client["started_at"]
    ok = sum(1 for t in client["tasks"] if t["ok"])
    non_2xx = {k: v for k, v in stats.get("statuses", {}).items() if not k.startswith("2")}
    return {
        "name": client["name"],
        "n": n,
        "ok": ok,
        "failures": n - ok,
        "failure_reasons": failures,
        "ideal_s": ideal,
        "wall_s": wall,
        # how long the client took to get every task accepted, from its start
        "first_submit_after_s": min(created) - client["started_at"] if created else None,
        "submit_span_s": max(created) - min(created) if created else None,
        "wall_over_ideal": wall / ideal,
        "requests": requests,
        "http_non_2xx": non_2xx,
        "poll_gets": poll_gets,
        "poll_gets_per_task": poll_gets / n,
        "gets_per_task": all_gets / n,
        "posts": sum(v for k, v in requests.items() if k.startswith("POST ")),
        "lag_s": _quantiles(lags),
        "server_seen_lag_s": _quantiles(server_lags),
        "cpu_s": cpu,
        "cpu_ms_per_task": 1000 * cpu / n,
        "cpu_ms_per_poll": 1000 * cpu / poll_gets if poll_gets else None,
        "rss_before_mb": client["rss_before_mb"],
        "peak_rss_mb": client["peak_rss_mb"],
        "duration_mismatches": duration_errors,
        "client_polls_sent": client.get("client_polls_sent"),
        "thread_cpu_s": client.get("thread_cpu_s"),
    }


# --- targets ------------------------------------------------------------------------------


def _find(results: list[dict[str, Any]], name: str, n: int) -> dict[str, Any] | None:
    for r in results:
        if r["name"] == name and r["n"] == n and "error" not in r:
            return r
    return None


def evaluate(
    results: list[dict[str, Any]], download: dict[str, Any] | None
) -> list[dict[str, Any]]:
    """Pass/fail of every target of issue 6 that this run measured."""
    checks: list[dict[str, Any]] = []
    big = _find(results, "videogen", 10_000)
    if big is not None:
        cpu = big["cpu_ms_per_poll"] or float("inf")
        checks.append(
            {
                "target": "10,000 in flight: CPU < 2 ms per poll, peak RSS < 300 MB, no failures",
                "measured": f"{cpu:.2f} ms/poll, {big['peak_rss_mb']:.0f} MB, "
                f"{big['failures']} failures",
                "pass": cpu < TARGET_CPU_PER_POLL_S * 1000
                and big["peak_rss_mb"] < TARGET_RSS_MB
                and big["failures"] == 0,
            }
        )
    pairs = [
        (n, name) for n in sorted({r["n"] for r in results}) for name in ("videogen", *EXPERIMENTS)
    ]
    for n, name in pairs:
        ours, theirs = _find(results, name, n), _find(results, "openai", n)
        if ours is None or theirs is None:
            continue
        who = "" if name == "videogen" else f" [{name}, experiment]"
        get_ratio = ours["poll_gets_per_task"] / theirs["poll_gets_per_task"]
        ours_p95, theirs_p95 = ours["lag_s"]["p95"], theirs["lag_s"]["p95"]
        lag_ratio = ours_p95 / theirs_p95 if ours_p95 is not None and theirs_p95 else float("inf")
        checks.append(
            {
                "target": f"N={n:,}: poll GETs/task <= 0.5 x openai-python's, p95 lag <= 1.5 x "
                f"its{who}",
                "measured": f"GETs {ours['poll_gets_per_task']:.1f} vs "
                f"{theirs['poll_gets_per_task']:.1f} ({get_ratio:.2f}x); p95 lag "
                f"{_s(ours_p95)} vs {_s(theirs_p95)} ({lag_ratio:.2f}x)",
                "pass": get_ratio <= TARGET_GET_RATIO and lag_ratio <= TARGET_LAG_RATIO,
            }
        )
    mid = _find(results, "videogen", 1000)
    if mid is not None:
        checks.append(
            {
                "target": "N=1,000: wall time / ideal < 1.1",
                "measured": f"{mid['wall_over_ideal']:.3f} ({mid['wall_s']:.1f} s / "
                f"{mid['ideal_s']:.1f} s)",
                "pass": mid["wall_over_ideal"] < TARGET_WALL_OVER_IDEAL,
            }
        )
    if download and "error" not in download:
        checks.append(
            {
                "target": "download >= 80 % of curl, RSS growth < 50 MB (500 MB file)",
                "measured": f"{download['ratio']:.0%} of curl "
                f"({download['videogen_mb_per_s']:.0f} vs "
                f"{download['curl_mb_per_s']:.0f} MB/s), "
                f"+{download['videogen_rss_growth_mb']:.1f} MB",
                "pass": download["ratio"] >= TARGET_DOWNLOAD_RATIO
                and download["videogen_rss_growth_mb"] < TARGET_DOWNLOAD_RSS_MB,
            }
        )
    return checks


# --- report -------------------------------------------------------------------------------


def _s(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def machine() -> dict[str, Any]:
    """What the run ran on (the figures mean little without it)."""
    cpu = platform.processor() or ""
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import aiohttp
    import openai
    import requests

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ram_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "load_avg_at_start": os.getloadavg(),
        "versions": {
            "openai": openai.__version__,
            "requests": requests.__version__,
            "aiohttp": aiohttp.__version__,
            "curl": subprocess.run(
                ["curl", "--version"], capture_output=True, text=True
            ).stdout.split("\n", 1)[0]
            if shutil.which("curl")
            else None,
        },
    }


def markdown(report: dict[str, Any]) -> str:
    """The results as markdown tables."""
    m = report["machine"]
    cfg = report["config"]
    lines = [
        f"# Benchmark results, {report['date']}",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['ram_gb']} GB RAM, {m['os']}, "
        f"Python {m['python']}; load average at start {m['load_avg_at_start'][0]:.2f} "
        f"(shared machine). openai {m['versions']['openai']}, requests "
        f"{m['versions']['requests']}, aiohttp {m['versions']['aiohttp']}.",
        "",
        f"Task durations: seeded log-normal, longest {cfg['scale']:.0f} s (seed {cfg['seed']});"
        f" naive loop polls every {cfg['naive_interval']:g} s. Every contender downloads every"
        " video (64x64, 4 s). Lag = when the client saw the task completed minus when the "
        "server finished it.",
        "",
        "| N | contender | wall / ideal | poll GETs / task | all GETs / task | lag p50 / p95 / "
        "max (s) | CPU ms / task | CPU ms / poll | peak RSS (MB) | failures |",
        "|---:|---|---:|---:|---:|---|---:|---:|---:|---:|",
    ]
    for r in report["results"]:
        label = LABELS.get(r["name"], r["name"])
        if "error" in r:
            lines.append(f"| {r['n']:,} | {label} | error | | | | | | | see JSON |")
            continue
        lag = r["lag_s"]
        per_poll = "–" if r["cpu_ms_per_poll"] is None else f"{r['cpu_ms_per_poll']:.2f}"
        lines.append(
            f"| {r['n']:,} | {label} | {r['wall_over_ideal']:.3f} | "
            f"{r['poll_gets_per_task']:.1f} | {r['gets_per_task']:.1f} | "
            f"{_s(lag['p50'])} / {_s(lag['p95'])} / {_s(lag['max'])} | "
            f"{r['cpu_ms_per_task']:.1f} | {per_poll} | {r['peak_rss_mb']:.0f} | "
            f"{r['failures']} |"
        )
    dl = report.get("download")
    if dl and "error" not in dl:
        lines += [
            "",
            f"Download of a {dl['file_mb']:.0f} MB file from a local aiohttp static server "
            f"(median of {dl['repeat']}):",
            "",
            "| downloader | MB/s | peak RSS (MB) | RSS growth (MB) |",
            "|---|---:|---:|---:|",
            f"| `curl -o` | {dl['curl_mb_per_s']:.0f} | {dl['curl_peak_rss_mb']:.0f} | – |",
            f"| videogen-nb `stream_to_file` | {dl['videogen_mb_per_s']:.0f} "
            f"({dl['ratio']:.0%} of curl) | {dl['videogen_peak_rss_mb']:.0f} | "
            f"{dl['videogen_rss_growth_mb']:.1f} |",
            f"| `curl -o`, then fsync (like for like) | {dl['curl_fsync_mb_per_s']:.0f} | | |",
            f"| its core loop bare: read, write, SHA-256, fsync | "
            f"{dl['raw_serial_mb_per_s']:.0f} | | |",
            f"| the same, write and hash on worker threads | "
            f"{dl['raw_pipelined_mb_per_s']:.0f} | | "
            f"{dl['raw_pipelined_rss_growth_mb']:.1f} |",
        ]
    elif dl:
        lines += ["", f"Download benchmark: {dl['error']}"]
    lines += ["", "| target | measured | result |", "|---|---|---|"]
    for c in report["targets"]:
        lines.append(f"| {c['target']} | {c['measured']} | {'pass' if c['pass'] else 'MISS'} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and write ``benchmarks/results/<date>.json`` and ``.md``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=None, help="task counts, e.g. 100,1000,10000")
    parser.add_argument("--quick", action="store_true", help="N = 100 and 1,000, short tasks")
    parser.add_argument(
        "--scale",
        type=float,
        default=None,
        help="longest task duration in seconds (default 60, quick 12)",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--naive-interval", type=float, default=5.0)
    parser.add_argument("--contenders", default=",".join(CONTENDERS))
    parser.add_argument(
        "--defaults-sizes",
        default="100",
        help="sizes at which the all-defaults videogen run happens (its lane "
        "of 16 makes big N take N/16 task durations)",
    )
    parser.add_argument("--download-mb", type=int, default=500)
    parser.add_argument("--download-repeat", type=int, default=None)
    parser.add_argument("--no-download", action="store_true")
    parser.add_argument("--out", default=str(_HERE / "results"))
    parser.add_argument("--name", default=None, help="result file stem (default: the date)")
    args = parser.parse_args(argv)

    sizes = [
        int(s) for s in (args.sizes or ("100,1000" if args.quick else "100,1000,10000")).split(",")
    ]
    scale = args.scale if args.scale is not None else (12.0 if args.quick else 60.0)
    repeat = args.download_repeat or (1 if args.quick else 5)
    contenders = [c.strip() for c in args.contenders.split(",") if c.strip()]
    defaults_sizes = {int(s) for s in args.defaults_sizes.split(",") if s.strip()}
    unknown = set(contenders) - set(CONTENDERS) - set(EXPERIMENTS)
    if unknown:
        parser.error(f"unknown contenders: {', '.join(sorted(unknown))}")

    began = time.time()
    report: dict[str, Any] = {
        "date": datetime.date.today().isoformat(),
        "machine": machine(),
        "config": {
            "sizes": sizes,
            "scale": scale,
            "seed": args.seed,
            "naive_interval": args.naive_interval,
            "contenders": contenders,
            "quick": args.quick,
        },
        "results": [],
    }
    for n in sizes:
        for name in contenders:
            if name == "videogen-defaults" and n not in defaults_sizes:
                continue
            # the all-defaults run works through N/16 waves of tasks
            deadline = scale * (4 + (n / 16 if name == "videogen-defaults" else 0)) + 120
            print(f"[{time.time() - began:6.0f} s] N={n:,} {name} ...", flush=True)
            result = run_contender(
                name,
                n,
                scale=scale,
                seed=args.seed,
                interval=args.naive_interval,
                deadline=deadline,
            )
            report["results"].append(result)
            if "error" in result:
                print(f"    error: {result['error'][-400:]}", flush=True)
            else:
                print(
                    f"    wall/ideal {result['wall_over_ideal']:.3f}, "
                    f"poll GETs/task {result['poll_gets_per_task']:.1f}, "
                    f"lag p95 {_s(result['lag_s']['p95'])} s, "
                    f"CPU {result['cpu_ms_per_task']:.1f} ms/task, "
                    f"RSS {result['peak_rss_mb']:.0f} MB, failures {result['failures']}, "
                    f"submits took {result['submit_span_s'] or 0:.1f} s",
                    flush=True,
                )
    if not args.no_download:
        print(f"[{time.time() - began:6.0f} s] download {args.download_mb} MB ...", flush=True)
        report["download"] = measure_download(args.download_mb, repeat)
    report["targets"] = evaluate(report["results"], report.get("download"))
    report["total_seconds"] = time.time() - began

    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = args.name or (report["date"] + ("-quick" if args.quick else ""))
    (out / f"{stem}.json").write_text(json.dumps(report, indent=1))
    table = markdown(report)
    (out / f"{stem}.md").write_text(table)
    print(table)
    print(f"written: {out / stem}.json, .md ({report['total_seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
