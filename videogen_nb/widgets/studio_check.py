"""Checking the whole Studio form against what would be sent, one error per field.

The form is checked as the user types: every field is parsed, then tried in a real
``VideoRequest`` (the same validation a script gets), then checked against the catalog's
limits for the chosen models; finally the sweep's requests are built for real. Each field
gets its own message, so several mistakes show at once, and a fixed field clears at once.

>>> check = check_form(RawForm(prompt="a boat", models=("kling-v1",), size="banana"))
>>> check.ok, sorted(check.errors)
(False, ['size'])
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import attrs

from ..core.errors import ValidationError
from ..core.request import VideoRequest
from .studio_form import (
    FormValues,
    build_requests,
    duration_choices,
    form_field,
    is_ratio,
    parse_duration,
    parse_metadata,
    parse_prompts,
    parse_seeds,
    size_choices,
)

__all__ = ["FormCheck", "RawForm", "check_form"]

T = TypeVar("T")

#: the model a field is tried with when none is chosen yet (field rules do not depend on it)
_PROBE_MODEL = "any-model"


@attrs.define(frozen=True, kw_only=True)
class RawForm:
    """The form exactly as its widgets hold it (text as typed, numbers as set)."""

    prompt: str = ""
    models: tuple[str, ...] = ()
    seeds: str = ""
    negative: str = ""
    image: str | None = None
    last_image: str | None = None
    size: str = ""
    duration: str = ""
    quality: str = ""
    fps: int = 0
    n: int = 1
    metadata: str = ""


@attrs.define(frozen=True, kw_only=True)
class FormCheck:
    """What the form would send: the requests (empty when anything is wrong) and one
    message per form field that is wrong."""

    requests: tuple[VideoRequest, ...] = ()
    errors: dict[str, str] = attrs.field(factory=dict)
    values: FormValues | None = None

    @property
    def ok(self) -> bool:
        """True when Generate may launch: no error and at least one request."""
        return not self.errors and bool(self.requests)


class _Collector:
    """Runs one check per field and keeps the first message for each field."""

    def __init__(self, model: str) -> None:
        self.errors: dict[str, str] = {}
        self.model = model

    def attempt(self, field: str, check: Callable[[], T]) -> T | None:
        try:
            return check()
        except ValidationError as exc:
            self.errors.setdefault(field, exc.message)
            return None

    def probe(self, **fields: Any) -> VideoRequest:
        """A real request carrying just ``fields``: the same rules a script meets."""
        return VideoRequest(model=self.model, prompt="probe", **fields)


def _size(c: _Collector, raw: RawForm) -> str:
    value = raw.size.strip()
    if value:
        size_choices(raw.models).check(value, "size")
        c.probe(**{"aspect_ratio" if is_ratio(value) else "size": value})
    return value


def _duration(c: _Collector, raw: RawForm) -> str:
    value = raw.duration.strip()
    if value:
        c.probe(duration=parse_duration(value))
        duration_choices(raw.models).check(value, "duration")
    return value


def _seeds(c: _Collector, raw: RawForm) -> tuple[int, ...] | None:
    seeds = parse_seeds(raw.seeds)
    for seed in seeds or ():
        c.probe(seed=seed)
    return tuple(seeds) if seeds else None


def _metadata(c: _Collector, raw: RawForm) -> dict[str, Any] | None:
    value = parse_metadata(raw.metadata)
    if value is not None:
        c.probe(metadata=value)
    return value


def _fields(c: _Collector, raw: RawForm) -> dict[str, Any]:
    """Each field parsed and tried on its own; a bad one is recorded and left out."""
    if not raw.models:
        c.errors["models"] = "choose at least one model"
    return {
        "prompts": c.attempt("prompt", lambda: tuple(parse_prompts(raw.prompt))),
        "seeds": c.attempt("seeds", lambda: _seeds(c, raw)),
        "negative_prompt": raw.negative,
        "size": c.attempt("size", lambda: _size(c, raw)),
        "duration": c.attempt("duration", lambda: _duration(c, raw)),
        "quality": c.attempt(
            "quality", lambda: raw.quality.strip() and c.probe(quality=raw.quality.strip())
        ),
        "fps": c.attempt("fps", lambda: c.probe(fps=raw.fps or None)),
        "n": c.attempt("n", lambda: c.probe(n=raw.n)),
        "metadata": c.attempt("metadata", lambda: _metadata(c, raw)),
    }


def check_form(raw: RawForm) -> FormCheck:
    """Every field of ``raw`` checked; the requests Generate would send when all is well."""
    c = _Collector(raw.models[0] if raw.models else _PROBE_MODEL)
    parsed = _fields(c, raw)
    if c.errors:
        return FormCheck(errors=dict(c.errors))
    values = FormValues(
        prompts=parsed["prompts"],
        models=raw.models,
        seeds=parsed["seeds"],
        negative_prompt=raw.negative,
        image=raw.image,
        last_image=raw.last_image,
        size=parsed["size"],
        duration=parsed["duration"],
        quality=raw.quality.strip(),
        fps=int(raw.fps),
        n=int(raw.n),
        metadata=parsed["metadata"],
    )
    try:
        requests = build_requests(values)
    except ValidationError as exc:
        # What only the whole request can tell (fields that do not go together).
        field = form_field(exc.field)
        return FormCheck(errors={field: exc.message if field != "general" else str(exc)})
    return FormCheck(requests=tuple(requests), values=values)
