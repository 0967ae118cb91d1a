"""The poll policy against openai-python and the naive loop, in four regimes (issue 13).

    python benchmarks/poll_regimes.py                          # all four, ~20 minutes
    python benchmarks/poll_regimes.py --regimes short,long     # some of them

Each regime runs every contender (``contenders.py``) against a fresh benchmark sandbox
(``sandbox_proc.py``) serving the same seeded tasks, one contender after another, every
video downloaded. The regimes:

1. ``short``: 300 tasks of 2-10 s, linear progress after a short queue, every read carries
   ``openai-poll-after-ms: 1000``;
2. ``newapi``: 300 tasks log-normal 30 s - 3 min, the gateway refreshes its vendors' state
   only every 15 s (reads show the last refresh), progress pinned to 10/20/30/100 %;
3. ``silent``: no progress reported, two batches of 300 of the same model one after the
   other (the second through a fresh client on the first one's journal);
4. ``long``: 300 tasks of up to 60 s, the sandbox's own linear progress after a queue (the
   regime of ``run_benchmarks.py``).

Figures: status GETs per task (counted by the sandbox) and the detection lag measured by
the gateway (when it first *answered* "completed" minus when the task really finished:
with a 15 s refresh that includes the wait for the refresh, for every contender alike).
Targets, ratios to openai-python in the same run: GETs per task <= 0.5x (<= 0.15x in
``newapi``) at a p95 lag <= 1.0x. Results go to ``results/poll-<date>.json`` and ``.md``.
Not a test: the machine is shared and noisy; the ratios within one run are what counts.
"""

from __future__ import annotations

import argparse
import datetime
import json
import pathlib
import sys
import time
from typing import Any

_HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(_HERE))

from run_benchmarks import LABELS, machine, run_contender  # noqa: E402

__all__ = ["REGIMES", "main"]

CONTENDERS = ("videogen", "openai", "naive")

REGIMES: dict[str, dict[str, Any]] = {
    "short": {
        "title": "short: 300 tasks of 2-10 s, linear progress after a queue, poll-after 1000 ms",
        "n": 300,
        "scale": 10.0,
        "min_share": 0.2,
        "sandbox": ("--poll-after-ms", "1000"),
        "batches": 1,
        "get_target": 0.5,
    },
    "newapi": {
        "title": "new-api-like: 300 tasks 30 s - 3 min, refreshed every 15 s, stepped progress",
        "n": 300,
        "scale": 180.0,
        "min_share": 30 / 180,
        "sandbox": ("--refresh", "15", "--progress", "stepped"),
        "batches": 1,
        "get_target": 0.15,
    },
    "silent": {
        "title": "silent: no progress, two batches of 300 (4-40 s), one model",
        "n": 600,
        "scale": 40.0,
        "min_share": 0.1,
        "sandbox": ("--progress", "none"),
        "batches": 2,
        "get_target": 0.5,
    },
    "long": {
        "title": "long: 300 tasks of 6-60 s, linear progress after a queue",
        "n": 300,
        "scale": 60.0,
        "min_share": 0.1,
        "sandbox": (),
        "batches": 1,
        "get_target": 0.5,
    },
}
LAG_TARGET = 1.0


def run_regime(name: str, *, seed: int, interval: float, contenders: list[str]) -> dict[str, Any]:
    """Every contender through one regime; figures and the targets' checks."""
    spec = REGIMES[name]
    results = []
    for contender in contenders:
        started = time.time()
        result = run_contender(
            contender,
            spec["n"],
            scale=spec["scale"],
            seed=seed,
            interval=interval,
            deadline=spec["scale"] * 3 * spec["batches"] + 120,
            sandbox_args=spec["sandbox"],
            contender_args=("--batches", str(spec["batches"])),
            min_share=spec["min_share"],
        )
        result["regime"] = name
        result["bench_seconds"] = time.time() - started
        if "poll_stats" in result:
            result["poll_summary"] = _summary(result.pop("poll_stats"), spec["batches"])
        results.append(result)
        print(f"  {name} / {contender}: {_line(result)}", file=sys.stderr, flush=True)
    return {
        "regime": name,
        "spec": _jsonable(spec),
        "results": results,
        "check": _check(spec, results),
    }


def _jsonable(spec: dict[str, Any]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in spec.items()}


def _summary(stats: list[dict[str, Any]], batches: int) -> dict[str, Any]:
    """videogen's own account: GETs per task per batch, and how often each estimate chose."""
    size = -(-len(stats) // batches)
    per_batch = []
    for b in range(batches):
        part = stats[b * size : (b + 1) * size]
        per_batch.append(sum(s["gets"] for s in part) / max(1, len(part)))
    reasons: dict[str, int] = {}
    for s in stats:
        for reason, count in s["reasons"].items():
            reasons[reason] = reasons.get(reason, 0) + count
    return {"gets_per_task_by_batch": per_batch, "delays_by_reason": reasons}


def _line(r: dict[str, Any]) -> str:
    if "error" in r:
        return "error: " + r["error"][-300:]
    lag = r["server_seen_lag_s"]
    return (
        f"{r['poll_gets_per_task']:.2f} GETs/task, gateway lag p50 {_s(lag['p50'])} "
        f"p95 {_s(lag['p95'])}, {r['failures']} failures, {r['bench_seconds']:.0f} s"
    )


def _s(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def _by_name(results: list[dict[str, Any]], name: str) -> dict[str, Any] | None:
    return next((r for r in results if r["name"] == name and "error" not in r), None)


def _check(spec: dict[str, Any], results: list[dict[str, Any]]) -> dict[str, Any] | None:
    ours, theirs = _by_name(results, "videogen"), _by_name(results, "openai")
    if ours is None or theirs is None:
        return None
    get_ratio = ours["poll_gets_per_task"] / theirs["poll_gets_per_task"]
    mine, other = ours["server_seen_lag_s"]["p95"], theirs["server_seen_lag_s"]["p95"]
    lag_ratio = mine / other if mine is not None and other else float("inf")
    return {
        "get_ratio": get_ratio,
        "lag_p95_ratio": lag_ratio,
        "get_target": spec["get_target"],
        "lag_target": LAG_TARGET,
        "pass": get_ratio <= spec["get_target"]
        and lag_ratio <= LAG_TARGET
        and ours["failures"] == 0,
    }


def markdown(report: dict[str, Any]) -> str:
    """The run as markdown tables."""
    m = report["machine"]
    lines = [
        f"# Poll-policy regimes, {report['date']}",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['os']}, Python {m['python']}; load "
        f"average at start {m['load_avg_at_start'][0]:.2f} (shared machine). openai "
        f"{m['versions']['openai']}. Seed {report['seed']}; naive loop every "
        f"{report['naive_interval']:g} s. Lag = when the gateway first answered "
        '"completed" minus when the task finished (server clock).',
        "",
    ]
    for regime in report["regimes"]:
        lines += [
            f"## {regime['spec']['title']}",
            "",
            "| contender | status GETs / task | gateway lag p50 / p95 / max (s) | client lag p95 (s)"
            " | wall / ideal | CPU ms / task | failures |",
            "|---|---:|---|---:|---:|---:|---:|",
        ]
        for r in regime["results"]:
            label = LABELS.get(r["name"], r["name"])
            if "error" in r:
                lines.append(f"| {label} | error (see JSON) | | | | | |")
                continue
            lag = r["server_seen_lag_s"]
            lines.append(
                f"| {label} | {r['poll_gets_per_task']:.2f} | {_s(lag['p50'])} / "
                f"{_s(lag['p95'])} / {_s(lag['max'])} | {_s(r['lag_s']['p95'])} | "
                f"{r['wall_over_ideal']:.3f} | {r['cpu_ms_per_task']:.1f} | {r['failures']} |"
            )
        check = regime["check"]
        if check is not None:
            lines += [
                "",
                f"videogen / openai-python: GETs {check['get_ratio']:.2f}x (target <= "
                f"{check['get_target']}x), p95 lag {check['lag_p95_ratio']:.2f}x (target <= "
                f"{check['lag_target']}x): **{'pass' if check['pass'] else 'MISS'}**",
            ]
        ours = _by_name(regime["results"], "videogen")
        if ours is not None and "poll_summary" in ours:
            summary = ours["poll_summary"]
            batches = ", ".join(f"{g:.2f}" for g in summary["gets_per_task_by_batch"])
            reasons = ", ".join(
                f"{k} {v}"
                for k, v in sorted(summary["delays_by_reason"].items(), key=lambda kv: -kv[1])
            )
            lines += [
                "",
                f"videogen `run.poll_stats()`: GETs per task by batch {batches}; "
                f"delays by estimate: {reasons}.",
            ]
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the regimes and write the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--regimes", default=",".join(REGIMES))
    parser.add_argument("--contenders", default=",".join(CONTENDERS))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--naive-interval", type=float, default=5.0)
    parser.add_argument("--name", default=None, help="file stem under results/")
    args = parser.parse_args(argv)
    regimes = [r for r in args.regimes.split(",") if r]
    unknown = sorted(set(regimes) - set(REGIMES))
    if unknown:
        parser.error(f"unknown regimes {unknown}; choose from {sorted(REGIMES)}")
    contenders = [c for c in args.contenders.split(",") if c]
    report: dict[str, Any] = {
        "date": datetime.date.today().isoformat(),
        "machine": machine(),
        "seed": args.seed,
        "naive_interval": args.naive_interval,
        "regimes": [],
    }
    started = time.time()
    for name in regimes:
        report["regimes"].append(
            run_regime(name, seed=args.seed, interval=args.naive_interval, contenders=contenders)
        )
    report["total_seconds"] = time.time() - started
    stem = args.name or f"poll-{report['date']}"
    out = _HERE / "results"
    out.mkdir(exist_ok=True)
    (out / f"{stem}.json").write_text(json.dumps(report, indent=1))
    (out / f"{stem}.md").write_text(markdown(report))
    print(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
