"""What a 2xx answer to a submit POST means: a task, a refusal, or an unknown outcome.

A gateway that answers a POST with success but sends no task id (a JSON list, a number,
``null``, ``{}``, an object without an id...) may still have created the task, and billed
it. Such an answer is never a plain failure: it is ``SubmitOutcomeUnknownError``, which the
journal records as ``submit_unknown`` (quoting a bounded excerpt of what came back) and
``run.retry_unknown()`` offers to resend with the same Idempotency-Key.
"""

from __future__ import annotations

from ..core.errors import APIError, SubmitOutcomeUnknownError
from ..core.task import Task
from ..core.text import shorten
from ..core.urls import redact_url
from ..dialects.decode import decode_task
from ..http.response import Response

__all__ = ["SUBMIT_QUOTE_CHARS", "submitted_task"]

#: characters of a submit answer quoted when no task id can be read from it
SUBMIT_QUOTE_CHARS = 300


def submitted_task(response: Response) -> Task:
    """The task a 2xx answer to a submit POST describes.

    An error envelope (a refusal under 200) raises its ``APIError``; an answer from which
    no task id can be read raises ``SubmitOutcomeUnknownError``.
    """
    try:
        return decode_task(response.json(), headers=response.headers, status_code=response.status)
    except (APIError, SubmitOutcomeUnknownError):
        raise
    except Exception as exc:  # any decode failure of a 2xx: what was made is unknown
        where = f"POST {redact_url(response.url)}" if response.url else "the submit POST"
        raise SubmitOutcomeUnknownError(
            f"{where}: the gateway answered {response.status} but no task id can be read "
            "from the answer, so it may have created (and billed) a task; it was NOT "
            "resubmitted automatically (run.retry_unknown() resends it with the same "
            f"Idempotency-Key). It said: {shorten(response.text, SUBMIT_QUOTE_CHARS)}",
            transient=False,
        ) from exc
