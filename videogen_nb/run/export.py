"""A run's rows as a table (pandas), and its blind-vote scores."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..core.scoring import win_rates
from ..insight.costs import delivery
from ..store.journal import Journal
from .rows import RunRow

__all__ = ["row_record", "rows_dataframe", "run_scores"]


def row_record(row: RunRow) -> dict[str, Any]:
    """One row as a flat dict: the request's main fields, its state, its cost and the spec
    check.

    ``cost`` is the amount (None: price unknown, or a failed task with no reported charge),
    ``cost_source`` ``"reported"`` or ``"estimated"``, ``cost_basis`` where the figure comes
    from; ``billed_seconds`` what the gateway billed when it said; ``delivery_finding`` says
    when the measured video is shorter or longer than what was billed (or asked).
    """
    result = row.snapshot()
    req = row.request
    record: dict[str, Any] = {
        "index": row.index,
        "model": req.model,
        "prompt": req.prompt,
        "seed": req.seed,
        "duration": req.duration if req.duration is not None else req.seconds,
        "size": req.size or req.aspect_ratio,
        "state": row.state.value,
        "task_id": row.task.id if row.task is not None else None,
        "progress": row.progress,
        "elapsed": row.elapsed,
        "cached": result.cached,
        "path": str(result.path) if result.path is not None else None,
        "error": str(row.error) if row.error is not None else None,
        **_cost_fields(row),
    }
    spec = result.spec
    if isinstance(spec, dict):
        for key, value in (spec.get("measured") or {}).items():
            record[f"measured_{key}"] = value
        record["spec_ok"] = not spec.get("findings")
        record["spec_findings"] = "; ".join(spec.get("findings") or [])
        check = delivery(spec, req, row.reported_cost)
        record["delivery_finding"] = check.finding if check is not None else None
    return record


def _cost_fields(row: RunRow) -> dict[str, Any]:
    cost = row.cost
    return {
        "cost": cost.amount if cost is not None else None,
        "cost_currency": cost.currency if cost is not None else None,
        "cost_source": cost.source if cost is not None else None,
        "cost_basis": cost.basis if cost is not None else None,
        "billed_seconds": cost.billed_seconds if cost is not None else None,
    }


def rows_dataframe(rows: Sequence[RunRow]) -> Any:
    """The rows as a pandas DataFrame (needs pandas)."""
    try:
        import pandas as pd
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "run.to_dataframe() needs pandas: pip install 'videogen-nb[pandas]'"
        ) from exc
    return pd.DataFrame.from_records([row_record(row) for row in rows])


def run_scores(journal: Journal | None, run_id: str) -> dict[str, dict[str, float]]:
    """Per-model blind-vote win rates of one run (from the journal's votes)."""
    votes = journal.votes(run_id=run_id) if journal is not None else []
    return win_rates(votes)
