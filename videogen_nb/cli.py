"""``videogen-nb``: the command line.

videogen-nb runs         list the journal: id, model, state, task id, file
videogen-nb runs --cost  what the journal's tasks cost, by day and model
videogen-nb resume       finish every unfinished task the journal knows for a gateway
videogen-nb sandbox      serve the offline sandbox gateway
videogen-nb leaderboard  per-model success, latency, spec compliance and blind-vote wins
videogen-nb demo         the quickstart notebook against the sandbox (opened, or executed
                         when there is no display)
"""

from __future__ import annotations

import argparse
import os
import pathlib
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import Any

from .core.states import EntryState
from .run.lease import DEFAULT_STALE_AFTER

__all__ = ["main"]

#: where the notebooks are: inside the installed package (the wheel ships them there), or
#: beside it in a repository checkout
NOTEBOOK_DIRS = (
    pathlib.Path(__file__).resolve().parent / "notebooks",
    pathlib.Path(__file__).resolve().parent.parent / "notebooks",
)
QUICKSTART = "01_quickstart.ipynb"


def find_notebook(name: str) -> pathlib.Path | None:
    """The first of ``NOTEBOOK_DIRS`` that holds ``name`` (None: the notebooks are missing)."""
    for directory in NOTEBOOK_DIRS:
        if (directory / name).is_file():
            return directory / name
    return None


def _add_journal_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--journal",
        default=None,
        help="journal file (default: ./videogen-runs/journal.sqlite)",
    )


def _journal_path(value: str | None) -> pathlib.Path:
    from .store.journal import Journal

    return pathlib.Path(value) if value else Journal.default_path()


def _cmd_runs(args: argparse.Namespace) -> int:
    from .store.journal import Journal

    path = _journal_path(args.journal)
    if not path.exists():
        print(f"no journal at {path}", file=sys.stderr)
        return 1
    with Journal(path) as journal:
        entries = journal.entries(states=tuple(args.state) if args.state else None)
    if args.cost:  # every entry, not the newest N: a sum over part of the journal misleads
        from .insight.cli import cost_table

        print(cost_table(entries))
        return 0
    entries = entries[-args.limit :] if args.limit else entries
    rows = [("id", "when", "model", "state", "task id", "file / error")]
    for entry in entries:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(entry.created_at or 0))
        detail = entry.path or (entry.error or "")
        state = entry.state.value
        rows.append((str(entry.id), when, entry.model or "", state, entry.task_id or "", detail))
    _print_table(rows)
    return 0


def _print_table(rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=True)]
        print("  ".join([*cells, row[-1]]).rstrip())


def _cmd_resume(args: argparse.Namespace) -> int:
    from .client.sync_client import Client
    from .run.rows import RowState

    journal = str(_journal_path(args.journal))
    with Client(args.base_url, journal=journal, output_dir=args.output_dir or None) as client:
        run = client.resume(retry_unknown=args.retry_unknown, stale_after=args.stale_after)
        _print_skipped(run.skipped)
        if not run.rows:
            print(
                "nothing to resume: every journal entry for this gateway is finished"
                + (" or held by a live run" if run.skipped else "")
            )
            return 0
        print(f"resuming {len(run.rows)} task(s) at {client.base_url} ...", flush=True)
        run.wait()
        failed = 0
        for row in run.rows:
            result = row.snapshot()
            where = str(result.path) if result.path else f"{row.state.value}: {row.error}"
            print(f"  #{row.entry.id if row.entry else '?'} {row.request.model}: {where}")
            failed += result.path is None
        unknown = run.counts[RowState.SUBMIT_UNKNOWN.value]
        if unknown and not args.retry_unknown:
            print(
                f"{unknown} request(s) may or may not have been accepted by the gateway; "
                "rerun with --retry-unknown to resend them with their original Idempotency-Key"
            )
        return 1 if failed else 0


def _print_skipped(skipped: Sequence[object]) -> None:
    """Say which unfinished entries were left to the live run that holds them, and why."""
    if not skipped:
        return
    print(f"left {len(skipped)} entry(ies) alone (another run is still working on them):")
    for item in skipped:
        print(f"  {item}")


def _cmd_sandbox(argv: list[str]) -> int:
    from .sandbox.__main__ import main as sandbox_main

    return sandbox_main(argv)


def _cmd_leaderboard(argv: list[str]) -> int:
    from .insight.cli import leaderboard_main

    return leaderboard_main(argv)


def _headless() -> bool:
    if os.environ.get("CI"):
        return True
    if sys.platform.startswith("linux"):
        return not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return False


def _cmd_demo(args: argparse.Namespace) -> int:
    source = find_notebook(QUICKSTART)
    if source is None:
        looked = ", ".join(str(d) for d in NOTEBOOK_DIRS)
        print(f"the quickstart notebook is missing (looked in {looked})", file=sys.stderr)
        return 1
    workdir = pathlib.Path(args.workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    target = workdir / QUICKSTART
    shutil.copyfile(source, target)
    if args.execute or _headless():
        return _execute_notebook(target)
    command = [sys.executable, "-m", "jupyter", "lab", str(target)]
    if os.geteuid() == 0:
        command.append("--allow-root")
    print("opening", target, "in JupyterLab (Ctrl-C to stop)")
    return subprocess.call(command, cwd=workdir)


def _execute_notebook(path: pathlib.Path) -> int:
    import nbformat
    from nbclient import NotebookClient

    read_notebook: Any = nbformat.read  # nbformat ships no types
    write_notebook: Any = nbformat.write

    # The notebooks start the sandbox themselves when no gateway is configured; make sure a
    # real gateway in the environment is not used (and billed) by the demo by accident.
    env_backup = {
        k: os.environ.pop(k) for k in ("VIDEOGEN_BASE_URL", "VIDEOGEN_API_KEY") if k in os.environ
    }
    try:
        notebook = read_notebook(path, as_version=4)
        print(f"executing {path.name} against the sandbox gateway ...", flush=True)
        started = time.monotonic()
        NotebookClient(
            notebook,
            timeout=600,
            kernel_name="python3",
            resources={"metadata": {"path": str(path.parent)}},
        ).execute()
        write_notebook(notebook, path)
    finally:
        os.environ.update(env_backup)
    videos = sorted(path.parent.glob("videogen-runs/videos/*.mp4"))
    print(f"done in {time.monotonic() - started:.1f} s; executed notebook: {path}")
    print(f"{len(videos)} video(s) under {path.parent / 'videogen-runs' / 'videos'}:")
    for video in videos:
        print("  ", video)
    return 0 if videos else 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="videogen-nb",
        description="Asynchronous video generation through unified video gateways.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    runs = commands.add_parser("runs", help="list the journal")
    _add_journal_arg(runs)
    runs.add_argument("--limit", type=int, default=50, help="newest N entries (0: all)")
    runs.add_argument(
        "--state",
        action="append",
        choices=[state.value for state in EntryState],
        help="only entries in this state (repeatable)",
    )
    runs.add_argument(
        "--cost",
        action="store_true",
        help="what the tasks cost, by day and model (reported and estimated apart)",
    )

    resume = commands.add_parser("resume", help="finish unfinished tasks from the journal")
    _add_journal_arg(resume)
    resume.add_argument("--base-url", default=None, help="gateway (default: $VIDEOGEN_BASE_URL)")
    resume.add_argument("--output-dir", default=None, help="where videos go")
    resume.add_argument(
        "--retry-unknown",
        action="store_true",
        help="resend requests whose submit outcome is unknown (same Idempotency-Key)",
    )
    resume.add_argument(
        "--stale-after",
        type=float,
        default=DEFAULT_STALE_AFTER,
        help="take over entries whose run has not renewed its lease for this many seconds"
        f" (default {DEFAULT_STALE_AFTER:g}); a run whose process is gone is taken over at once",
    )

    commands.add_parser(
        "sandbox", help="serve the sandbox gateway (see --help after it)", add_help=False
    )
    commands.add_parser(
        "leaderboard", help="per-model leaderboard from the journal", add_help=False
    )

    demo = commands.add_parser("demo", help="the quickstart notebook against the sandbox")
    demo.add_argument("--workdir", default="videogen-demo", help="where to run it")
    demo.add_argument("--execute", action="store_true", help="execute instead of opening")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``videogen-nb`` command."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    # sandbox and leaderboard own their flags: hand them the rest of the line untouched
    if args_list and args_list[0] == "sandbox":
        return _cmd_sandbox(args_list[1:])
    if args_list and args_list[0] == "leaderboard":
        return _cmd_leaderboard(args_list[1:])
    args = _parser().parse_args(args_list)
    handlers = {"runs": _cmd_runs, "resume": _cmd_resume, "demo": _cmd_demo}
    try:
        return handlers[args.command](args)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a command line shows the message, not a traceback
        from .core.errors import VideoGenError

        if not isinstance(exc, VideoGenError):
            raise
        print(f"videogen-nb {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
