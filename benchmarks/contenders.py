"""The clients under test, one per process: ``python benchmarks/contenders.py NAME ...``.

Each contender submits tasks ``bench-0 .. bench-<n-1>`` to the benchmark sandbox with all
``n`` allowed in flight, follows them to the end, downloads every video, and writes one JSON
file: per task its id, when the client first saw it completed (``noticed_at``, wall clock),
when its video was on disk, and any error; for the process its CPU seconds and peak RSS
over the measured window. The key comes from ``VIDEOGEN_API_KEY`` (never from argv).

Contenders:

- ``videogen``: ``AsyncClient.run(requests, concurrency=n)``, default polling;
- ``videogen-defaults``: ``AsyncClient.run(requests)`` with every default (the gateway lane
  of 16 tasks in flight included);
- ``openai``: ``AsyncOpenAI(base_url=...).videos.create_and_poll(...)`` gathered with asyncio,
  then ``videos.download_content(...)``;
- ``naive``: the seed documents' loop, ``requests.post`` then a GET every ``--interval``
  seconds, in a thread pool of ``n`` threads.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pathlib
import resource
import sys
import threading
import time
import warnings
from collections.abc import Callable
from typing import Any

import psutil

__all__ = ["CONTENDERS", "main"]

MODEL = "sora-2"
# A tiny clip: every contender asks for the same 64x64, 4-second render (cached server-side).
SIZE = "64x64"
SECONDS = 4


def _prompt(i: int) -> str:
    return f"bench-{i}"


class Recorder:
    """Per-task observations, safe to fill from many threads."""

    def __init__(self, n: int) -> None:
        self.tasks: list[dict[str, Any]] = [
            {
                "i": i,
                "task_id": None,
                "noticed_at": None,
                "done_at": None,
                "ok": False,
                "error": None,
            }
            for i in range(n)
        ]
        self._lock = threading.Lock()

    def set(self, i: int, **fields: Any) -> None:
        """Record ``fields`` for task ``i``."""
        with self._lock:
            self.tasks[i].update(fields)

    def noticed(self, i: int) -> None:
        """Record the first moment the client knew task ``i`` had completed."""
        with self._lock:
            if self.tasks[i]["noticed_at"] is None:
                self.tasks[i]["noticed_at"] = time.time()


def _thread_cpu() -> dict[str, float]:
    """CPU seconds of the event-loop thread and of all other live threads (worker pools)."""
    main_id = threading.main_thread().native_id
    out = {"loop_thread": 0.0, "other_threads": 0.0}
    for t in psutil.Process().threads():
        key = "loop_thread" if t.id == main_id else "other_threads"
        out[key] += t.user_time + t.system_time
    return out


# --- videogen-nb ------------------------------------------------------------------------


async def _finished(run: Any) -> Any:
    return await run


def _batches(args: argparse.Namespace) -> list[range]:
    """Task indices per batch: ``--batches`` runs one after another, ``n`` tasks in all."""
    size = -(-args.n // args.batches)
    return [range(i, min(args.n, i + size)) for i in range(0, args.n, size)]


async def _videogen(args: argparse.Namespace, rec: Recorder, *, defaults: bool) -> dict[str, Any]:
    """Each batch through a fresh client on the same journal (a new kernel, say): what the
    first batch taught reaches the second through the journal only."""
    extra: dict[str, Any] = {"client_polls_sent": 0, "poll_stats": []}
    for batch in _batches(args):
        await _videogen_batch(args, rec, batch, extra, defaults=defaults)
    extra["thread_cpu_s"] = _thread_cpu()
    return extra


async def _videogen_batch(
    args: argparse.Namespace, rec: Recorder, batch: range, extra: dict[str, Any], *, defaults: bool
) -> None:
    import videogen_nb as vg
    from videogen_nb.core.task import TaskStatus

    workdir = pathlib.Path(args.workdir)
    options: dict[str, Any] = {
        "journal": workdir / "journal.sqlite",
        "output_dir": workdir / "videos",
        "max_tasks": args.n,  # the spending guard (default 50) must be raised for any big run
    }
    client = vg.AsyncClient(args.base_url, os.environ["VIDEOGEN_API_KEY"], **options)
    requests = [
        vg.VideoRequest(model=MODEL, prompt=_prompt(i), size=SIZE, duration=SECONDS) for i in batch
    ]
    first = batch.start
    try:
        run = client.run(requests) if defaults else client.run(requests, concurrency=len(batch))

        def listener(index: int | None) -> None:
            if index is None:
                return
            row = run.rows[index]
            if row.task is not None and row.task.status is TaskStatus.COMPLETED:
                rec.noticed(first + index)

        run.add_listener(listener)
        # A row can complete inside start() (a cached result) before the listener exists.
        for row in run.rows:
            listener(row.index)
        try:
            await asyncio.wait_for(_finished(run), timeout=args.deadline)
        except asyncio.TimeoutError:
            run.cancel()
            await asyncio.sleep(0.5)
        for row in run.rows:
            ok = row.state.value == "done"
            rec.set(
                first + row.index,
                task_id=row.task.id if row.task is not None else None,
                done_at=row.finished_at,
                ok=ok,
                error=None if ok else f"{row.state.value}: {row.error}"[:300],
            )
        extra["client_polls_sent"] += client.scheduler.polls_sent
        if hasattr(run, "poll_stats"):
            for stat in run.poll_stats():
                stat.pop("decisions", None)
                extra["poll_stats"].append(stat)
    finally:
        await client.aclose()


# --- openai-python ----------------------------------------------------------------------


async def _openai(args: argparse.Namespace, rec: Recorder) -> dict[str, Any]:
    from openai import AsyncOpenAI

    out_dir = pathlib.Path(args.workdir) / "videos"
    out_dir.mkdir(parents=True, exist_ok=True)
    client = AsyncOpenAI(base_url=args.base_url + "/v1", api_key=os.environ["VIDEOGEN_API_KEY"])

    async def one(i: int) -> None:
        try:
            video = await client.videos.create_and_poll(
                prompt=_prompt(i),
                model=MODEL,
                seconds=str(SECONDS),
                size=SIZE,  # type: ignore[arg-type]
            )
            rec.set(i, task_id=video.id)
            if video.status != "completed":
                rec.set(i, error=f"status {video.status}")
                return
            rec.noticed(i)
            content = await client.videos.download_content(video.id)
            content.write_to_file(out_dir / f"{i}.mp4")
            rec.set(i, ok=True, done_at=time.time())
        except Exception as exc:  # a failure is a result here, not a crash
            rec.set(i, error=f"{type(exc).__name__}: {exc}"[:300])

    try:
        for batch in _batches(args):
            await asyncio.wait_for(asyncio.gather(*(one(i) for i in batch)), timeout=args.deadline)
    except asyncio.TimeoutError:
        pass
    finally:
        await client.close()
    return {}


# --- the naive loop ---------------------------------------------------------------------


def _naive(args: argparse.Namespace, rec: Recorder) -> dict[str, Any]:
    from concurrent.futures import ThreadPoolExecutor

    import requests

    key = os.environ["VIDEOGEN_API_KEY"]
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    out_dir = pathlib.Path(args.workdir) / "videos"
    out_dir.mkdir(parents=True, exist_ok=True)
    deadline = time.time() + args.deadline
    success = {"completed", "succeeded", "success"}
    failure = {"failed", "failure", "cancelled"}

    def one(i: int) -> None:
        try:
            body = {"model": MODEL, "prompt": _prompt(i), "size": SIZE, "duration": SECONDS}
            resp = requests.post(
                f"{args.base_url}/v1/video/generations", headers=headers, json=body, timeout=60
            )
            resp.raise_for_status()
            task_id = resp.json().get("task_id") or resp.json()["id"]
            rec.set(i, task_id=task_id)
            while time.time() < deadline:
                time.sleep(args.interval)
                poll = requests.get(
                    f"{args.base_url}/v1/video/generations/{task_id}", headers=headers, timeout=60
                )
                poll.raise_for_status()
                data = poll.json().get("data") or {}
                status = str(data.get("status", "")).lower()
                if status in success:
                    rec.noticed(i)
                    video = requests.get(data.get("result_url") or data["url"], timeout=60)
                    video.raise_for_status()
                    (out_dir / f"{i}.mp4").write_bytes(video.content)
                    rec.set(i, ok=True, done_at=time.time())
                    return
                if status in failure:
                    rec.set(i, error=f"status {status}")
                    return
            rec.set(i, error="deadline")
        except Exception as exc:  # the naive loop has no retries: a failure is a result
            rec.set(i, error=f"{type(exc).__name__}: {exc}"[:300])

    for batch in _batches(args):
        with ThreadPoolExecutor(max_workers=len(batch)) as pool:
            list(pool.map(one, batch))
    return {"threads": args.n}


CONTENDERS: dict[str, Callable[..., Any]] = {
    "videogen": lambda a, r: asyncio.run(_videogen(a, r, defaults=False)),
    "videogen-defaults": lambda a, r: asyncio.run(_videogen(a, r, defaults=True)),
    "openai": lambda a, r: asyncio.run(_openai(a, r)),
    "naive": _naive,
}


def _import_for(name: str) -> None:
    # Imports happen before the measured window so CPU and RSS growth belong to the run.
    if name.startswith("videogen"):
        import videogen_nb
        import videogen_nb.insight  # noqa: F401
    elif name == "openai":
        import openai  # noqa: F401
    else:
        import requests  # noqa: F401


def main(argv: list[str] | None = None) -> int:
    """Run one contender and write its observations to ``--out``."""
    parser = argparse.ArgumentParser(description="Run one benchmark contender.")
    parser.add_argument("name", choices=sorted(CONTENDERS))
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--n", type=int, required=True)
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--deadline", type=float, default=600.0, help="give up after, seconds")
    parser.add_argument("--interval", type=float, default=5.0, help="naive loop's poll interval")
    parser.add_argument("--batches", type=int, default=1, help="batches run one after another")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")  # catalog warnings about the tiny size; deprecations
    _import_for(args.name)
    proc = psutil.Process()
    rss_before = proc.memory_info().rss
    rec = Recorder(args.n)
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    started = time.time()
    extra = CONTENDERS[args.name](args, rec) or {}
    ended = time.time()
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    report = {
        "name": args.name,
        "n": args.n,
        "started_at": started,
        "ended_at": ended,
        "cpu_user": ru1.ru_utime - ru0.ru_utime,
        "cpu_system": ru1.ru_stime - ru0.ru_stime,
        "rss_before_mb": rss_before / 2**20,
        # ru_maxrss is in KiB on Linux
        "peak_rss_mb": ru1.ru_maxrss / 1024,
        "tasks": rec.tasks,
        **extra,
    }
    pathlib.Path(args.out).write_text(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
