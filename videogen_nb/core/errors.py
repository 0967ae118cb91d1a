"""Exceptions raised by videogen-nb.

The tree::

    VideoGenError                       every error this package raises on purpose
    ├── ValidationError                 bad input, caught before any request is sent (.field)
    │   ├── SpendingGuardError          a run asks for more tasks than ``max_tasks`` allows
    │   │   └── BudgetExceededError     a launch (or the next submit) would spend past ``max_cost``
    │   └── NotSupportedError           the gateway's dialect has no such call (remix on unified)
    ├── APIError                        the gateway answered with an error (.status_code, .code, .message)
    │   ├── AuthenticationError         401 / 403
    │   ├── BadRequestError             400 / 404 / 422 (and other 4xx)
    │   ├── RateLimitError              429 (.retry_after)
    │   └── ServerError                 5xx
    ├── APIConnectionError              no usable answer: refused, reset, timed out, malformed
    │   │                               (.transient, .attempts)
    │   └── SubmitOutcomeUnknownError   a POST may have reached the gateway; not retried blindly
    ├── TaskFailedError                 the task ended failed or cancelled (.task)
    ├── TaskTimeoutError                the task did not finish before its deadline (.task)
    ├── IllegalTransitionError          a journal write tried a state move core.states forbids (a bug)
    ├── JournalConflictError            a journal write refused: another process holds the entry
    │   ├── LeaseLostError              the entry's lease passed to another run (.entry_id, .owner)
    │   └── TaskIdConflictError         a second task id for an entry that already has one (.entry_id)
    └── DownloadError                   the video could not be fetched or was refused (.url, .expired)
        ├── DownloadExpiredError        the video URL answered 403/404/410 (.status_code)
        └── DownloadTooSlowError        under the minimum throughput, or past the deadline (.limit)

Every message quotes the gateway verbatim (any language) and never contains the API key:
errors are built from response bodies, which the gateway controls, but the key only ever
lives in the ``Authorization`` header, which no error reads. Gateway text is kept as a
bounded excerpt (``core.excerpt``, 2,000 characters) that says when it was cut.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from .excerpt import CODE_LIMIT, excerpt

if TYPE_CHECKING:
    from .states import EntryState
    from .task import Task

__all__ = [
    "APIConnectionError",
    "APIError",
    "AuthenticationError",
    "BadRequestError",
    "BudgetExceededError",
    "DownloadError",
    "DownloadExpiredError",
    "DownloadTooSlowError",
    "IllegalTransitionError",
    "JournalConflictError",
    "LeaseLostError",
    "NotSupportedError",
    "RateLimitError",
    "ServerError",
    "SpendingGuardError",
    "SubmitOutcomeUnknownError",
    "TaskFailedError",
    "TaskIdConflictError",
    "TaskTimeoutError",
    "ValidationError",
    "VideoGenError",
    "api_error_for_status",
]


class VideoGenError(Exception):
    """Base class of every error raised by videogen-nb."""


class ValidationError(VideoGenError, ValueError):
    """An input is invalid; ``field`` names what to change. Raised before any HTTP request.

    >>> raise ValidationError("duration", "must be a positive whole number of seconds, got -5")
    Traceback (most recent call last):
    ...
    videogen_nb.core.errors.ValidationError: duration: must be a positive whole number of seconds, got -5
    """

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


class SpendingGuardError(ValidationError):
    """A run would launch more tasks than its ``max_tasks`` allows."""


class BudgetExceededError(SpendingGuardError):
    """Sending would spend past a ``max_cost`` limit; nothing was sent for what it refused.

    Raised before any request when a run's estimate is over what is left of the limit, and
    set as the error of each row a run stops sending once its costs reach the limit (tasks
    the gateway already accepted are still followed and downloaded). ``estimate`` is the
    money at stake (the run's estimate, or the next task's), ``limit`` the ``max_cost``,
    ``spent`` what was already spent or committed, ``currency`` their unit.
    """

    def __init__(
        self,
        message: str,
        *,
        estimate: float | None,
        limit: float,
        spent: float,
        currency: str = "USD",
    ) -> None:
        self.estimate = estimate
        self.limit = limit
        self.spent = spent
        self.currency = currency
        super().__init__("max_cost", message)


class NotSupportedError(ValidationError):
    """The dialect in use has no such call (``remix`` on the unified or kling dialect).

    A ``ValidationError``: it is raised before any request, and ``field`` names what to
    change (usually ``dialect``), so code that catches "refused before sending" catches it.
    """


class APIError(VideoGenError):
    """The gateway answered with an error status.

    ``message`` is the gateway's own text, unchanged up to 2,000 characters (a longer one
    is cut and says so); ``code`` its error code when it sent one; ``body`` the decoded (or
    raw text) response body for inspection.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        code: str | None = None,
        body: Any = None,
        request_id: str | None = None,
    ) -> None:
        self.message = excerpt(message)
        self.status_code = status_code
        self.code = None if code is None else excerpt(code, CODE_LIMIT)
        self.body = body
        self.request_id = None if request_id is None else excerpt(request_id, CODE_LIMIT)
        super().__init__(self._describe())

    def _describe(self) -> str:
        code = f" [{self.code}]" if self.code else ""
        return f"HTTP {self.status_code}{code}: {self.message}"


class AuthenticationError(APIError):
    """401 or 403: the key is missing, wrong, out of quota, or not allowed this model."""


class BadRequestError(APIError):
    """400, 404, 422 (and other 4xx): the gateway refused the request as sent."""


class RateLimitError(APIError):
    """429: too many requests. ``retry_after`` is the wait in seconds the gateway asked for."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        self.retry_after = retry_after
        super().__init__(message, **kwargs)


class ServerError(APIError):
    """5xx: the gateway or its upstream vendor failed."""


class APIConnectionError(VideoGenError):
    """No usable answer from the gateway: refused, reset, timed out, or an unreadable body.

    ``transient`` says whether trying again may help (a refusal may pass, a bad certificate
    will not); ``attempts`` is how many tries were made before giving up.

    >>> error = APIConnectionError("GET /v1/models: could not connect")
    >>> error.gave_up_after(3)
    >>> str(error), error.transient
    ('GET /v1/models: could not connect (gave up after 3 attempts)', True)
    """

    def __init__(self, message: str, *, transient: bool = True, attempts: int = 1) -> None:
        self.message = excerpt(message)
        self.transient = transient
        self.attempts = attempts
        super().__init__(self._describe())

    def _describe(self) -> str:
        if self.attempts <= 1:
            return self.message
        return f"{self.message} (gave up after {self.attempts} attempts)"

    def gave_up_after(self, attempts: int) -> None:
        """Record that ``attempts`` tries were made; the message then says so."""
        self.attempts = attempts
        self.args = (self._describe(),)


class SubmitOutcomeUnknownError(APIConnectionError):
    """A POST was sent but its answer was lost, so the gateway may have created (and billed) a task.

    It is never resubmitted automatically; ``run.retry_unknown()`` resubmits on request.
    """


class TaskFailedError(VideoGenError):
    """The task ended ``failed`` or ``cancelled``; ``task.error`` holds the gateway's reason."""

    def __init__(self, task: Task) -> None:
        self.task = task
        reason = excerpt(task.error) if task.error else "no reason given"
        super().__init__(f"task {task.id} {task.status.value}: {reason}")


class TaskTimeoutError(VideoGenError):
    """The task was still running at its deadline (the remote task may still finish)."""

    def __init__(self, task: Task, timeout: float) -> None:
        self.task = task
        self.timeout = timeout
        super().__init__(
            f"task {task.id} still {task.status.value} after {timeout:g} s; "
            "it may still finish: client.resume() or client.wait(task) picks it up later"
        )


class IllegalTransitionError(VideoGenError):
    """A journal write tried a state move ``core.states.TRANSITIONS`` forbids: a bug in the
    caller (the recorder), never a gateway's answer. Nothing was written."""

    def __init__(self, entry_id: int, old: EntryState, new: EntryState) -> None:
        super().__init__(f"journal entry {entry_id}: illegal state move {old.value} -> {new.value}")
        self.entry_id = entry_id
        self.old = old
        self.new = new


class JournalConflictError(VideoGenError):
    """A journal write was refused because it would undo what another run (or process)
    already recorded for the entry. Nothing was written."""

    def __init__(self, entry_id: int, message: str) -> None:
        super().__init__(f"journal entry {entry_id}: {message}")
        self.entry_id = entry_id


class LeaseLostError(JournalConflictError):
    """The entry now belongs to another run (a ``resume()`` took it over): this run must
    not send its POST, or it could pay twice."""

    def __init__(self, entry_id: int, owner: str | None, holder: str | None) -> None:
        super().__init__(
            entry_id, f"held by run {holder!r}, not by run {owner!r}; this run leaves it alone"
        )
        self.owner = owner
        self.holder = holder


class TaskIdConflictError(JournalConflictError):
    """A submit answered with a task id other than the one the journal already holds for
    the entry: the journal keeps the first (the gateway made it, and may bill it)."""

    def __init__(self, entry_id: int, kept: str, refused: str) -> None:
        super().__init__(
            entry_id,
            f"already has task {kept!r}; refused to replace it with task {refused!r} "
            "(a second submit of one entry: check the gateway for the extra task)",
        )
        self.kept = kept
        self.refused = refused


class DownloadError(VideoGenError):
    """The video could not be downloaded, or its body was refused (too big, not a video).

    ``expired`` is True only for ``DownloadExpiredError``.
    """

    #: True when the URL itself is no longer valid (a fresh one may work)
    expired: bool = False

    def __init__(self, message: str, *, url: str | None = None) -> None:
        self.url = url
        super().__init__(message)


class DownloadExpiredError(DownloadError):
    """The URL answered 403, 404 or 410: it expired or was never valid for us.

    The client re-reads the task for a fresh URL or falls back to
    ``/v1/videos/{id}/content``.
    """

    expired = True

    def __init__(self, message: str, *, url: str | None = None, status_code: int) -> None:
        self.status_code = status_code
        super().__init__(message, url=url)


class DownloadTooSlowError(DownloadError):
    """The transfer went under the minimum throughput, or past its overall deadline.

    ``limit`` says which: ``"throughput"`` (too few bytes over the last window) or
    ``"deadline"`` (the whole download took longer than its size allows). A trickling
    server would otherwise hold a download for good, since each chunk restarts the read
    timeout.
    """

    def __init__(
        self, message: str, *, url: str | None = None, limit: Literal["throughput", "deadline"]
    ) -> None:
        self.limit = limit
        super().__init__(message, url=url)


def api_error_for_status(
    status_code: int,
    message: str,
    *,
    code: str | None = None,
    body: Any = None,
    retry_after: float | None = None,
    request_id: str | None = None,
) -> APIError:
    """Build the ``APIError`` subclass that matches an HTTP status."""
    common: dict[str, Any] = {
        "status_code": status_code,
        "code": code,
        "body": body,
        "request_id": request_id,
    }
    if status_code == 429:
        return RateLimitError(message, retry_after=retry_after, **common)
    if status_code in (401, 403):
        return AuthenticationError(message, **common)
    if status_code >= 500:
        return ServerError(message, **common)
    if 400 <= status_code < 500:
        return BadRequestError(message, **common)
    return APIError(message, **common)
