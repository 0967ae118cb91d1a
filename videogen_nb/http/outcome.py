"""What one attempt of ``Transport.send`` came to, and whether the loop may try again.

``send()`` prepares a :class:`Call` once, then reads each attempt through one of
:func:`no_answer`, :func:`success` or :func:`error_answer` into an :class:`Outcome`. The
rules of the module docstring of ``transport`` live here: a POST whose outcome is unknown
raises ``SubmitOutcomeUnknownError`` at once, never reaching the retry loop.
"""

from __future__ import annotations

import contextlib
import json as jsonlib
from collections.abc import Sequence
from typing import Any

import attrs
from multidict import CIMultiDict

from ..core.errors import (
    APIConnectionError,
    APIError,
    RateLimitError,
    ServerError,
    SubmitOutcomeUnknownError,
)
from ..core.text import shorten
from ..core.urls import redact_url
from .failures import AttemptFailure, chainable
from .form import FormPartLike
from .response import ErrorDecoder, Response, server_wait

__all__ = [
    "IDEMPOTENT_METHODS",
    "Call",
    "Outcome",
    "decode_error",
    "error_answer",
    "no_answer",
    "status_is_retriable",
    "success",
]

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
# 501 Not Implemented and 505 HTTP Version Not Supported will not change on a retry
_PERMANENT_5XX = frozenset({501, 505})
#: answers to a POST that say nothing about whether the upstream received it
_PROXY_TIMEOUT_STATUSES = frozenset({502, 504})
#: how much of a server's text an error message quotes
_QUOTE_CHARS = 500


@attrs.define(frozen=True, kw_only=True)
class Call:
    """One ``send()`` as prepared once and attempted up to ``attempts`` times."""

    method: str
    url: str
    headers: CIMultiDict[str]
    body: bytes | None
    form: Sequence[FormPartLike] | None
    idempotent: bool
    attempts: int
    timeout: float | None

    @property
    def shown(self) -> str:
        """``"POST https://gw/v1/..."`` without query or credentials, for messages."""
        return f"{self.method} {redact_url(self.url)}"


@attrs.define(frozen=True, kw_only=True)
class Outcome:
    """What one attempt gave: a usable ``response``, or an ``error`` and whether to retry."""

    response: Response | None = None
    error: Exception | None = None
    #: what the retry log names as the cause (the aiohttp failure, or the error itself)
    reason: BaseException | None = None
    retriable: bool = False
    #: the wait the server asked for (Retry-After, openai-poll-after-ms), if any
    server_wait: float | None = None


def no_answer(call: Call, failure: AttemptFailure) -> Outcome:
    """No answer at all: a connection error, or an unknown outcome for a sent POST."""
    if failure.sent and not call.idempotent:
        raise SubmitOutcomeUnknownError(
            f"{call.shown}: {failure.error}. The request was sent but its answer was "
            "lost, so the gateway may have created (and billed) the task; it was "
            "NOT resubmitted automatically.",
            transient=failure.transient,
        ) from chainable(failure.error)
    error = APIConnectionError(f"{call.shown}: {failure.error}", transient=failure.transient)
    error.__cause__ = chainable(failure.error)
    return Outcome(error=error, reason=failure.error, retriable=failure.transient)


def success(call: Call, response: Response, expect_json: bool) -> Outcome:
    """A 2xx answer; with ``expect_json`` a body that is not JSON counts as a failure."""
    if not expect_json:
        return Outcome(response=response)
    try:
        response.json()
    except APIConnectionError as exc:
        if not call.idempotent:
            raise SubmitOutcomeUnknownError(
                f"{call.shown}: the gateway answered {response.status} but the body "
                f"is not JSON, so the task id is unknown and the gateway may have "
                f"created the task; it was NOT resubmitted automatically. {exc}"
            ) from None
        return Outcome(error=exc, reason=exc, retriable=True)
    return Outcome(response=response)


def error_answer(
    call: Call, response: Response, decoder: ErrorDecoder, retry_rate_limits: bool
) -> Outcome:
    """A non-2xx answer, decoded into its ``APIError``."""
    if not call.idempotent and response.status in _PROXY_TIMEOUT_STATUSES:
        # A proxy that timed out waiting for the upstream cannot say whether the
        # upstream created the task before it gave up.
        raise SubmitOutcomeUnknownError(
            f"{call.shown}: HTTP {response.status} from a proxy between you and the "
            "gateway, so the gateway may have created (and billed) the task; it was "
            f"NOT resubmitted automatically. It said: {shorten(response.text, _QUOTE_CHARS)}"
        )
    error = decode_error(response, decoder)
    wait = server_wait(response.headers)
    if isinstance(error, RateLimitError) and error.retry_after is None:
        # the decoder read the body; the headers may still name the wait
        error.retry_after = wait
    retriable = status_is_retriable(response.status, error, call.idempotent, retry_rate_limits)
    return Outcome(error=error, reason=error, retriable=retriable, server_wait=wait)


def decode_error(response: Response, decoder: ErrorDecoder) -> APIError:
    """The ``APIError`` ``decoder`` reads from a non-2xx answer (JSON body when it parses)."""
    body: Any = response.text
    with contextlib.suppress(ValueError, UnicodeDecodeError):
        body = jsonlib.loads(response.body)
    error = decoder(response.status, body, response.headers)
    if not isinstance(error, APIError):
        raise TypeError(f"error_decoder returned {type(error).__name__}, not an APIError")
    return error


def status_is_retriable(
    status: int, error: APIError, idempotent: bool, retry_rate_limits: bool
) -> bool:
    if status == 429:
        return retry_rate_limits and isinstance(error, RateLimitError)
    # the decoder gets the last word: a 503 it reads as a permanent answer (say
    # "model_not_found") comes back as a non-ServerError and is not retried
    if not isinstance(error, ServerError):
        return False
    if idempotent:
        return status >= 500 and status not in _PERMANENT_5XX
    # a 503 to a POST is the gateway refusing before doing anything
    return status == 503
