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
import http
import logging
import re
import threading
from collections.abc import Mapping
from typing import Any

from ..core.errors import (
    APIConnectionError,
    APIError,
    AuthenticationError,
    BadRequestError,
    api_error_for_status,
)
from ..core.excerpt import CODE_LIMIT, excerpt
from ..core.task import Task, TaskStatus
from .base import is_dot_segment
from .costs import LITELLM_COST_HEADER, NEWAPI_RATIOS_HEADER, reported_cost
from .headers import parse_poll_after
from .headers import parse_retry_after as _parse_retry_after
from .readers import (
    dig,
    epoch_of,
    first_of,
    header,
    load_json,
    progress_of,
    quote,
    text_of,
    usable_url,
)

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
#: response headers worth keeping on ``Task.raw["_headers"]`` (new-api's price multipliers,
#: the LiteLLM proxy's computed cost)
KEPT_HEADERS = (NEWAPI_RATIOS_HEADER, LITELLM_COST_HEADER)
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

_unknown_seen: set[str] = set()
_unknown_lock = threading.Lock()


# --- small readers --------------------------------------------------------------------------


def _code_is_ok(code: Any) -> bool:
    return code is None or str(code).strip().lower() in _OK_CODES


def parse_status(value: Any) -> TaskStatus | None:
    """The ``TaskStatus`` a gateway's status string means, or None when it is unknown.

    >>> parse_status("SUCCEEDED"), parse_status("not_start"), parse_status("in-progress")
    (<TaskStatus.COMPLETED: 'completed'>, <TaskStatus.QUEUED: 'queued'>, <TaskStatus.IN_PROGRESS: 'in_progress'>)
    """
    text = text_of(value)
    if text is None:
        return None
    return _STATUS_OF.get(re.sub(r"[\s-]+", "_", text.lower()))


def _video_url(node: dict[str, Any]) -> str | None:
    """The first usable URL among the known locations, searching nested vendor JSON too."""
    current: Any = node
    for _depth in range(4):  # the task, then raw vendor JSON nested under data / data.data
        if not isinstance(current, dict):
            break
        for path in _URL_PATHS:
            url = usable_url(dig(current, path))
            if url is not None:
                return url
        current = current.get("data")
    # Older new-api versions stored the URL of a successful task in fail_reason.
    return usable_url(node.get("fail_reason"))


def _failure(node: dict[str, Any]) -> tuple[str | None, str | None]:
    """The failure text and code of a failed task."""
    error = node.get("error")
    message: str | None = None
    code: str | None = None
    if isinstance(error, dict):
        message = text_of(error.get("message")) or text_of(error.get("msg"))
        code = text_of(error.get("code"))
    elif isinstance(error, str):
        message = text_of(error)
    if message is None:
        message = first_of(node, _FAILURE_KEYS, text_of)
    if message is None:
        # Older new-api versions: the failure text sits where the URL goes.
        text = text_of(node.get("result_url"))
        if text is not None and usable_url(text) is None:
            message = text
    if code is None:
        # new-api's task object keeps the vendor's code under ``async`` on newer versions
        code = text_of(node.get("error_code")) or text_of(dig(node, ("async", "error_code")))
    return message, code


def _is_task(node: dict[str, Any]) -> bool:
    if any(node.get(key) is not None for key in _STATUS_KEYS):
        return True
    return not node.get("error") and any(text_of(node.get(key)) for key in _ID_KEYS)


def _envelope(node: dict[str, Any]) -> tuple[str, str | None] | None:
    """``(message, code)`` when ``node`` is an error envelope rather than a task wrapper."""
    error = node.get("error")
    if isinstance(error, dict) and error:
        return (
            text_of(error.get("message")) or text_of(error.get("msg")) or quote(error),
            text_of(error.get("code")) or text_of(node.get("code")),
        )
    if isinstance(error, str) and error.strip():
        return error.strip(), text_of(node.get("code"))
    if (
        "code" in node
        and not _code_is_ok(node.get("code"))
        and not isinstance(node.get("data"), dict)
    ):
        message = text_of(node.get("message")) or text_of(node.get("msg")) or quote(node)
        return message, text_of(node.get("code"))
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
    return _parse_retry_after(text_of(value), now=now.timestamp() if now is not None else None)


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
            parsed = load_json(body)
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
                text_of(parsed.get("message"))
                or text_of(parsed.get("msg"))
                or (text_of(detail) if isinstance(detail, str) else None)
                or (quote(detail) if detail else None)
            )
            code = text_of(parsed.get("code")) or text_of(parsed.get("error_code"))
    if message is None:
        message = quote(parsed) if parsed not in (None, "", b"") else _status_phrase(status)
    message = _with_fields_at_fault(message, parsed)
    request_id = None
    for name in ("X-Request-Id", "X-Oneapi-Request-Id", "Request-Id"):
        request_id = header(headers, name)
        if request_id:
            break
    if not request_id:
        found_id = re.search(r"request id: ([\w.-]+)", message)
        request_id = found_id.group(1) if found_id else None
    special = _special_error_class(status, code, parsed)
    if special is not None:
        return special(message, status_code=status, code=code, body=parsed, request_id=request_id)
    return api_error_for_status(
        status,
        message,
        code=code,
        body=parsed,
        retry_after=parse_retry_after(header(headers, "Retry-After")),
        request_id=request_id,
    )


def _special_error_class(status: int, code: str | None, parsed: Any) -> type[APIError] | None:
    """The error class for answers whose HTTP status says the wrong thing, else None."""
    if code in _PERMANENT_CODES and status >= 500:
        # new-api answers 503 for a model no channel serves: retrying cannot help, so it
        # must not look like a passing server fault.
        return BadRequestError
    if isinstance(parsed, dict) and dig(parsed, ("error", "type")) == "no_db_connection":
        # LiteLLM without a key database answers any key but its master key with 400
        # "No connected db.": the key was refused, so it is an authentication error.
        return AuthenticationError
    return None


def _fields_at_fault(parsed: Any) -> list[str]:
    """``"field: why"`` for each field a validation answer names (OpenAI's ``error.param``,
    ``validation[].location``, FastAPI's ``detail[].loc``)."""
    if not isinstance(parsed, dict):
        return []
    error: dict[str, Any] = parsed["error"] if isinstance(parsed.get("error"), dict) else {}
    listed = error.get("validation") or parsed.get("validation") or parsed.get("detail")
    found: list[str] = []
    for item in listed if isinstance(listed, list) else []:
        if isinstance(item, dict):
            where = item.get("location") or item.get("loc") or ()
            path = [str(p) for p in where if p != "body"] if isinstance(where, list) else []
            why = text_of(item.get("message")) or text_of(item.get("msg"))
            if path:
                found.append(f"{'.'.join(path)}: {why}" if why else ".".join(path))
    param = text_of(error.get("param"))
    if param and not any(f.split(":")[0] == param for f in found):
        found.insert(0, param)
    return found


def _with_fields_at_fault(message: str, parsed: Any) -> str:
    """``message`` with the fields at fault appended, unless it already names them all."""
    missing = [f for f in _fields_at_fault(parsed) if f.split(":")[0] not in message]
    return f"{message} ({'; '.join(missing)})" if missing else message


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
    ``raw`` on the task is the parsed body; the response headers named in ``KEPT_HEADERS``
    (``X-New-Api-Other-Ratios``, for the cost of a task) are added under ``raw["_headers"]``.
    ``cost`` is what the answer reports the task cost (``dialects.costs``), or None.

    >>> decode_task({"code": "success", "message": "", "data": {"task_id": "task_1",
    ...     "status": "SUCCESS", "progress": "100%", "result_url": "https://cdn.example/v.mp4"}})
    Task(id='task_1', status=completed, progress=100%, video_url='https://cdn.example/v.mp4')
    """
    parsed = load_json(body)
    node = _task_node(parsed, headers, status_code)
    ident = _identity(node, task_id)
    if ident is None:
        raise APIConnectionError(f"the gateway's task answer names no task id: {quote(parsed)}")
    if is_dot_segment(ident) and (task_id is None or is_dot_segment(task_id)):
        # on a submit the answer's id routes every later call (a poll keeps the id it asked)
        raise APIConnectionError(
            f"the gateway's task answer names the task id {ident!r}, which cannot be one URL "
            f"path segment, so the task cannot be polled: {quote(parsed)}"
        )
    status_text = first_of(node, _STATUS_KEYS, text_of)
    progress = progress_of(node.get("progress"))
    status = _status(status_text, progress)
    error = error_code = None
    video_url = None
    if status is TaskStatus.COMPLETED:
        video_url = _video_url(node)
        if progress is None:
            progress = 100
    elif status in (TaskStatus.FAILED, TaskStatus.CANCELLED):
        error, error_code = _failure(node)
        # a gateway's reason can be megabytes: keep a bounded excerpt that says it was cut
        error = None if error is None else excerpt(error)
        error_code = None if error_code is None else excerpt(error_code, CODE_LIMIT)
    return Task(
        id=ident,
        status=status,
        progress=progress,
        video_url=video_url,
        error=error,
        error_code=error_code,
        model=text_of(node.get("model")),
        created_at=first_of(node, _CREATED_KEYS, epoch_of),
        completed_at=first_of(node, _COMPLETED_KEYS, epoch_of),
        expires_at=first_of(node, _EXPIRES_KEYS, epoch_of),
        poll_after=parse_poll_after(headers),
        status_text=status_text,
        cost=reported_cost(node, parsed, headers, terminal=status.is_terminal),
        raw=_with_kept_headers(parsed, headers),
    )


def _identity(node: dict[str, Any], task_id: str | None) -> str | None:
    """The task's id: a string ``task_id``/``id`` of the answer, else the id that was asked
    for. An INTEGER ``id`` is new-api's database row (its task object), never the task's id,
    so it is the last resort of an answer that names nothing else."""
    for key in _ID_KEYS:
        value = node.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return text_of(task_id) or first_of(node, _ID_KEYS, text_of)


def _with_kept_headers(parsed: Any, headers: Mapping[str, str] | None) -> Any:
    """``parsed``, plus ``"_headers"`` holding the ``KEPT_HEADERS`` the answer carried (a
    copy: the body itself is untouched)."""
    kept = {name: value for name in KEPT_HEADERS if (value := header(headers, name))}
    if not kept or not isinstance(parsed, dict):
        return parsed
    return {**parsed, "_headers": kept}


def _task_node(
    parsed: Any, headers: Mapping[str, str] | None, status_code: int | None
) -> dict[str, Any]:
    """The task object inside its wrappers; raises for an error envelope or a non-task."""
    node: Any = parsed
    for _depth in range(4):  # wrappers nest at most a couple of levels
        if not isinstance(node, dict) or _is_task(node):
            break
        found = _envelope(node)
        if found is not None:
            raise decode_error(_envelope_status(found[1], status_code), parsed, headers)
        inner = node.get("data")
        if not isinstance(inner, dict):
            break
        node = inner
    if not isinstance(node, dict) or not _is_task(node):
        raise APIConnectionError(
            f"the gateway answered with something that is not a video task: {quote(parsed)}"
        )
    return node


def _envelope_status(code: str | None, status_code: int | None) -> int:
    """The HTTP status an error envelope stands for: the real one when it is an error,
    else the one its ``code`` implies (new-api sends task errors under HTTP 200)."""
    if status_code and status_code >= 400:
        return status_code
    return _CODE_STATUS.get(code or "", status_code or 200)


def _status(status_text: str | None, progress: int | None) -> TaskStatus:
    """The task's status; an unknown word is logged once and read as still pending."""
    status = parse_status(status_text)
    if status is not None:
        return status
    if status_text is not None:
        _log_unknown(status_text)
    return TaskStatus.IN_PROGRESS if progress else TaskStatus.QUEUED


def decode_models(body: Any) -> list[str]:
    """Model ids from ``{"object":"list","data":[{"id":...}]}``, ``{"data":[...]}`` or a bare list.

    >>> decode_models({"object": "list", "data": [{"id": "kling-v1"}, {"id": "sora-2"}]})
    ['kling-v1', 'sora-2']
    """
    parsed = load_json(body)
    items: Any = parsed
    if isinstance(parsed, dict):
        items = parsed.get("data", parsed.get("models"))
    if not isinstance(items, list):
        raise APIConnectionError(
            f"the gateway answered with something that is not a model list: {quote(parsed)}"
        )
    names: list[str] = []
    for item in items:
        name = text_of(item.get("id") or item.get("name")) if isinstance(item, dict) else None
        if name is None and isinstance(item, str):
            name = text_of(item)
        if name is not None and name not in names:
            names.append(name)
    return names
