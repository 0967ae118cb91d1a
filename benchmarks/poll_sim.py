"""The poll regimes of ``poll_regimes.py``, simulated: no HTTP, no sleeping, seconds to run.

The same seeded tasks and the same gateway behaviour as ``sandbox_proc.py`` (the sandbox's
phases, the stepped or silent progress, the 15 s refresh, ``openai-poll-after-ms``), served
on a simulated clock to the package's own follow rules (``tasks.follow.Follow`` with one
shared ``PaceBook`` per batch, as the run layer's scheduler does) and to openai-python's
``create_and_poll`` loop (a GET right after the submit, then one every
``max(1 s, openai-poll-after-ms)``). It is how the policy was tuned between real runs; the
figures that count are the real runs' (``poll_regimes.py``), and
``tests/test_poll_regimes_sim.py`` pins the simulated ratios so a change to the policy that
loses them fails the suite::

    python benchmarks/poll_sim.py                    # the four regimes
    python benchmarks/poll_sim.py --regimes newapi   # one
"""

from __future__ import annotations

import argparse
import heapq
import math
import pathlib
import random
import sys
from collections import Counter
from collections.abc import Callable
from typing import Any

import attrs

_HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(_HERE))

from sandbox_proc import task_durations  # noqa: E402

import videogen_nb as vg  # noqa: E402
from videogen_nb.store import catalog  # noqa: E402
from videogen_nb.tasks.follow import Finished, Follow, PollAgain  # noqa: E402
from videogen_nb.tasks.pace import Pace, PaceBook  # noqa: E402
from videogen_nb.tasks.polling import PollPolicy  # noqa: E402

__all__ = ["REGIMES", "USER_REGIMES", "Regime", "SimGateway", "simulate"]

MODEL = "sora-2"
#: where the sandbox's phases end, as shares of a task's duration (``sandbox/state.py``)
_PHASES = ((0.08, "not_start"), (0.16, "submitted"), (0.25, "queued"))
_NEW_API_STATUS = {
    "not_start": "NOT_START",
    "submitted": "SUBMITTED",
    "queued": "QUEUED",
    "in_progress": "IN_PROGRESS",
}
_STEPS = {"not_start": 10, "submitted": 10, "queued": 20, "in_progress": 30}
#: the epoch of the first submit, and the spacing of the submits (32 POSTs in flight)
T0 = 1_000_000.0
SUBMIT_SPACING = 0.002


@attrs.frozen
class Regime:
    """One gateway behaviour and its tasks (``poll_regimes.REGIMES``)."""

    n: int
    scale: float
    min_share: float
    refresh: float | None = None
    progress: str = "linear"
    poll_after: float | None = None
    batches: int = 1


REGIMES = {
    "short": Regime(n=300, scale=10.0, min_share=0.2, poll_after=1.0),
    "newapi": Regime(n=300, scale=180.0, min_share=30 / 180, refresh=15.0, progress="stepped"),
    "silent": Regime(n=600, scale=40.0, min_share=0.1, progress="none", batches=2),
    "long": Regime(n=300, scale=60.0, min_share=0.1),
}


#: regimes the benchmark did not choose, as users meet them: other task lengths, batch
#: sizes, refresh periods and hints (``--users``; ``tests/test_poll_regimes_sim.py`` pins
#: them). The last three start from a blank model in a batch too small to learn from
#: before most of it has finished: there the policy trades lag for GETs on purpose.
USER_REGIMES = {
    "tiny (1-3 s)": Regime(n=300, scale=3.0, min_share=1 / 3),
    "long linear (2-10 min)": Regime(n=100, scale=600.0, min_share=0.2),
    "wide linear (6 s-10 min)": Regime(n=300, scale=600.0, min_share=0.01),
    "stepped, no refresh": Regime(n=300, scale=60.0, min_share=0.1, progress="stepped"),
    "refresh 30 s": Regime(
        n=300, scale=180.0, min_share=30 / 180, refresh=30.0, progress="stepped"
    ),
    "refresh 5 s, linear": Regime(n=300, scale=60.0, min_share=0.1, refresh=5.0),
    "refresh 15 s, linear": Regime(n=300, scale=180.0, min_share=30 / 180, refresh=15.0),
    "hint 5 s": Regime(n=300, scale=60.0, min_share=0.1, poll_after=5.0),
    "silent 30 s-3 min, 2 x 40": Regime(
        n=80, scale=180.0, min_share=30 / 180, progress="none", batches=2
    ),
    "stepped 15 s refresh, 40": Regime(
        n=40, scale=180.0, min_share=30 / 180, refresh=15.0, progress="stepped"
    ),
    "4 linear 30 s-3 min": Regime(n=4, scale=180.0, min_share=30 / 180),
    "20 silent 4-40 s": Regime(n=20, scale=40.0, min_share=0.1, progress="none"),
    "4 stepped 15 s refresh": Regime(
        n=4, scale=180.0, min_share=30 / 180, refresh=15.0, progress="stepped"
    ),
    "4 silent 30 s-3 min": Regime(n=4, scale=180.0, min_share=30 / 180, progress="none"),
}


@attrs.define
class SimGateway:
    """Answers a status read of task ``i`` at epoch ``now`` as ``sandbox_proc`` would, and
    remembers when each task was first told "completed" (the gateway-side lag)."""

    regime: Regime
    durations: list[float]
    created: dict[int, float] = attrs.field(factory=dict)
    told: dict[int, float] = attrs.field(factory=dict)
    gets: Counter[int] = attrs.field(factory=Counter)
    phase: float = 0.37

    def finish(self, i: int) -> float:
        return self.created[i] + self.durations[i]

    def read(self, i: int, now: float) -> vg.Task:
        self.gets[i] += 1
        seen = now
        if self.regime.refresh:
            period = self.regime.refresh
            seen = T0 + self.phase + ((now - T0 - self.phase) // period) * period
        frac = (seen - self.created[i]) / self.durations[i]
        if frac >= 1.0:
            self.told.setdefault(i, now)
            return vg.Task(id=str(i), status=vg.TaskStatus.COMPLETED, progress=100)
        state = next((name for end, name in _PHASES if frac < end), "in_progress")
        progress = (
            0 if state != "in_progress" else max(1, min(99, int(5 + 95 * (frac - 0.25) / 0.75)))
        )
        if self.regime.progress == "none":
            progress = 0
        elif self.regime.progress == "stepped":
            progress = _STEPS[state]
        status = vg.TaskStatus.IN_PROGRESS if state == "in_progress" else vg.TaskStatus.QUEUED
        return vg.Task(
            id=str(i),
            status=status,
            progress=progress,
            poll_after=self.regime.poll_after,
            status_text=_NEW_API_STATUS[state],
        )


def _lags(gateway: SimGateway, tasks: range) -> list[float]:
    return sorted(gateway.told[i] - gateway.finish(i) for i in tasks)


def _quantile(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, math.ceil(q * len(values)) - 1)]


def _run_heap(start: list[tuple[float, int]], step: Callable[[int, float], float | None]) -> None:
    """Poll each task at its due time; ``step`` answers the next due time (None: done)."""
    heap = list(start)
    heapq.heapify(heap)
    while heap:
        now, i = heapq.heappop(heap)
        nxt = step(i, now)
        if nxt is not None:
            heapq.heappush(heap, (nxt, i))


@attrs.define
class _SimClock:
    """Epoch seconds on the simulated timeline."""

    now: float

    def __call__(self) -> float:
        return self.now


def _batches(regime: Regime) -> list[range]:
    size = -(-regime.n // regime.batches)
    return [range(first, min(regime.n, first + size)) for first in range(0, regime.n, size)]


@attrs.define
class _VideogenBatch:
    """One client following one batch, from its submits to its last finish."""

    gateway: SimGateway
    policy: PollPolicy
    clock: _SimClock
    latency: float = 0.0
    rng: random.Random = attrs.field(factory=lambda: random.Random(1))
    follows: dict[int, Follow] = attrs.field(factory=dict)
    noticed: dict[int, float] = attrs.field(factory=dict)
    #: each waiting task's due time (a heap entry that differs is stale: re-timed)
    due: dict[int, float] = attrs.field(factory=dict)
    heap: list[tuple[float, int]] = attrs.field(factory=list)
    milestone: int = 0

    def start(self, i: int, pace: Pace, typical: float | None) -> tuple[float, int]:
        self.clock.now = self.gateway.created[i]
        follow = Follow(
            task=vg.Task(id=str(i), status=vg.TaskStatus.QUEUED),
            policy=self.policy,
            submitted_at=self.gateway.created[i],
            typical_seconds=typical,
            pace=pace,
            clock=self.clock,
        )
        self.follows[i] = follow
        decision = follow.first()
        assert isinstance(decision, PollAgain)
        self.due[i] = self.clock.now + decision.delay
        return (self.due[i], i)

    def run(self, start: list[tuple[float, int]]) -> None:
        """Poll each task at its due time, as the run layer's ``PollScheduler`` does,
        re-timing the waiting ones when the pace learns something new."""
        self.heap = list(start)
        heapq.heapify(self.heap)
        while self.heap:
            now, i = heapq.heappop(self.heap)
            if self.due.get(i) != now:
                continue  # re-timed
            nxt = self.step(i, now)
            if nxt is None:
                del self.due[i]
                continue
            self.due[i] = nxt
            heapq.heappush(self.heap, (nxt, i))
            pace = self.follows[i].pace
            if pace is not None and pace.milestone > self.milestone:
                self.milestone = pace.milestone
                self._retime(self.clock.now)

    def _retime(self, now: float) -> None:
        for i, due in list(self.due.items()):
            self.clock.now = now
            delay = self.follows[i].retime(due - now)
            if delay is not None:
                self.due[i] = now + delay
                heapq.heappush(self.heap, (now + delay, i))

    def step(self, i: int, t: float) -> float | None:
        # the GET leaves at t, is read by the gateway a little later, answered later still
        read = t + self.latency * self.rng.random()
        answer = self.gateway.read(i, read)
        self.clock.now = read + self.latency * self.rng.random()
        decision = self.follows[i].after_poll(answer, sent_at=t)
        t = self.clock.now
        if isinstance(decision, Finished):
            self.noticed[i] = t
            return None
        assert isinstance(decision, PollAgain)
        return t + decision.delay


def simulate_videogen(
    regime: Regime, *, seed: int = 7, policy: PollPolicy | None = None, latency: float = 0.0
) -> dict[str, Any]:
    """The package's follow rules, batch after batch (each a fresh client whose journal
    holds the earlier batches' durations, as seen by the client, and whose scheduler
    restores what the earlier one kept next to the journal). ``traces`` holds each task's
    (duration, gateway lag, decisions), to study a regime."""
    durations = task_durations(regime.n, regime.scale, seed, regime.min_share)
    gateway = SimGateway(regime, durations)
    info = catalog.get_model(MODEL)
    typical = info.typical_seconds if info is not None else None
    journal: list[float] = []
    kept: dict[str, dict[str, Any]] = {}
    reasons: Counter[str] = Counter()
    batch_gets, traces = [], {}
    start = T0
    for batch in _batches(regime):
        book = PaceBook()
        pace = book.pace(MODEL, learned=list(journal), restored=kept.get(MODEL))
        run = _VideogenBatch(gateway, policy or PollPolicy(), _SimClock(start), latency)
        due = []
        for k, i in enumerate(batch):
            gateway.created[i] = start + k * SUBMIT_SPACING
            due.append(run.start(i, pace, typical))
        run.milestone = pace.milestone
        run.run(due)
        for i in batch:
            decisions = run.follows[i].trace.decisions
            reasons.update(reason for _, _, reason in decisions)
            journal.append(run.noticed[i] - gateway.created[i])
            traces[i] = (durations[i], gateway.told[i] - gateway.finish(i), decisions)
        batch_gets.append(sum(gateway.gets[i] for i in batch) / len(batch))
        kept = book.export()
        start = max(run.noticed.values()) + 5.0
    out = _figures(gateway, range(regime.n), reasons=dict(reasons.most_common()))
    return {**out, "batches": batch_gets, "traces": traces}


def simulate_openai(regime: Regime, *, seed: int = 7) -> dict[str, Any]:
    """openai-python's ``create_and_poll``: a GET at once, then every max(1 s, hint)."""
    durations = task_durations(regime.n, regime.scale, seed, regime.min_share)
    gateway = SimGateway(regime, durations)
    ended: list[float] = []

    def step(i: int, t: float) -> float | None:
        task = gateway.read(i, t)
        if task.status.is_terminal:
            ended.append(t)
            return None
        return t + max(1.0, task.poll_after or 1.0)

    start = T0
    for batch in _batches(regime):
        due = []
        for k, i in enumerate(batch):
            gateway.created[i] = start + k * SUBMIT_SPACING
            due.append((gateway.created[i], i))
        _run_heap(due, step)
        start = max(ended) + 5.0
    return _figures(gateway, range(regime.n))


def _figures(gateway: SimGateway, tasks: range, **extra: Any) -> dict[str, Any]:
    lags = _lags(gateway, tasks)
    return {
        "gets_per_task": sum(gateway.gets[i] for i in tasks) / len(tasks),
        "lag_p50": _quantile(lags, 0.5),
        "lag_p95": _quantile(lags, 0.95),
        "lag_max": lags[-1],
        **extra,
    }


def simulate(name: str, *, seed: int = 7, policy: PollPolicy | None = None) -> dict[str, Any]:
    """videogen and openai-python through regime ``name`` (of ``REGIMES`` or
    ``USER_REGIMES``), and their ratios."""
    regime = REGIMES.get(name) or USER_REGIMES[name]
    ours, theirs = (
        simulate_videogen(regime, seed=seed, policy=policy),
        simulate_openai(regime, seed=seed),
    )
    return {
        "videogen": ours,
        "openai": theirs,
        "get_ratio": ours["gets_per_task"] / theirs["gets_per_task"],
        "lag_ratio": ours["lag_p95"] / theirs["lag_p95"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--regimes", default=",".join(REGIMES))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--users", action="store_true", help="the regimes users meet, too")
    args = parser.parse_args(argv)
    names = args.regimes.split(",") + (list(USER_REGIMES) if args.users else [])
    for name in names:
        out = simulate(name, seed=args.seed)
        ours, theirs = out["videogen"], out["openai"]
        print(
            f"{name:26s} GETs {ours['gets_per_task']:6.2f} vs {theirs['gets_per_task']:6.2f}"
            f" ({out['get_ratio']:.2f}x)  lag p95 {ours['lag_p95']:6.2f} vs {theirs['lag_p95']:6.2f}"
            f" ({out['lag_ratio']:.2f}x)  p50 {ours['lag_p50']:.2f}  max {ours['lag_max']:.2f}"
            f"  batches {[round(b, 2) for b in ours['batches']]}"
        )
        print("         ", ours["reasons"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
