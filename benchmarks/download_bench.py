"""Download throughput and memory: ``videogen_nb.http.download.stream_to_file`` against ``curl -o``.

A generated file (500 MB by default) is served by a local aiohttp static server in its own
process; both downloaders fetch the same URL to disk, alternately, ``--repeat`` times each.
Besides ``stream_to_file`` it times the same loop bare, once serial (as the toolkit does it)
and once with write and hash pipelined on worker threads (the proposed fix). Each Python
downloader runs in a fresh process of its own so its peak RSS growth (sampled
every 5 ms with psutil, over the RSS just before the download starts) is its own.

    python benchmarks/download_bench.py --size-mb 500 --repeat 3

prints one JSON object (``run_benchmarks.py`` calls this and stores it with the rest).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pathlib
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any

import psutil

__all__ = ["main", "measure"]

_HERE = pathlib.Path(__file__).resolve()
_SAMPLE_EVERY = 0.005
#: ``toolkit`` is ``stream_to_file``; the ``raw-*`` ones are its core loop, bare (see _raw)
_DOWNLOADERS = ("curl", "toolkit", "curl-fsync", "raw-serial", "raw-pipelined")
_BLOCK = 4 << 20


class _PeakRSS:
    """Samples a process's RSS on a thread and keeps the peak."""

    def __init__(self, pid: int) -> None:
        self._proc = psutil.Process(pid)
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.peak = max(self.peak, self._proc.memory_info().rss)
            except psutil.Error:
                return
            self._stop.wait(_SAMPLE_EVERY)

    def __enter__(self) -> _PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)


# --- the static file server (its own process) -------------------------------------------


def _serve(directory: str) -> int:
    from aiohttp import web

    async def serve() -> None:
        app = web.Application()
        app.router.add_static("/", directory)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        print(json.dumps({"port": runner.addresses[0][1]}), flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await runner.cleanup()

    asyncio.run(serve())
    return 0


# --- the Python downloader (its own process) --------------------------------------------


async def _raw(url: str, dest: str, *, pipelined: bool) -> int:
    """What ``stream_to_file`` does at its core (read, write, SHA-256, fsync), bare.

    ``pipelined`` hands each chunk's write and hash to two worker threads (both release the
    GIL), so the socket read, the write and the hash overlap instead of taking turns on the
    event loop; at most three 4 MB blocks are in flight. This measures the proposed fix.
    """
    import concurrent.futures
    import hashlib

    import aiohttp

    loop = asyncio.get_running_loop()
    hasher = hashlib.sha256()
    size = 0
    writer = concurrent.futures.ThreadPoolExecutor(1)
    hashing = concurrent.futures.ThreadPoolExecutor(1)
    pending: list[asyncio.Future[Any]] = []
    block: list[bytes] = []
    block_size = 0

    def hand_off() -> asyncio.Future[Any]:
        data = b"".join(block)
        block.clear()
        return asyncio.gather(
            loop.run_in_executor(writer, f.write, data),
            loop.run_in_executor(hashing, hasher.update, data),
        )

    with open(dest, "wb") as f:
        async with aiohttp.ClientSession() as session, session.get(url) as resp:
            async for chunk in resp.content.iter_chunked(1 << 20):
                size += len(chunk)
                if not pipelined:
                    f.write(chunk)
                    hasher.update(chunk)
                    continue
                # the socket yields small pieces: hand the threads 4 MB blocks, so a
                # thread hop is paid per 4 MB, not per 64 KB
                block.append(chunk)
                block_size += len(chunk)
                if block_size >= _BLOCK:
                    pending.append(hand_off())
                    block_size = 0
                    if len(pending) >= 3:
                        await pending.pop(0)
        if block:
            pending.append(hand_off())
        for fut in pending:
            await fut
        f.flush()
        os.fsync(f.fileno())
    writer.shutdown()
    hashing.shutdown()
    return size


def _fetch(url: str, dest: str, mode: str) -> int:
    async def fetch() -> dict[str, Any]:
        from videogen_nb.http.download import stream_to_file
        from videogen_nb.http.transport import Transport

        async with Transport(url.rsplit("/", 1)[0], None) as transport:
            rss_before = psutil.Process().memory_info().rss
            with _PeakRSS(os.getpid()) as peak:
                started = time.perf_counter()
                if mode == "toolkit":
                    size = (await stream_to_file(transport, url, pathlib.Path(dest))).size
                else:
                    size = await _raw(url, dest, pipelined=mode == "raw-pipelined")
                seconds = time.perf_counter() - started
        return {
            "seconds": seconds,
            "bytes": size,
            "rss_before_mb": rss_before / 2**20,
            "peak_rss_mb": peak.peak / 2**20,
            "rss_growth_mb": max(0, peak.peak - rss_before) / 2**20,
        }

    print(json.dumps(asyncio.run(fetch())), flush=True)
    return 0


# --- orchestration ----------------------------------------------------------------------


def _make_file(path: pathlib.Path, size_mb: int) -> None:
    block = os.urandom(1 << 20)
    with open(path, "wb") as f:
        for _ in range(size_mb):
            f.write(block)


def _curl(url: str, dest: pathlib.Path, *, fsync: bool = False) -> dict[str, Any]:
    started = time.perf_counter()
    proc = subprocess.Popen(["curl", "-sS", "--fail", "-o", str(dest), url])
    with _PeakRSS(proc.pid) as peak:
        code = proc.wait(timeout=600)
    if code != 0:
        raise RuntimeError(f"curl exited with {code}")
    if fsync:
        # like for like: stream_to_file syncs the file before renaming it into place
        fd = os.open(dest, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "bytes": dest.stat().st_size, "peak_rss_mb": peak.peak / 2**20}


def _python(url: str, dest: pathlib.Path, mode: str = "toolkit") -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, str(_HERE), "--fetch", url, "--dest", str(dest), "--mode", mode],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure(size_mb: int = 500, repeat: int = 3, workdir: str | None = None) -> dict[str, Any]:
    """Run the comparison and return its figures (medians over ``repeat`` runs each)."""
    if shutil.which("curl") is None:
        return {"error": "curl is not installed on this machine"}
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="vg-dl-bench-", dir=workdir))
    server = None
    try:
        src = tmp / "src"
        src.mkdir()
        _make_file(src / "big.mp4", size_mb)
        server = subprocess.Popen(
            [sys.executable, str(_HERE), "--serve", str(src)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert server.stdout is not None
        port = json.loads(server.stdout.readline())["port"]
        url = f"http://127.0.0.1:{port}/big.mp4"
        size = size_mb * 2**20
        runs: dict[str, list[dict[str, Any]]] = {k: [] for k in _DOWNLOADERS}
        for i in range(repeat):
            # interleaved, so a burst of load elsewhere on the machine hits all of them
            for label in _DOWNLOADERS:
                dest = tmp / f"{label}-{i}.mp4"
                if label.startswith("curl"):
                    result = _curl(url, dest, fsync=label == "curl-fsync")
                else:
                    result = _python(url, dest, label)
                if result["bytes"] != size:
                    raise RuntimeError(f"{label} wrote {result['bytes']} of {size} bytes")
                result["mb_per_s"] = size / 1e6 / result["seconds"]
                runs[label].append(result)
                dest.unlink()
        medians = {k: statistics.median(r["mb_per_s"] for r in v) for k, v in runs.items()}
        curl_mbps, py_mbps = medians["curl"], medians["toolkit"]
        py_runs, curl_runs = runs["toolkit"], runs["curl"]
        return {
            "file_mb": size / 1e6,
            "repeat": repeat,
            "curl_mb_per_s": curl_mbps,
            "videogen_mb_per_s": py_mbps,
            "ratio": py_mbps / curl_mbps,
            "videogen_rss_growth_mb": max(r["rss_growth_mb"] for r in py_runs),
            "videogen_peak_rss_mb": max(r["peak_rss_mb"] for r in py_runs),
            "curl_peak_rss_mb": max(r["peak_rss_mb"] for r in curl_runs),
            # the toolkit's core loop, bare: serial as now, and pipelined as proposed
            "curl_fsync_mb_per_s": medians["curl-fsync"],
            "raw_serial_mb_per_s": medians["raw-serial"],
            "raw_pipelined_mb_per_s": medians["raw-pipelined"],
            "raw_pipelined_rss_growth_mb": max(r["rss_growth_mb"] for r in runs["raw-pipelined"]),
            "runs": runs,
        }
    finally:
        if server is not None:
            server.terminate()
            server.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    """Entry point: the comparison by default; ``--serve``/``--fetch`` are its helpers."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--serve", metavar="DIR", help=argparse.SUPPRESS)
    parser.add_argument("--fetch", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--dest", help=argparse.SUPPRESS)
    parser.add_argument(
        "--mode",
        default="toolkit",
        choices=("toolkit", "raw-serial", "raw-pipelined"),
        help=argparse.SUPPRESS,
    )
    args = parser.parse_args(argv)
    if args.serve:
        return _serve(args.serve)
    if args.fetch:
        return _fetch(args.fetch, args.dest, args.mode)
    print(json.dumps(measure(args.size_mb, args.repeat), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
