"""``videogen-nb leaderboard``: the leaderboard as text (or JSON) in a terminal; and the
money table of ``videogen-nb runs --cost`` (``cost_table``).

videogen-nb leaderboard [--journal PATH] [--since 7d] [--model NAME ...] [--json]
videogen-nb runs --cost [--journal PATH]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Iterable, Sequence

from ..core.cost import Cost, format_cost
from ..core.errors import ValidationError
from ..store.journal import Journal, JournalEntry
from .costs import CostTotal, charged_failure, entry_cost
from .leaderboard import leaderboard

__all__ = ["build_parser", "cost_by_day_and_model", "cost_table", "leaderboard_main"]


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


def _day(entry: JournalEntry) -> str:
    when = entry.submitted_at if entry.submitted_at is not None else entry.created_at
    return dt.datetime.fromtimestamp(when).strftime("%Y-%m-%d")


def _counts(entry: JournalEntry) -> bool:
    """True when the entry may have cost money: sent, and not a failure with no charge."""
    if entry.state == "created":
        return False
    return entry_cost(entry) is not None or entry.state not in ("failed", "timed_out", "cancelled")


def cost_by_day_and_model(
    entries: Iterable[JournalEntry],
) -> dict[tuple[str, str], CostTotal]:
    """Money per (local day, model), oldest day first: every sent task's figure
    (``costs.entry_cost``); failed or cancelled tasks only with a charge the gateway reported."""
    groups: dict[tuple[str, str], CostTotal] = {}
    for entry in entries:
        if _counts(entry):
            key = (_day(entry), entry.model)
            groups[key] = groups.get(key, CostTotal()).plus(entry_cost(entry))
    return dict(sorted(groups.items()))


def _sums(amounts: dict[str, float], source: str) -> str:
    """``{"USD": 0.6}`` as ``"$0.60"`` (``"~$0.60"`` estimated); ``"–"`` when empty."""
    if not amounts:
        return "–"
    return " + ".join(
        format_cost(Cost(amount=amount, currency=currency, source=source, basis=""))
        for currency, amount in sorted(amounts.items())
    )


def _known_sum(total: CostTotal) -> str:
    """The sum of the known figures (the unknown ones have their own column)."""
    if not total.counted:
        return "price unknown" if total.unknown else "–"
    return CostTotal(reported=total.reported, estimated=total.estimated).text()


def _cost_line(day: str, model: str, total: CostTotal) -> list[str]:
    return [
        day,
        model,
        str(total.counted + total.unknown),
        _sums(total.reported, "reported"),
        _sums(total.estimated, "estimated"),
        _known_sum(total),
        str(total.unknown),
    ]


def _aligned(lines: list[list[str]], right: set[int]) -> list[str]:
    """Columns padded to their widest cell, a rule under the header and above the last line."""
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    rule = "  ".join("-" * w for w in widths)
    out = []
    for n, line in enumerate(lines):
        cells = [
            c.rjust(widths[i]) if i in right else c.ljust(widths[i]) for i, c in enumerate(line)
        ]
        if n == len(lines) - 1 and n > 1:
            out.append(rule)
        out.append("  ".join(cells).rstrip())
        if n == 0:
            out.append(rule)
    return out


def cost_table(entries: Iterable[JournalEntry]) -> str:
    """What the journal's tasks cost, per day and model, reported and estimated apart, with
    a total line and notes; plain text for a terminal."""
    entries = list(entries)
    groups = cost_by_day_and_model(entries)
    if not groups:
        return "no task in the journal has been sent yet: nothing has cost anything"
    header = ["day", "model", "tasks", "reported", "estimated", "total", "price unknown"]
    grand = sum(groups.values(), CostTotal())
    lines = [
        header,
        *(_cost_line(day, model, t) for (day, model), t in groups.items()),
        _cost_line("total", "", grand),
    ]
    out = _aligned(lines, right={2, 3, 4, 5, 6})
    charged = sum(charged_failure(e) for e in entries)
    out += [
        "",
        "notes:",
        "  - reported: what the gateway said a task cost; estimated (~): the price table"
        " (vg.prices) for tasks the gateway said nothing about",
        "  - failed and cancelled tasks count only when the gateway reported a charge"
        + (f" ({charged} failed task(s) reported as charged)" if charged else ""),
    ]
    if grand.unknown:
        out.append(
            f"  - {grand.unknown} task(s) of unknown price are not in the sums: vg.prices.set(...)"
        )
    return "\n".join(out)
