"""What the sandbox says a task cost, in the shapes gateways use (GATEWAYS.md, "Cost").

Two knobs of ``Behaviour`` choose it:

- ``report_cost``: how a finished task reports its charge on the task reads
  (``GET /v1/video/generations/{id}`` and ``GET /v1/videos/{id}``):

  - ``"cost"``: a top-level ``cost`` (US dollars) with ``currency: "USD"``;
  - ``"usage_cost"``: ``usage: {"cost": ..., "currency": "USD"}``;
  - ``"litellm"``: as the LiteLLM proxy: ``usage: {"duration_seconds", "video_resolution"}``
    and the header ``x-litellm-response-cost``;
  - ``"litellm_seconds"``: ``usage.duration_seconds`` only, no price (LiteLLM on a model
    missing from its cost tables);
  - ``""`` (default): nothing beyond what the personality already says (new-api's
    ``quota`` with ``task_object``, OpenRouter's ``usage.cost``).

- ``charge_failures``: a failed task is still charged and says so (new-api's ``quota``
  stays, its ``billing_status`` is ``charged``; the shapes above are reported on failures
  too). Without it a failed task reports no charge (new-api refunds it).

Every shape charges the same: ``USD_PER_SECOND`` per second of video, times new-api's size
ratio (``newapi.other_ratios``), so tests can compute each figure by hand.
"""

from __future__ import annotations

from typing import Any

from .behaviour import COST_SHAPES, Behaviour
from .newapi import QUOTA_PER_USD, USD_PER_SECOND, other_ratios
from .state import Phase, SandboxTask

__all__ = [
    "COST_SHAPES",
    "LITELLM_COST_HEADER",
    "charge_usd",
    "is_charged",
    "with_reported_cost",
]

#: the header the LiteLLM proxy puts its computed cost in
LITELLM_COST_HEADER = "x-litellm-response-cost"


def charge_usd(task: SandboxTask) -> float:
    """What ``task`` costs in US dollars: seconds x ``USD_PER_SECOND`` x the size ratio."""
    ratios = other_ratios(task)
    return round(USD_PER_SECOND * ratios["seconds"] * ratios["size"], 6)


def is_charged(phase: Phase, behaviour: Behaviour) -> bool:
    """True when a read in ``phase`` reports a charge: the task completed, or it failed
    and ``charge_failures`` is on."""
    return phase.state == "completed" or (
        phase.state in ("failed", "cancelled") and behaviour.charge_failures
    )


def _task_node(body: dict[str, Any]) -> dict[str, Any]:
    """The task object of an answer: new-api's ``data`` inside its wrapper, or the body."""
    inner = body.get("data")
    if isinstance(inner, dict) and "task_id" in inner and "code" in body:
        return inner
    return body


def _charge_failed_quota(node: dict[str, Any], task: SandboxTask) -> None:
    # new-api's task object refunds a failure (quota 0); a gateway that does not, keeps it
    if "quota" in node:
        node["quota"] = round(charge_usd(task) * QUOTA_PER_USD)
        if isinstance(node.get("async"), dict):
            node["async"]["billing_status"] = "charged"


def _resolution(task: SandboxTask) -> str:
    return f"{min(task.request.size)}p"


def with_reported_cost(
    body: dict[str, Any],
    task: SandboxTask,
    phase: Phase,
    behaviour: Behaviour,
    headers: dict[str, str] | None = None,
) -> tuple[dict[str, Any], dict[str, str]]:
    """``body`` and ``headers`` of a task read, with the charge in the shape
    ``behaviour.report_cost`` names (see the module docstring)."""
    out_headers = dict(headers or {})
    if not is_charged(phase, behaviour):
        return body, out_headers
    node = _task_node(body)
    if phase.state != "completed":
        _charge_failed_quota(node, task)
    shape = behaviour.report_cost
    amount = charge_usd(task)
    if shape == "cost":
        node["cost"] = amount
        node["currency"] = "USD"
    elif shape == "usage_cost":
        node["usage"] = {"cost": amount, "currency": "USD"}
    elif shape in ("litellm", "litellm_seconds"):
        node["usage"] = {
            "duration_seconds": float(task.request.duration),
            "video_resolution": _resolution(task),
        }
        if shape == "litellm":
            out_headers[LITELLM_COST_HEADER] = str(amount)
    return body, out_headers
