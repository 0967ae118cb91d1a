"""The benchmark's gateway: the package's sandbox, with task durations keyed by prompt.

Every contender sends the same prompts (``bench-0``, ``bench-1``, ...), and this wrapper
gives the task with prompt ``bench-<i>`` the duration ``task_durations(n, scale, seed)[i]``
whatever the route, the client or the body format (openai-python sends multipart to
``/v1/videos`` and cannot nest ``metadata`` there). Renders ignore the prompt, so one tiny
MP4 is rendered once and served to every task from the sandbox's render cache.

Run on its own (one process, one event loop, no other work sharing its GIL)::

    python benchmarks/sandbox_proc.py --n 1000 --scale 60 --seed 7

The poll-policy regimes (``poll_regimes.py``) add what real gateways do:

- ``--refresh 15``: the gateway reads its vendors only every 15 s (new-api): a read shows
  the task as it was at the last refresh tick, so a status changes only at ticks. The
  detection lag stays measured against the task's real finish (``first_completed_read_at``
  is when a client was first *told* "completed");
- ``--progress stepped``: progress pinned to 10 % (submitted), 20 % (queued), 30 %
  (running), 100 % (done), as new-api reports it; ``--progress none``: progress stays 0;
- ``--poll-after-ms 1000``: every task read carries ``openai-poll-after-ms``;
- ``--min-share``: the shortest task as a share of ``--scale``.

It prints one JSON line ``{"base_url": ..., "api_key": ...}`` once it listens, and serves
until SIGTERM/SIGINT. The key is the sandbox's local throwaway key.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import re
import signal
import sys
import time
from typing import Any

import attrs
from aiohttp import web

from videogen_nb.sandbox import Behaviour, SandboxServer
from videogen_nb.sandbox.parse import ParsedRequest
from videogen_nb.sandbox.state import Phase, SandboxState, SandboxTask

__all__ = ["BENCH_PROMPT", "BenchState", "main", "prompt_for", "task_durations"]

#: the prompt of task ``i`` is ``BENCH_PROMPT.format(i=i)``
BENCH_PROMPT = "bench-{i}"
_PROMPT_RE = re.compile(r"^bench-(\d+)$")
#: new-api's pinned progress per status
_STEPS = {"not_start": 10, "submitted": 10, "queued": 20, "in_progress": 30}

# Task durations are a log-normal share of ``scale`` (median 35 %, a long right tail), clipped
# to [10 %, 100 %]: most tasks end near the middle, a few run up to the full scale, as real
# video jobs do. The same seed gives the same durations to every contender.
_MEDIAN_SHARE = 0.35
_SIGMA = 0.5
_MIN_SHARE = 0.10


def task_durations(n: int, scale: float, seed: int, min_share: float = _MIN_SHARE) -> list[float]:
    """The server-side duration in seconds of tasks ``0..n-1`` (a prefix of a fixed sequence)."""
    rng = random.Random(seed)
    mu = math.log(_MEDIAN_SHARE)
    out = []
    for _ in range(n):
        share = min(1.0, max(min_share, rng.lognormvariate(mu, _SIGMA)))
        out.append(round(share * scale, 3))
    return out


def prompt_for(i: int) -> str:
    """The prompt every contender sends for task ``i``."""
    return BENCH_PROMPT.format(i=i)


class BenchState(SandboxState):
    """``SandboxState`` whose tasks take the duration their prompt index names."""

    durations: list[float]  # set by build_server
    #: seconds between the gateway's refreshes of its vendors' state (None: every read)
    refresh: float | None = None
    #: "linear" (the sandbox's own), "stepped" (new-api's 10/20/30/100) or "none"
    progress_mode: str = "linear"
    #: the refresh ticks are at refresh_phase + k * refresh (epoch seconds)
    refresh_phase: float = 0.0

    def observe(self, task: SandboxTask, *, now: float | None = None) -> Phase:
        """The task as the gateway shows it: as of its last refresh, with its progress shape."""
        now = time.time() if now is None else now
        seen = now
        if self.refresh:
            seen = self.refresh_phase + ((now - self.refresh_phase) // self.refresh) * self.refresh
        told_before = task.first_completed_read_at is not None
        phase = super().observe(task, now=seen)
        if not told_before and task.first_completed_read_at is not None:
            task.first_completed_read_at = now  # when a client was told, not the tick
        if phase.terminal or self.progress_mode == "linear":
            return phase
        if self.progress_mode == "none":
            return attrs.evolve(phase, progress=0)
        return attrs.evolve(phase, progress=_STEPS.get(phase.state, 30))

    def create_task(self, req: ParsedRequest, *, now: float | None = None) -> SandboxTask:
        """Create the task as the sandbox does, then set its duration and a shared render."""
        task = super().create_task(req, now=now)
        match = _PROMPT_RE.match(req.prompt)
        if match is not None and int(match[1]) < len(self.durations):
            task.run_seconds = self.durations[int(match[1])]
        # One render for all tasks: the benchmark measures clients, not the H.264 encoder.
        task.render = attrs.evolve(task.render, prompt="bench")
        return task


def build_server(
    *,
    n: int,
    scale: float,
    seed: int,
    behaviour: dict[str, Any],
    min_share: float = _MIN_SHARE,
    refresh: float | None = None,
    progress: str = "linear",
) -> SandboxServer:
    """A ``SandboxServer`` whose state is a ``BenchState`` with ``n`` seeded durations."""
    server = SandboxServer(Behaviour(**behaviour))
    state = server.state
    state.__class__ = BenchState
    assert isinstance(state, BenchState)
    state.durations = task_durations(n, scale, seed, min_share)
    state.refresh = refresh
    state.progress_mode = progress
    # ticks not aligned to whole seconds, as a real gateway's loop would not be
    state.refresh_phase = time.time() % 1000 + 0.37
    return server


async def _serve(args: argparse.Namespace) -> None:
    behaviour: dict[str, Any] = {}
    if args.poll_after_ms:
        behaviour["poll_after_ms"] = args.poll_after_ms
    server = build_server(
        n=args.n,
        scale=args.scale,
        seed=args.seed,
        behaviour=behaviour,
        min_share=args.min_share,
        refresh=args.refresh,
        progress=args.progress,
    )
    runner = web.AppRunner(
        server.app(), access_log=None, handle_signals=False, shutdown_timeout=1.0
    )
    await runner.setup()
    # A deep backlog: 10,000 clients connect at once at the start of a run.
    site = web.TCPSite(runner, "127.0.0.1", args.port, backlog=16384)
    await site.start()
    port = runner.addresses[0][1]
    print(
        json.dumps(
            {"base_url": f"http://127.0.0.1:{port}", "api_key": server.state.behaviour.api_key}
        ),
        flush=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()
    server.close()


def main(argv: list[str] | None = None) -> int:
    """Serve the benchmark sandbox until SIGTERM/SIGINT."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--n", type=int, required=True, help="number of tasks with durations")
    parser.add_argument("--scale", type=float, default=60.0, help="longest task, seconds")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--min-share", type=float, default=_MIN_SHARE, help="shortest / scale")
    parser.add_argument("--refresh", type=float, default=None, help="gateway refresh, seconds")
    parser.add_argument("--progress", choices=("linear", "stepped", "none"), default="linear")
    parser.add_argument("--poll-after-ms", type=int, default=None)
    asyncio.run(_serve(parser.parse_args(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
