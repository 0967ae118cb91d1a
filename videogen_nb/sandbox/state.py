"""The sandbox's memory: tasks, their lifecycle, file URLs, idempotency keys, counters.

A task's state is computed from wall-clock timestamps whenever it is read, so no background
loop ticks. Everything here is touched from the server's event-loop thread only.
"""

from __future__ import annotations

import hashlib
import random
import secrets
import string
import time
from collections import Counter
from typing import Any

import attrs

from .behaviour import DEFAULT_MODELS, Behaviour
from .faults import FaultBook
from .parse import ParsedRequest
from .render import RenderSpec

__all__ = [
    "FAILURE_MESSAGES",
    "Phase",
    "SandboxState",
    "SandboxTask",
]

# (code, message): gateways pass vendor failures through in whatever language they came in.
FAILURE_MESSAGES: tuple[tuple[str, str], ...] = (
    ("content_policy_violation", "The prompt was flagged by the content safety system."),
    ("upstream_error", "视频生成失败：上游服务繁忙，请稍后重试"),
    ("generation_failed", "動画の生成に失敗しました。別のプロンプトでお試しください。"),
    ("internal_error", "Error interno del proveedor: no se pudo generar el video."),
    ("image_rejected", "Das Eingabebild konnte nicht verarbeitet werden."),
    ("timeout", "Le fournisseur n'a pas répondu à temps (délai dépassé)."),
)

_ID_ALPHABET = string.ascii_letters + string.digits

# Fractions of a task's run time spent in each pending phase, then running to 1.0.
_NOT_START_END = 0.08
_SUBMITTED_END = 0.16
_QUEUED_END = 0.25


@attrs.define(frozen=True)
class Phase:
    """What a read of a task shows: a canonical ``state`` and a progress 0-100.

    ``state`` is one of ``not_start submitted queued in_progress completed failed cancelled``;
    ``odd`` is an unknown status string to show instead (fault ``odd_status``).
    """

    state: str
    progress: int
    odd: str | None = None

    @property
    def terminal(self) -> bool:
        """Whether the task has ended."""
        return self.state in ("completed", "failed", "cancelled")


@attrs.define(kw_only=True)
class SandboxTask:
    """One task the sandbox accepted (mutable: reads and downloads are recorded on it)."""

    id: str
    request: ParsedRequest
    created_at: float
    run_seconds: float
    failure: tuple[str, str] | None
    render: RenderSpec
    cancelled_at: float | None = None
    flapped: bool = False
    seen_running: bool = False
    odd_reads: int = 0
    first_completed_read_at: float | None = None
    downloaded_at: float | None = None
    download_attempts: int = 0
    url_token: str | None = None

    @property
    def model(self) -> str:
        """The requested model name."""
        return self.request.model

    @property
    def finishes_at(self) -> float:
        """When the task reaches its terminal state (server clock)."""
        return self.created_at + self.run_seconds


@attrs.define(kw_only=True)
class _FileToken:
    task_id: str
    issued_at: float
    used: bool = False


class SandboxState:
    """All mutable state of one sandbox server."""

    def __init__(self, behaviour: Behaviour) -> None:
        self.behaviour = behaviour
        self.faults = FaultBook()
        self.faults.arm(behaviour, behaviour.public().keys())
        self.tasks: dict[str, SandboxTask] = {}
        self.tokens: dict[str, _FileToken] = {}
        self.idempotency: dict[str, str] = {}
        self.occurrences: Counter[str] = Counter()
        self.requests: Counter[str] = Counter()
        self.statuses: Counter[str] = Counter()
        self.bytes_served = 0
        self.idempotent_replays = 0

    # --- behaviour ----------------------------------------------------------------------

    def configure(self, behaviour: Behaviour, changed: list[str]) -> None:
        """Switch to ``behaviour``; the request-fault counts named in ``changed`` re-arm."""
        self.behaviour = behaviour
        self.faults.arm(behaviour, changed)

    @property
    def known_models(self) -> frozenset[str]:
        """Model names the sandbox serves."""
        return frozenset(DEFAULT_MODELS) | frozenset(self.behaviour.models)

    def model_list(self) -> list[str]:
        """Served model names in a stable order (defaults first)."""
        extra = [m for m in self.behaviour.models if m not in DEFAULT_MODELS]
        return [*DEFAULT_MODELS, *dict.fromkeys(extra)]

    # --- tasks --------------------------------------------------------------------------

    def create_task(self, req: ParsedRequest, *, now: float | None = None) -> SandboxTask:
        """Accept ``req`` as a new task with its outcome decided up front (seeded RNG)."""
        now = time.time() if now is None else now
        b = self.behaviour
        # The k-th identical request gets its own, repeatable outcome.
        occurrence = self.occurrences[req.fingerprint]
        self.occurrences[req.fingerprint] += 1
        digest = hashlib.sha256(f"{b.seed}|{req.fingerprint}|{occurrence}".encode()).digest()
        rng = random.Random(digest)
        failure = None
        if rng.random() < b.failure_rate:
            failure = FAILURE_MESSAGES[rng.randrange(len(FAILURE_MESSAGES))]
        task_id = "task_" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(32))
        task = SandboxTask(
            id=task_id,
            request=req,
            created_at=now,
            run_seconds=b.task_seconds if req.task_seconds is None else req.task_seconds,
            failure=failure,
            render=self._render_spec(req),
        )
        self.tasks[task_id] = task
        return task

    def _render_spec(self, req: ParsedRequest) -> RenderSpec:
        b = self.behaviour
        width, height = req.size
        if b.wrong_size:
            if isinstance(b.wrong_size, str):
                w, _, h = b.wrong_size.partition("x")
                width, height = int(w), int(h)
            else:
                width, height = max(16, width // 2), max(16, height // 2)
            self.faults.record("wrong_size")
        duration = float(req.duration)
        if b.wrong_duration:
            duration = (
                max(1.0 / req.fps, duration / 2)
                if b.wrong_duration is True
                else float(b.wrong_duration)
            )
            self.faults.record("wrong_duration")
        return RenderSpec(
            prompt=req.prompt,
            model=req.model,
            seed=req.seed,
            width=width,
            height=height,
            duration=duration,
            fps=req.fps,
            audio=req.model.endswith("-audio"),
            image=req.image,
            last_image=req.last_image,
            marks=not req.blind,
        )

    def task_for_key(self, key: str | None) -> SandboxTask | None:
        """The task an ``Idempotency-Key`` created before, when idempotency is on."""
        if not key or not self.behaviour.idempotency:
            return None
        task_id = self.idempotency.get(key)
        return self.tasks.get(task_id) if task_id else None

    def remember_key(self, key: str | None, task: SandboxTask) -> None:
        """Tie ``key`` to ``task`` so a replay of the POST returns it."""
        if key and self.behaviour.idempotency:
            self.idempotency[key] = task.id

    def observe(self, task: SandboxTask, *, now: float | None = None) -> Phase:
        """The task as a client reading it now sees it (applies flap and odd_status)."""
        now = time.time() if now is None else now
        b = self.behaviour
        if task.cancelled_at is not None:
            return Phase("cancelled", self._progress(task, task.cancelled_at))
        frac = 1.0 if task.run_seconds <= 0 else (now - task.created_at) / task.run_seconds
        done = frac >= 1.0 and not b.never_finish
        # Once a task was seen running, one later read shows it queued again.
        if (
            b.flap
            and task.seen_running
            and not task.flapped
            and task.first_completed_read_at is None
        ):
            task.flapped = True
            self.faults.record("flap")
            return Phase("queued", 0)
        if done:
            if task.failure is not None:
                return Phase("failed", 100)
            if task.first_completed_read_at is None:
                task.first_completed_read_at = now
            return Phase("completed", 100)
        if frac < _NOT_START_END:
            return Phase("not_start", 0)
        if frac < _SUBMITTED_END:
            return Phase("submitted", 0)
        if frac < _QUEUED_END:
            return Phase("queued", 0)
        task.seen_running = True
        progress = self._running_progress(task, now)
        if b.odd_status:
            task.odd_reads += 1
            self.faults.record("odd_status")
            odd = "generating" if task.odd_reads % 2 else "weird_state"
            return Phase("in_progress", progress, odd)
        return Phase("in_progress", progress)

    def _running_progress(self, task: SandboxTask, when: float) -> int:
        progress = self._progress(task, when)
        if self.behaviour.stepped_progress:  # new-api pins it to a few steps (GATEWAYS.md)
            progress = 10 if progress < 34 else 20 if progress < 67 else 30
        return progress

    @staticmethod
    def _progress(task: SandboxTask, when: float) -> int:
        if task.run_seconds <= 0:
            return 99
        frac = (when - task.created_at) / task.run_seconds
        if frac < _QUEUED_END:
            return 0
        return max(1, min(99, int(5 + 95 * (frac - _QUEUED_END) / (1 - _QUEUED_END))))

    def cancel(self, task: SandboxTask, *, now: float | None = None) -> bool:
        """Cancel ``task`` if it has not ended; returns whether it was cancelled now."""
        if self.observe(task, now=now).terminal:
            return False
        task.cancelled_at = time.time() if now is None else now
        return True

    # --- file URLs ----------------------------------------------------------------------

    def file_token(self, task: SandboxTask, *, now: float | None = None) -> str:
        """The token of the task's current file URL, issuing a fresh one when it expired."""
        now = time.time() if now is None else now
        token = task.url_token
        if token is None or self.token_expired(self.tokens[token], now=now):
            token = secrets.token_urlsafe(18)
            self.tokens[token] = _FileToken(task_id=task.id, issued_at=now)
            task.url_token = token
        return token

    def token_expired(self, token: _FileToken, *, now: float | None = None) -> bool:
        """Whether a file URL answers 403 now (fault modes ``url_ttl``/``url_single_use``)."""
        now = time.time() if now is None else now
        b = self.behaviour
        if b.url_ttl is not None and now - token.issued_at > b.url_ttl:
            return True
        return b.url_single_use and token.used

    def lookup_token(self, token: str) -> _FileToken | None:
        """The record behind a file URL token, if it was ever issued."""
        return self.tokens.get(token)

    # --- counters -----------------------------------------------------------------------

    def count_request(self, method: str, route: str) -> None:
        """Count one request on ``route`` (a route template such as ``GET /v1/videos/{id}``)."""
        self.requests[f"{method} {route}"] += 1

    def count_status(self, status: int | str) -> None:
        """Count one answer by status code (``"aborted"`` for dropped connections)."""
        self.statuses[str(status)] += 1

    def stats(self, *, include_tasks: bool = True, render: Any = None) -> dict[str, Any]:
        """Every counter as JSON-ready values (never the API key)."""
        out: dict[str, Any] = {
            "tasks_created": len(self.tasks),
            "requests": dict(self.requests),
            "statuses": dict(self.statuses),
            "faults": dict(self.faults.fired),
            "bytes_served": self.bytes_served,
            "idempotent_replays": self.idempotent_replays,
            "behaviour": self.behaviour.public(),
        }
        if render is not None:
            out["renders"] = render.renders
            out["render_cache_hits"] = render.hits
        if include_tasks:
            now = time.time()
            tasks = {}
            for t in self.tasks.values():
                done = (
                    not self.behaviour.never_finish
                    and t.cancelled_at is None
                    and t.finishes_at <= now
                )
                tasks[t.id] = {
                    "model": t.model,
                    "created_at": t.created_at,
                    "completed_at": t.finishes_at if done else None,
                    "outcome": (
                        "cancelled"
                        if t.cancelled_at is not None
                        else ("failed" if t.failure else "completed")
                        if done
                        else "pending"
                    ),
                    "first_completed_read_at": t.first_completed_read_at,
                    "downloaded_at": t.downloaded_at,
                    "download_attempts": t.download_attempts,
                }
            out["tasks"] = tasks
        return out
