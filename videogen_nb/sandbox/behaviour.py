"""``Behaviour``: every knob of the sandbox, one frozen value.

``start(**behaviour)``, ``SandboxHandle.configure(**behaviour)``, ``POST /_sandbox/config`` and
the command-line flags all build one of these, so a knob is validated in one place.

Request faults (``rate_limit``, ``server_error``, ``reset``, ``drop_after_accept``,
``malformed``) each take a count ("the next N matching requests") and a ``*_rate`` ("this
fraction of matching requests", drawn from a seeded RNG so a run repeats exactly).
Setting a count through ``configure`` re-arms it, even to the same value.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import attrs

__all__ = [
    "COST_SHAPES",
    "DEFAULT_API_KEY",
    "DEFAULT_MODELS",
    "FAULT_NAMES",
    "Behaviour",
    "behaviour_from_changes",
]

DEFAULT_API_KEY = "sk-sandbox-local"

# The model names the seeds and GATEWAYS.md mention; `models=[...]` adds to these.
DEFAULT_MODELS: tuple[str, ...] = (
    "kling-v1",
    "kling-v2-1-master",
    "kling-v2-5-turbo",
    "kling-v3-std-silent",
    "kling-v3-std-audio",
    "kling-v3-pro-silent",
    "kling-v3-pro-audio",
    "veo_3_1",
    "veo_3_1-fast",
    "veo-3",
    "sora-2",
    "sora-2-pro",
    "gen-3-alpha",
)

# Faults that fire per request, armed by a count and/or a rate.
FAULT_NAMES: tuple[str, ...] = (
    "rate_limit",
    "server_error",
    "reset",
    "drop_after_accept",
    "malformed",
)

_METHOD_SCOPES = ("any", "get", "post")

#: how task reads report their charge (``sandbox/billing.py``): "" (the personality's own
#: way), top-level ``cost``, ``usage.cost``, LiteLLM's usage and cost header, or LiteLLM's
#: ``usage.duration_seconds`` alone
COST_SHAPES = ("", "cost", "usage_cost", "litellm", "litellm_seconds")


def _non_negative(_inst: object, attribute: attrs.Attribute, value: float) -> None:
    if value < 0:
        raise ValueError(f"{attribute.name} must be >= 0, got {value!r}")


def _fraction(_inst: object, attribute: attrs.Attribute, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{attribute.name} must be between 0 and 1, got {value!r}")


def _scope(_inst: object, attribute: attrs.Attribute, value: str) -> None:
    if value not in _METHOD_SCOPES:
        raise ValueError(f"{attribute.name} must be one of {_METHOD_SCOPES}, got {value!r}")


def _cost_shape(_inst: object, attribute: attrs.Attribute, value: str) -> None:
    if value not in COST_SHAPES:
        raise ValueError(f"{attribute.name} must be one of {COST_SHAPES}, got {value!r}")


def _models(value: Iterable[str] | str | None) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",")]
    return tuple(str(v) for v in value if str(v))


def _statuses(value: int | str | Iterable[int]) -> tuple[int, ...]:
    if isinstance(value, str):
        value = [int(v) for v in value.split(",") if v.strip()]
    items = (value,) if isinstance(value, int) else tuple(int(v) for v in value)
    if not items or any(not 500 <= s <= 599 for s in items):
        raise ValueError(f"server_error_status must be 5xx codes, got {value!r}")
    return items


def _wrong_size(value: bool | str) -> bool | str:
    if isinstance(value, str):
        if value.lower() in ("", "0", "false", "no", "off"):
            return False
        if value.lower() in ("1", "true", "yes", "on"):
            return True
        w, sep, h = value.lower().partition("x")
        if not (sep and w.isdigit() and h.isdigit() and int(w) >= 16 and int(h) >= 16):
            raise ValueError(f"wrong_size must be a bool or 'WxH', got {value!r}")
        return f"{int(w)}x{int(h)}"
    return bool(value)


def _wrong_duration(value: bool | float | str) -> bool | float:
    if isinstance(value, str):
        low = value.lower()
        if low in ("", "0", "false", "no", "off"):
            return False
        if low in ("true", "yes", "on"):
            return True
        value = float(value)
    if isinstance(value, bool):
        return value
    if value <= 0:
        raise ValueError(f"wrong_duration must be a bool or seconds > 0, got {value!r}")
    return float(value)


def _opt_float(value: Any) -> float | None:
    return None if value is None or value == "" else float(value)


def _opt_int(value: Any) -> int | None:
    return None if value is None or value == "" else int(value)


def _bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.lower() in ("1", "true", "yes", "on")
    return bool(value)


@attrs.define(frozen=True, kw_only=True)
class Behaviour:
    """How the sandbox behaves; every field is a knob of ``start``/``configure``.

    >>> Behaviour(task_seconds=0.2, failure_rate=0.5).task_seconds
    0.2
    """

    # Lifecycle
    task_seconds: float = attrs.field(default=4.0, converter=float, validator=_non_negative)
    failure_rate: float = attrs.field(default=0.0, converter=float, validator=_fraction)
    seed: int = attrs.field(default=0, converter=int)
    never_finish: bool = attrs.field(default=False, converter=_bool)
    flap: bool = attrs.field(default=False, converter=_bool)
    odd_status: bool = attrs.field(default=False, converter=_bool)
    # Access
    api_key: str = attrs.field(default=DEFAULT_API_KEY, repr=False, converter=str)
    models: tuple[str, ...] = attrs.field(default=(), converter=_models)
    idempotency: bool = attrs.field(default=True, converter=_bool)
    # Which route families exist: turn one off to look like a unified-only or OpenAI-only server
    unified_routes: bool = attrs.field(default=True, converter=_bool)
    openai_routes: bool = attrs.field(default=True, converter=_bool)
    # Veo tasks on the unified route answer in new-api's Gemini/Vertex channel shape
    gemini_shape: bool = attrs.field(default=False, converter=_bool)
    # new-api as it is today (sandbox/newapi.py; NEWAPI_TODAY there turns all of them on)
    task_object: bool = attrs.field(default=False, converter=_bool)
    newest_videos: bool = attrs.field(default=False, converter=_bool)
    artifact_links: bool = attrs.field(default=False, converter=_bool)
    artifact_ttl: float = attrs.field(default=600.0, converter=float, validator=_non_negative)
    artifact_expired: int = attrs.field(default=0, converter=int, validator=_non_negative)
    other_ratios: bool = attrs.field(default=False, converter=_bool)
    stepped_progress: bool = attrs.field(default=False, converter=_bool)
    # What a task cost (sandbox/billing.py): the shape its reads report it in, and whether a
    # failed task is still charged
    report_cost: str = attrs.field(default="", converter=str, validator=_cost_shape)
    charge_failures: bool = attrs.field(default=False, converter=_bool)
    # Pacing
    latency: float = attrs.field(default=0.0, converter=float, validator=_non_negative)
    poll_after_ms: int | None = attrs.field(default=None, converter=_opt_int)
    # Request faults: counts, rates and which methods they hit
    rate_limit: int = attrs.field(default=0, converter=int, validator=_non_negative)
    rate_limit_rate: float = attrs.field(default=0.0, converter=float, validator=_fraction)
    rate_limit_on: str = attrs.field(default="any", validator=_scope)
    retry_after: float = attrs.field(default=1.0, converter=float, validator=_non_negative)
    retry_after_date: bool = attrs.field(default=False, converter=_bool)
    server_error: int = attrs.field(default=0, converter=int, validator=_non_negative)
    server_error_rate: float = attrs.field(default=0.0, converter=float, validator=_fraction)
    server_error_on: str = attrs.field(default="any", validator=_scope)
    server_error_status: tuple[int, ...] = attrs.field(default=(503,), converter=_statuses)
    reset: int = attrs.field(default=0, converter=int, validator=_non_negative)
    reset_rate: float = attrs.field(default=0.0, converter=float, validator=_fraction)
    drop_after_accept: int = attrs.field(default=0, converter=int, validator=_non_negative)
    drop_after_accept_rate: float = attrs.field(default=0.0, converter=float, validator=_fraction)
    malformed: int = attrs.field(default=0, converter=int, validator=_non_negative)
    malformed_rate: float = attrs.field(default=0.0, converter=float, validator=_fraction)
    malformed_on: str = attrs.field(default="get", validator=_scope)
    # Download faults
    truncate_after: int | None = attrs.field(default=None, converter=_opt_int)
    url_ttl: float | None = attrs.field(default=None, converter=_opt_float)
    url_single_use: bool = attrs.field(default=False, converter=_bool)
    # Output faults
    wrong_size: bool | str = attrs.field(default=False, converter=_wrong_size)
    wrong_duration: bool | float = attrs.field(default=False, converter=_wrong_duration)

    def public(self) -> dict[str, Any]:
        """The knobs as JSON-ready values, without the API key."""
        out = attrs.asdict(self, recurse=False)
        out.pop("api_key")
        out["models"] = list(self.models)
        out["server_error_status"] = list(self.server_error_status)
        return out


def behaviour_from_changes(base: Behaviour, changes: dict[str, Any]) -> Behaviour:
    """``base`` with ``changes`` applied; unknown knob names raise ``TypeError`` naming them."""
    known = {f.name for f in attrs.fields(Behaviour)}
    unknown = sorted(set(changes) - known)
    if unknown:
        raise TypeError(f"unknown sandbox behaviour: {', '.join(unknown)}")
    return attrs.evolve(base, **changes)
