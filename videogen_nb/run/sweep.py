"""Building the requests of a comparison: prompts x seeds x models."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from typing import Any

from ..core.errors import SpendingGuardError, ValidationError
from ..core.request import VideoRequest

__all__ = ["DEFAULT_MAX_TASKS", "build_sweep", "check_spending"]

#: a run refuses to launch more tasks than this unless ``max_tasks`` is raised explicitly,
#: so a typo in a sweep cannot start thousands of paid generations
DEFAULT_MAX_TASKS = 50


def _as_list(name: str, value: Any) -> list[Any]:
    if value is None:
        return [None]
    if isinstance(value, (str, bytes, int)):
        return [value]
    if isinstance(value, Iterable):
        items = list(value)
        if not items:
            raise ValidationError(name, "is an empty list: give at least one value")
        return items
    return [value]


def build_sweep(
    *,
    prompt: str | Sequence[str] | None,
    models: str | Sequence[str],
    seed: int | Sequence[int] | None = None,
    **fields: Any,
) -> list[VideoRequest]:
    """One request per (prompt, seed, model), prompts outermost and models innermost, so the
    requests read row by row as the comparison grid shows them.

    >>> [r.model for r in build_sweep(prompt=["a", "b"], models=["m1", "m2"])]
    ['m1', 'm2', 'm1', 'm2']
    """
    model_list = _as_list("models", models)
    if model_list == [None]:
        raise ValidationError("models", "name at least one model, e.g. models=['kling-v1']")
    requests = []
    for text, one_seed, model in itertools.product(
        _as_list("prompt", prompt), _as_list("seed", seed), model_list
    ):
        values = dict(fields)
        if text is not None:
            values["prompt"] = text
        if one_seed is not None:
            values["seed"] = one_seed
        requests.append(VideoRequest(model=model, **values))
    return requests


def check_spending(count: int, max_tasks: int | None) -> None:
    """Refuse a run larger than ``max_tasks`` (None means the default limit)."""
    limit = DEFAULT_MAX_TASKS if max_tasks is None else max_tasks
    if count > limit:
        raise SpendingGuardError(
            "max_tasks",
            f"this run would launch {count} paid tasks, more than max_tasks={limit}; "
            f"pass max_tasks={count} (or more) to confirm",
        )
