"""``videogen-nb leaderboard``: the leaderboard as text (or JSON) in a terminal.

videogen-nb leaderboard [--journal PATH] [--since 7d] [--model NAME ...] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from ..core.errors import ValidationError
from ..store.journal import Journal
from .leaderboard import leaderboard

__all__ = ["build_parser", "leaderboard_main"]


def build_parser(prog: str = "videogen-nb leaderboard") -> argparse.ArgumentParser:
    """The argument parser of the ``leaderboard`` command."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Rank the models in a videogen-nb journal: success rate, failure "
        "reasons, latency, spec compliance and blind-vote win rate.",
    )
    parser.add_argument(
        "--journal",
        metavar="PATH",
        default=None,
        help=f"the journal file (default: {Journal.default_path()})",
    )
    parser.add_argument(
        "--since",
        metavar="WHEN",
        default=None,
        help="only tasks and votes since: 7d, 12h, 30m, 2w, or an ISO date (2026-05-01)",
    )
    parser.add_argument(
        "--model",
        "-m",
        dest="models",
        action="append",
        metavar="NAME",
        default=None,
        help="only this model (repeat, or separate names with commas)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    return parser


def leaderboard_main(argv: Sequence[str] | None = None) -> int:
    """Run the ``leaderboard`` command with ``argv`` (without the command name); returns the
    exit status: 0 printed, 1 no such journal, 2 bad arguments."""
    parser = build_parser()
    try:
        args = parser.parse_args(list(argv) if argv is not None else None)
    except SystemExit as exc:  # argparse exits on --help and on errors; we return instead
        return int(exc.code or 0)
    models = None
    if args.models:
        models = [name.strip() for item in args.models for name in item.split(",") if name.strip()]
    try:
        board = leaderboard(args.journal, since=args.since, models=models)
    except ValidationError as exc:
        print(f"videogen-nb leaderboard: {exc}", file=sys.stderr)
        return 2
    except FileNotFoundError as exc:
        print(f"videogen-nb leaderboard: {exc}", file=sys.stderr)
        return 1
    if args.json:
        data = {"rows": [row.to_dict() for row in board.rows], "notes": list(board.notes)}
        print(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        print(board)
    return 0
