"""One tolerant decoder for every response shape the gateways of GATEWAYS.md send.

- ``decode_task(body, headers=..., task_id=...) -> Task`` reads a submit or poll answer of
  any gateway: new-api's OpenAI video object and its ``{"code":"success","data":{...}}``
  wrapper (raw vendor JSON under ``data.data``), ezmodel, uniall, OpenAI, LiteLLM, and raw
  vendor shapes (Kling ``task_status``/``task_result``, Vidu ``creations``, ...).
- ``decode_error(status, body, headers) -> APIError`` turns an error answer into the
  matching exception with the gateway's message verbatim (any language), its code, and
  ``retry_after`` from ``Retry-After``.
- ``decode_models(body) -> list[str]`` reads a model list.

Rules that keep a bad answer from being taken for a good one:

- Status strings are compared case-insensitively; one the toolkit does not know is
  treated as still pending (never as success) and logged once per distinct string on the
  ``videogen_nb`` logger.
- A video URL is trusted only when the task succeeded and the value parses as an http(s)
  URL or is a path starting with ``/`` (the client resolves it against the base URL):
  older new-api versions put failure text where the URL goes.
- A body that is not a task at all raises: ``APIError`` when it is an error envelope
  (even under HTTP 200), ``APIConnectionError`` quoting the body otherwise.
"""

from __future__ import annotations

import datetime
import html
import http
import json
import logging
import re
import threading
import urllib.parse
from collections.abc import Iterable, Mapping
from typing import Any

from ..core.errors import APIConnectionError, APIError, BadRequestError, api_error_for_status
from ..core.task import Task, TaskStatus
from .headers import parse_poll_after
from .headers import parse_retry_after as _parse_retry_after

__all__ = [
    "decode_error",
    "decode_models",
    "decode_task",
    "parse_poll_after",
    "parse_retry_after",
    "parse_status",
]

logger = logging.getLogger("videogen_nb")

_STATUS_WORDS: dict[TaskStatus, tuple[str, ...]] = {
    TaskStatus.QUEUED: (
        "pending",
        "queued",
        "queueing",
        "in_queue",
        "submitted",
        "not_start",
        "created",
        "unknown",
        "preparing",
    ),
    TaskStatus.IN_PROGRESS: ("processing", "in_progress", "running", "generating"),
    TaskStatus.COMPLETED: ("completed", "succeeded", "succeed", "success", "done"),
    TaskStatus.FAILED: ("failed", "failure", "fail", "error"),
    TaskStatus.CANCELLED: ("cancelled", "canceled", "expired"),
}
_STATUS_OF: dict[str, TaskStatus] = {
    word: status for status, words in _STATUS_WORDS.items() for word in words
}

_STATUS_KEYS = ("status", "task_status", "state")
_ID_KEYS = ("task_id", "id")
#: ``code`` values that mean "this wrapper carries a result", not an error
_OK_CODES = frozenset({"", "0", "200", "success", "ok", "succeed", "succeeded"})
#: statuses that new-api's task error codes imply when they arrive under HTTP 200
_CODE_STATUS = {
    "invalid_request": 400,
    "invalid_json": 400,
    "missing_model": 400,
    "invalid_size": 400,
    "fail_to_fetch_task": 400,
    "task_not_exist": 400,
    "insufficient_user_quota": 403,
    "model_not_found": 503,
}
#: error codes that are final whatever HTTP status carries them
_PERMANENT_CODES = frozenset({"model_not_found"})
#: where gateways put the video URL, relative to the task object, most specific first
_URL_PATHS: tuple[tuple[str | int, ...], ...] = (
    ("url",),
    ("video_url",),
    ("metadata", "url"),
    ("result_url",),
    ("output", "video_url"),
    ("output", "url"),
    ("output",),
    ("output", 0),
    ("content", "video_url"),
    ("content", "url"),
    ("task_result", "videos", 0, "url"),
    ("creations", 0, "url"),
    ("videos", 0, "url"),
    ("video", "url"),
    ("result", "video_url"),
    ("result", "url"),
    ("data", 0, "url"),
    ("data", "url"),
    ("data", "result_url"),
    ("data", "video_url"),
)
_CREATED_KEYS = ("created_at", "created", "submit_time", "submitted_at", "create_time")
_COMPLETED_KEYS = ("completed_at", "finish_time", "finished_at", "end_time")
_EXPIRES_KEYS = ("expires_at", "expire_at", "expired_at")
_FAILURE_KEYS = (
    "fail_reason",
    "failure_reason",
    "task_status_msg",
    "error_message",
    "error_msg",
    "reason",
    "message",
    "msg",
)
_QUOTE_LIMIT = 300

_unknown_seen: set[str] = set()
_unknown_lock = threading.Lock()


# --- small readers --------------------------------------------------------------------------


def _header(headers: Mapping[str, str] | None, name: str) -> str | None:
    """A header value, looked up case-insensitively in any mapping."""
    if not headers:
        return None
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        for key, candidate in headers.items():
            if str(key).lower() == lowered:
                value = candidate
                break
    return None if value is None else str(value)


def _quote(body: Any) -> str:
    """``body`` as short readable text for an error message."""
    if isinstance(body, (bytes, bytearray)):
        text = bytes(body).decode("utf-8", "replace")
    elif isinstance(body, str):
        text = body
    else:
        try:
            text = json.dumps(body, ensure_ascii=False)
        except (TypeError, ValueError):
            text = repr(body)
    if re.search(r"<\s*(html|body|head|!doctype)", text, re.I):
        title = re.search(r"<title[^>]*>(.*?)</title>", text, re.I | re.S)
        text = title.group(1) if title else re.sub(r"<[^>]+>", " ", text)
        text = html.unescape(text)
    text = " ".join(text.split())
    if not text:
        return "(empty body)"
    return text if len(text) <= _QUOTE_LIMIT else text[:_QUOTE_LIMIT] + "…"


def _load(body: Any) -> Any:
    """Parse a bytes/str body as JSON; other values are already parsed."""
    if isinstance(body, (bytes, bytearray)):
        body = bytes(body).decode("utf-8", "replace")
    if isinstance(body, str):
        try:
            return json.loads(body)
        except ValueError:
            raise APIConnectionError(
                f"the gateway answered with something that is not JSON: {_quote(body)}"
            ) from None
    return body


def _text(value: Any) -> str | None:
    """A non-empty stripped string, or None."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _dig(node: Any, path: Iterable[str | int]) -> Any:
    for step in path:
        if isinstance(step, int):
            if not isinstance(node, list) or len(node) <= step:
                return None
            node = node[step]
        else:
            if not isinstance(node, dict):
                return None
            node = node.get(step)
    return node


def _code_is_ok(code: Any) -> bool:
    return code is None or str(code).strip().lower() in _OK_CODES


def parse_status(value: Any) -> TaskStatus | None:
    """The ``TaskStatus`` a gateway's status string means, or None when it is unknown.

    >>> parse_status("SUCCEEDED"), parse_status("not_start"), parse_status("in-progress")
    (<TaskStatus.COMPLETED: 'completed'>, <TaskStatus.QUEUED: 'queued'>, <TaskStatus.IN_PROGRESS: 'in_progress'>)
    """
    text = _text(value)
    if text is None:
        return None
    return _STATUS_OF.get(re.sub(r"[\s-]+", "_", text.lower()))


def _progress(value: Any) -> int | None:
    """0-100 from an int percent, a 0-1 float, or a string such as ``"45%"``."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, str):
        text = value.strip().rstrip("%").strip()
        if not text:
            return None
        try:
            number: float = int(text) if re.fullmatch(r"[+-]?\d+", text) else float(text)
        except ValueError:
            return None
        # "45%" is a percent even with a decimal point; a bare "0.5" reads like a fraction
        percent = value.strip().endswith("%")
    elif isinstance(value, (int, float)):
        number, percent = value, False
    else:
        return None
    if number != number:  # NaN
        return None
    if isinstance(number, float) and not percent and 0.0 <= number <= 1.0:
        number *= 100
    return max(0, min(100, round(number)))


def _epoch(value: Any) -> float | None:
    """Float epoch seconds from seconds, milliseconds, a numeric string or an ISO date."""
    if value is None or isinstance(value, bool):
        return None
    number: float | None = None
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str) and value.strip():
        text = value.strip()
        try:
            number = float(text)
        except ValueError:
            try:
                parsed = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError:
                return None
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=datetime.timezone.utc)
            return parsed.timestamp()
    if number is None or number != number or number <= 0:
        return None  # new-api sends 0 for "not yet"
    # 1e11 s is the year 5138 while 1e11 ms is 1973: anything larger is milliseconds.
    return number / 1000.0 if number > 1e11 else number


def _first(node: dict[str, Any], keys: Iterable[str], reader: Any) -> Any:
    for key in keys:
        value = reader(node.get(key))
        if value is not None:
            return value
    return None


def _usable_url(value: Any) -> str | None:
    text = _text(value) if isinstance(value, str) else None
    if text is None:
        return None
    if text.startswith("/") and not text.startswith("//"):
        return text
    try:
        parts = urllib.parse.urlsplit(text)
    except ValueError:
        return None
    if (
        parts.scheme.lower() in ("http", "https")
        and parts.netloc
        and not any(c.isspace() for c in text)
    ):
        return text
    return None


def _video_url(node: dict[str, Any]) -> str | None:
    """The first usable URL among the known locations, searching nested vendor JSON too."""
    current: Any = node
    for _depth in range(4):  # the task, then raw vendor JSON nested under data / data.data
        if not isinstance(current, dict):
            break
        for path in _URL_PATHS:
            url = _usable_url(_dig(current, path))
            if url is not None:
                return url
        current = current.get("data")
    # Older new-api versions stored the URL of a successful task in fail_reason.
    return _usable_url(node.get("fail_reason"))


def _failure(node: dict[str, Any]) -> tuple[str | None, str | None]:
    """The failure text and code of a failed task."""
    error = node.get("error")
    message: str | None = None
    code: str | None = None
    if isinstance(error, dict):
        message = _text(error.get("message")) or _text(error.get("msg"))
        code = _text(error.get("code"))
    elif isinstance(error, str):
        message = _text(error)
    if message is None:
        message = _first(node, _FAILURE_KEYS, _text)
    if message is None:
        # Older new-api versions: the failure text sits where the URL goes.
        text = _text(node.get("result_url"))
        if text is not None and _usable_url(text) is None:
            message = text
    if code is None:
        code = _text(node.get("error_code"))
    return message, code


def _is_task(node: dict[str, Any]) -> bool:
    if any(node.get(key) is not None for key in _STATUS_KEYS):
        return True
    return not node.get("error") and any(_text(node.get(key)) for key in _ID_KEYS)


def _envelope(node: dict[str, Any]) -> tuple[str, str | None] | None:
    """``(message, code)`` when ``node`` is an error envelope rather than a task wrapper."""
    error = node.get("error")
    if isinstance(error, dict) and error:
        return (
            _text(error.get("message")) or _text(error.get("msg")) or _quote(error),
            _text(error.get("code")) or _text(node.get("code")),
        )
    if isinstance(error, str) and error.strip():
        return error.strip(), _text(node.get("code"))
    if (
        "code" in node
        and not _code_is_ok(node.get("code"))
        and not isinstance(node.get("data"), dict)
    ):
        message = _text(node.get("message")) or _text(node.get("msg")) or _quote(node)
        return message, _text(node.get("code"))
    return None


def _log_unknown(text: str) -> None:
    with _unknown_lock:
        if text in _unknown_seen:
            return
        _unknown_seen.add(text)
    logger.warning("unknown task status %r from the gateway; treating it as pending", text)


# --- public ---------------------------------------------------------------------------------


def parse_retry_after(value: Any, *, now: datetime.datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value: delta seconds or an HTTP date.

    The one parser lives in ``retry.py``; this accepts any header value and a datetime.

    >>> parse_retry_after("120"), parse_retry_after(None), parse_retry_after("soon")
    (120.0, None, None)
    """
    return _parse_retry_after(_text(value), now=now.timestamp() if now is not None else None)


def decode_error(status: int, body: Any, headers: Mapping[str, str] | None = None) -> APIError:
    """The ``APIError`` subclass for an error answer, quoting the gateway verbatim.

    Reads ``{"error":{"message","type","code"}}``, ``{"code","message","data":null}``,
    ``{"detail": ...}``, plain text and HTML pages.

    >>> err = decode_error(429, '{"error":{"message":"当前分组上游负载已饱和","code":"rate_limit"}}',
    ...                    {"Retry-After": "3"})
    >>> type(err).__name__, err.message, err.code, err.retry_after
    ('RateLimitError', '当前分组上游负载已饱和', 'rate_limit', 3.0)
    """
    parsed: Any = body
    if isinstance(body, (bytes, bytearray, str)):
        try:
            parsed = _load(body)
        except APIConnectionError:
            parsed = body
    message: str | None = None
    code: str | None = None
    if isinstance(parsed, dict):
        found = _envelope(parsed)
        if found is not None:
            message, code = found
        else:
            detail = parsed.get("detail")
            message = (
                _text(parsed.get("message"))
                or _text(parsed.get("msg"))
                or (_text(detail) if isinstance(detail, str) else None)
                or (_quote(detail) if detail else None)
            )
            code = _text(parsed.get("code")) or _text(parsed.get("error_code"))
    if message is None:
        message = _quote(parsed) if parsed not in (None, "", b"") else _status_phrase(status)
    request_id = None
    for name in ("X-Request-Id", "X-Oneapi-Request-Id", "Request-Id"):
        request_id = _header(headers, name)
        if request_id:
            break
    if not request_id:
        found_id = re.search(r"request id: ([\w.-]+)", message)
        request_id = found_id.group(1) if found_id else None
    if code in _PERMANENT_CODES and status >= 500:
        # new-api answers 503 for a model no channel serves: retrying cannot help, so it
        # must not look like a passing server fault.
        return BadRequestError(
            message, status_code=status, code=code, body=parsed, request_id=request_id
        )
    return api_error_for_status(
        status,
        message,
        code=code,
        body=parsed,
        retry_after=parse_retry_after(_header(headers, "Retry-After")),
        request_id=request_id,
    )


def _status_phrase(status: int) -> str:
    try:
        return f"{http.HTTPStatus(status).phrase} (no message in the response body)"
    except ValueError:
        return "no message in the response body"


def decode_task(
    body: Any,
    *,
    headers: Mapping[str, str] | None = None,
    task_id: str | None = None,
    status_code: int | None = None,
) -> Task:
    """A ``Task`` from any task response shape of GATEWAYS.md.

    ``task_id`` is the id that was polled (used when the body names none); ``status_code``
    the HTTP status the body came with (used when an error envelope arrives under 2xx).
    ``raw`` on the task is the parsed body.

    >>> decode_task({"code": "success", "message": "", "data": {"task_id": "task_1",
    ...     "status": "SUCCESS", "progress": "100%", "result_url": "https://cdn.example/v.mp4"}})
    Task(id='task_1', status=completed, progress=100%, video_url='https://cdn.example/v.mp4')
    """
    parsed = _load(body)
    node: Any = parsed
    for _depth in range(4):  # wrappers nest at most a couple of levels
        if not isinstance(node, dict) or _is_task(node):
            break
        found = _envelope(node)
        if found is not None:
            code = found[1]
            status = status_code if status_code and status_code >= 400 else None
            status = status or _CODE_STATUS.get(code or "", status_code or 200)
            raise decode_error(status, parsed, headers)
        inner = node.get("data")
        if not isinstance(inner, dict):
            break
        node = inner
    if not isinstance(node, dict) or not _is_task(node):
        raise APIConnectionError(
            f"the gateway answered with something that is not a video task: {_quote(parsed)}"
        )

    ident = _first(node, _ID_KEYS, _text) or _text(task_id)
    if ident is None:
        raise APIConnectionError(f"the gateway's task answer names no task id: {_quote(parsed)}")

    status_text = _first(node, _STATUS_KEYS, _text)
    progress = _progress(node.get("progress"))
    status = parse_status(status_text)
    if status is None:
        if status_text is not None:
            _log_unknown(status_text)
        status = TaskStatus.IN_PROGRESS if progress else TaskStatus.QUEUED

    error = error_code = None
    video_url = None
    if status is TaskStatus.COMPLETED:
        video_url = _video_url(node)
        if progress is None:
            progress = 100
    elif status in (TaskStatus.FAILED, TaskStatus.CANCELLED):
        error, error_code = _failure(node)

    return Task(
        id=ident,
        status=status,
        progress=progress,
        video_url=video_url,
        error=error,
        error_code=error_code,
        model=_text(node.get("model")),
        created_at=_first(node, _CREATED_KEYS, _epoch),
        completed_at=_first(node, _COMPLETED_KEYS, _epoch),
        expires_at=_first(node, _EXPIRES_KEYS, _epoch),
        poll_after=parse_poll_after(headers),
        status_text=status_text,
        raw=parsed,
    )


def decode_models(body: Any) -> list[str]:
    """Model ids from ``{"object":"list","data":[{"id":...}]}``, ``{"data":[...]}`` or a bare list.

    >>> decode_models({"object": "list", "data": [{"id": "kling-v1"}, {"id": "sora-2"}]})
    ['kling-v1', 'sora-2']
    """
    parsed = _load(body)
    items: Any = parsed
    if isinstance(parsed, dict):
        items = parsed.get("data", parsed.get("models"))
    if not isinstance(items, list):
        raise APIConnectionError(
            f"the gateway answered with something that is not a model list: {_quote(parsed)}"
        )
    names: list[str] = []
    for item in items:
        name = _text(item.get("id") or item.get("name")) if isinstance(item, dict) else None
        if name is None and isinstance(item, str):
            name = _text(item)
        if name is not None and name not in names:
            names.append(name)
    return names
