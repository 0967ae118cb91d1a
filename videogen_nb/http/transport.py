"""HTTP plumbing under the client: one aiohttp session, auth, retries, error mapping.

``Transport.send`` makes one API call and returns a ``Response`` for any 2xx answer; every
other outcome becomes an exception from ``errors``:

- a non-2xx answer goes through ``error_decoder(status, body, headers)`` (the lead wires in
  ``dialects.decode.decode_error``; the built-in fallback quotes the raw text), so this
  module never knows a JSON field name;
- no answer at all becomes ``APIConnectionError``, except for a request that is not
  idempotent (a POST) and may have reached the server: that is ``SubmitOutcomeUnknownError``
  and it is never resent.

What is retried (jittered exponential backoff, ``Retry-After`` / ``openai-poll-after-ms``
honoured):

=============================================  ==============  ===================
failure                                        GET, DELETE...  POST
=============================================  ==============  ===================
refused, DNS, connect timeout (nothing sent)   retried         retried
reset / disconnect / timeout after sending     retried         SubmitOutcomeUnknown
429                                            retried [1]_    retried [1]_
5xx (not 501/505) decoded as ``ServerError``   retried         503 only
2xx with a body that is not JSON [2]_          retried         SubmitOutcomeUnknown
=============================================  ==============  ===================

.. [1] unless ``retry_rate_limits=False``, for a caller that paces itself on 429.
.. [2] only with ``expect_json=True``: a flaky proxy's HTML page is retried like a 502.

"Nothing sent" is known exactly, not guessed from exception types: an aiohttp trace hook
marks the moment the request headers are handed to the socket, and any failure before that
point (including waiting for a pooled connection) left nothing on the wire.

The session is created lazily on the event loop that first uses it, so a ``Transport`` can
be built anywhere (a notebook cell, a thread) and used later on the client's loop.

Its neighbours: ``core.urls`` (base URL, redaction, origins), ``response`` (the answer and
the fallback error decoder), ``failures`` (what went wrong, and whether to retry), ``form``
(multipart bodies), ``retry`` (the backoff policy), ``download`` (videos to disk),
``scrub`` (every answer is cleaned of the key where it enters), ``destinations`` (no request
into link-local or, from a public gateway, private networks; redirects included).
"""

from __future__ import annotations

import asyncio
import contextlib
import json as jsonlib
import logging
import math
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any

import aiohttp
import aiohttp.abc
from multidict import CIMultiDict

from ..core.errors import (
    APIConnectionError,
    ValidationError,
)
from ..core.loops import running_on
from ..core.urls import (
    allow_private_downloads_from_env,
    is_same_origin,
    normalize_base_url,
    redact_url,
)
from ..core.wire import IDEMPOTENCY_KEY_HEADER
from .destinations import DestinationGuard
from .failures import (
    AttemptFailure,
    DescribedError,
    chainable,
    describe_exception,
    first_line,
    is_transient,
    is_transient_exception,
)
from .form import FormPartLike, build_form
from .outcome import (
    IDEMPOTENT_METHODS,
    Call,
    Outcome,
    error_answer,
    no_answer,
    success,
)
from .response import (
    MAX_RESPONSE_BYTES,
    ErrorDecoder,
    Response,
    default_error_decoder,
    read_limited,
)
from .retry import RetryPolicy
from .scrub import Scrubber
from .session import DEFAULT_USER_AGENT, Secret, SendState, new_session, warn_if_cleartext

__all__ = [
    "DEFAULT_USER_AGENT",
    "MAX_RESPONSE_BYTES",
    "ErrorDecoder",
    "FormPartLike",
    "Response",
    "RetryCallback",
    "Transport",
    "default_error_decoder",
    "is_same_origin",
    "is_transient",
    "normalize_base_url",
    "redact_url",
]

logger = logging.getLogger("videogen_nb.transport")


RetryCallback = Callable[[int, float, Exception], None]
"""``(attempt, delay, error)``: called before each retry sleep; ``attempt`` is the retry number (1-based)."""


class Transport:
    """One gateway's HTTP connection: auth, retries, error mapping, streaming.

    >>> t = Transport("http://127.0.0.1:8000/v1", "sk-secret")
    >>> t.base_url, t.url_for("/v1/models")
    ('http://127.0.0.1:8000', 'http://127.0.0.1:8000/v1/models')
    >>> "sk-secret" in repr(t)
    False

    The ``Authorization: Bearer`` header goes only to URLs on the same origin as
    ``base_url`` (vendor CDNs never see the key; aiohttp also drops it on a redirect to
    another origin). Use it as ``async with Transport(...) as t:`` or call ``aclose()``.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        *,
        timeout: float = 60.0,
        connect_timeout: float = 10.0,
        retry: RetryPolicy | None = None,
        verify_ssl: bool = True,
        user_agent: str = DEFAULT_USER_AGENT,
        limit: int = 100,
        error_decoder: ErrorDecoder | None = None,
        on_retry: RetryCallback | None = None,
        allow_private_downloads: bool | None = None,
        resolver: aiohttp.abc.AbstractResolver | None = None,
    ) -> None:
        self.base_url = normalize_base_url(base_url)
        for name, value in (("timeout", timeout), ("connect_timeout", connect_timeout)):
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValidationError(name, f"must be a positive number of seconds, got {value!r}")
        if not isinstance(limit, int) or limit < 1:
            raise ValidationError("limit", f"must be a whole number >= 1, got {limit!r}")
        self._api_key = Secret(api_key) if api_key else None
        # every answer is cleaned of the key where it enters (see http/scrub.py)
        self._scrubber = Scrubber(api_key or None)
        self.timeout = float(timeout)
        self.connect_timeout = float(connect_timeout)
        self.retry = retry if retry is not None else RetryPolicy()
        self.verify_ssl = bool(verify_ssl)
        self.user_agent = user_agent
        self.limit = limit
        self.error_decoder: ErrorDecoder = error_decoder or default_error_decoder
        self.on_retry = on_retry
        # None: VIDEOGEN_ALLOW_PRIVATE_DOWNLOADS decides; resolver: for tests and odd networks
        self._resolver = resolver
        self._guard = DestinationGuard(
            self.base_url,
            allow_private=(
                allow_private_downloads_from_env()
                if allow_private_downloads is None
                else bool(allow_private_downloads)
            ),
            resolver=resolver,
        )
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False
        warn_if_cleartext(self.base_url, has_key=self._api_key is not None)

    def __repr__(self) -> str:
        return f"Transport(base_url={self.base_url!r})"

    def __reduce__(self) -> Any:
        raise TypeError("Transport holds a live session and a key; it cannot be pickled")

    async def __aenter__(self) -> Transport:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

    @property
    def has_api_key(self) -> bool:
        """True when a key was given (the key itself is never exposed)."""
        return self._api_key is not None

    @property
    def allow_private_downloads(self) -> bool:
        """Whether URLs on private networks (other hosts than the gateway) may be fetched
        while the gateway is public; link-local addresses are refused regardless."""
        return self._guard.allow_private

    @allow_private_downloads.setter
    def allow_private_downloads(self, value: bool) -> None:
        self._guard.allow_private = bool(value)

    @property
    def closed(self) -> bool:
        """True after ``aclose()``."""
        return self._closed

    # -- URLs and headers ---------------------------------------------------------------

    def url_for(self, path_or_url: str) -> str:
        """An absolute URL: absolute URLs pass through; ``/v1/...`` paths join ``base_url``.

        >>> Transport("https://h.example/api/v1", None).url_for("/v1/videos/x")
        'https://h.example/api/v1/videos/x'
        """
        text = path_or_url.strip()
        lowered = text.lower()
        if lowered.startswith(("http://", "https://")):
            return text
        if not text.startswith("/"):
            text = "/" + text
        return self.base_url + text

    def is_gateway_url(self, url: str) -> bool:
        """True when ``url`` (absolute or a path) is on the gateway's origin."""
        if url.startswith(self._base_prefix):
            return True  # the common case (every status poll), without parsing two URLs
        return is_same_origin(self.url_for(url), self.base_url)

    @property
    def _base_prefix(self) -> str:
        # "<base_url>/": a URL starting with it has the base's scheme, host and port
        return self.base_url + "/"

    def _headers(
        self,
        url: str,
        *,
        auth: bool | None,
        extra: Mapping[str, str] | None,
    ) -> CIMultiDict[str]:
        headers: CIMultiDict[str] = CIMultiDict()
        if extra:
            headers.update(extra)
        send_auth = self.is_gateway_url(url) if auth is None else auth
        if send_auth and self._api_key is not None:
            headers["Authorization"] = self._api_key.bearer()
        elif not send_auth:
            headers.popall("Authorization", None)
        return headers

    # -- session --------------------------------------------------------------------------

    def _get_session(self) -> aiohttp.ClientSession:
        if self._closed:
            raise APIConnectionError("this client is closed; create a new one")
        loop = asyncio.get_running_loop()
        if self._session is not None and self._loop is not loop:
            if self._loop is not None and not self._loop.is_closed() and self._loop.is_running():
                raise RuntimeError(
                    "this Transport's session belongs to another running event loop; "
                    "use the client from the loop that first used it (the blocking Client "
                    "does this for you)"
                )
            # the loop that owned it is gone (a second asyncio.run()): its sockets died with it
            self._session = None
        if self._session is None or self._session.closed:
            self._session = new_session(
                limit=self.limit,
                verify_ssl=self.verify_ssl,
                user_agent=self.user_agent,
                resolver=self._resolver,
            )
            self._loop = loop
        return self._session

    async def aclose(self) -> None:
        """Close the session (idempotent). Later calls raise ``APIConnectionError``."""
        self._closed = True
        session, self._session = self._session, None
        if session is None or session.closed:
            return
        if running_on(self._loop):
            await session.close()
        elif self._loop is not None and not self._loop.is_closed():
            fut = asyncio.run_coroutine_threadsafe(session.close(), self._loop)
            await asyncio.wrap_future(fut)

    # -- one call -----------------------------------------------------------------------

    async def send(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        form: Sequence[FormPartLike] | None = None,
        idempotency_key: str | None = None,
        retry: bool = True,
        extra_headers: Mapping[str, str] | None = None,
        retry_rate_limits: bool = True,
        expect_json: bool = False,
        idempotent: bool | None = None,
        timeout: float | None = None,
    ) -> Response:
        """Make one API call and return its 2xx ``Response``; raise the mapped error otherwise.

        ``json`` (any JSON value) or ``form`` (multipart parts) is the body.
        ``retry=False`` makes exactly one attempt. ``retry_rate_limits=False`` raises
        ``RateLimitError`` on the first 429 so the caller can pace itself.
        ``expect_json=True`` treats a 2xx body that is not JSON as a failed attempt.
        ``idempotent`` overrides the method's default (a POST cancel is safe to repeat).

        >>> # resp = await transport.send("GET", "/v1/models", expect_json=True)
        """
        call = self._prepare_call(
            method,
            path,
            json=json,
            form=form,
            idempotency_key=idempotency_key,
            extra_headers=extra_headers,
            idempotent=idempotent,
            attempts=self.retry.max_attempts if retry else 1,
            timeout=timeout,
        )
        attempt = 0
        while True:
            attempt += 1
            outcome = await self._try_once(call, expect_json, retry_rate_limits)
            if outcome.response is not None:
                return outcome.response
            assert outcome.error is not None
            if self._gives_up(call, outcome, attempt):
                if attempt > 1 and isinstance(outcome.error, APIConnectionError):
                    outcome.error.gave_up_after(attempt)
                raise outcome.error
            await self._pause_before_retry(call, outcome, attempt)

    def _prepare_call(
        self,
        method: str,
        path: str,
        *,
        json: Any,
        form: Sequence[FormPartLike] | None,
        idempotency_key: str | None,
        extra_headers: Mapping[str, str] | None,
        idempotent: bool | None,
        attempts: int,
        timeout: float | None,
    ) -> Call:
        """The URL, headers and encoded body, made once for every attempt of a ``send()``."""
        method = method.upper()
        if json is not None and form is not None:
            raise ValueError("send() takes json or form, not both")
        url = self.url_for(path)
        headers = self._headers(url, auth=None, extra=extra_headers)
        headers.setdefault("Accept", "application/json")
        if idempotency_key:
            headers[IDEMPOTENCY_KEY_HEADER] = idempotency_key
        body: bytes | None = None
        if json is not None:
            body = jsonlib.dumps(json, ensure_ascii=False, separators=(",", ":")).encode()
            headers["Content-Type"] = "application/json"
        return Call(
            method=method,
            url=url,
            headers=headers,
            body=body,
            form=form,
            idempotent=method in IDEMPOTENT_METHODS if idempotent is None else idempotent,
            attempts=attempts,
            timeout=timeout,
        )

    async def _try_once(self, call: Call, expect_json: bool, retry_rate_limits: bool) -> Outcome:
        """One attempt, read as a usable answer or a failure (raises when it must not retry)."""
        try:
            response = await self._attempt(call)
        except AttemptFailure as failure:
            return no_answer(call, failure)
        if response.ok:
            return success(call, response, expect_json)
        return error_answer(call, response, self.error_decoder, retry_rate_limits)

    def _gives_up(self, call: Call, outcome: Outcome, attempt: int) -> bool:
        """True when the failure is final, the attempts are spent or the server asks too long."""
        return (
            not outcome.retriable
            or attempt >= call.attempts
            or self.retry.exceeds_limit(outcome.server_wait)
        )

    async def _pause_before_retry(self, call: Call, outcome: Outcome, attempt: int) -> None:
        """Log the retry, tell ``on_retry``, and sleep the backoff delay."""
        assert outcome.error is not None
        delay = self.retry.delay(attempt, retry_after=outcome.server_wait)
        logger.info(
            "%s: %s; retry %d of %d in %.2f s",
            call.shown,
            first_line(outcome.reason or outcome.error),
            attempt,
            call.attempts - 1,
            delay,
        )
        if self.on_retry is not None:
            self.on_retry(attempt, delay, outcome.error)
        await asyncio.sleep(delay)

    async def _attempt(self, call: Call) -> Response:
        """One HTTP exchange; ``AttemptFailure`` when no complete answer came back."""
        session = self._get_session()
        state = SendState(redirect_check=self._guard.check)
        await self._guard.check(call.url)
        data: Any = call.body
        if call.form is not None:
            # FormData can be serialised only once: build it afresh for every attempt
            data = build_form(call.form)
        client_timeout = aiohttp.ClientTimeout(
            total=call.timeout or self.timeout, sock_connect=self.connect_timeout
        )
        try:
            async with session.request(
                call.method,
                call.url,
                headers=call.headers,
                data=data,
                timeout=client_timeout,
                trace_request_ctx=state,
            ) as resp:
                payload = await read_limited(resp, MAX_RESPONSE_BYTES)
                # the one door every gateway answer comes in by: no text past it holds the key
                return Response(
                    resp.status,
                    self._scrubber.headers(resp.headers),
                    self._scrubber.body(payload, resp.charset),
                    self._scrubber.text(str(resp.url)),
                )
        except asyncio.CancelledError:
            raise
        except APIConnectionError as exc:
            raise AttemptFailure(exc, sent=True, transient=False) from None
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            raise AttemptFailure(
                DescribedError(describe_exception(exc), exc),
                sent=state.headers_sent,
                transient=is_transient_exception(exc),
            ) from None

    # -- streaming ----------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def stream(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        auth: bool | None = None,
        read_timeout: float | None = None,
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """Open a GET whose body the caller reads incrementally (``download`` uses it).

        Yields the aiohttp response with any status; the caller checks it. The bearer key
        is sent only when ``url`` is on the gateway's origin, unless ``auth`` says
        otherwise. ``read_timeout`` bounds each wait for data (default: ``timeout``), not
        the whole transfer. A failure to connect raises ``APIConnectionError``; errors
        while reading the body are aiohttp's own, for the caller to resume from.
        """
        full = self.url_for(url)
        request_headers = self._headers(full, auth=auth, extra=headers)
        session = self._get_session()
        await self._guard.check(full)
        client_timeout = aiohttp.ClientTimeout(
            total=None,
            sock_connect=self.connect_timeout,
            sock_read=read_timeout or self.timeout,
        )
        try:
            cm = session.get(
                full,
                headers=request_headers,
                timeout=client_timeout,
                trace_request_ctx=SendState(redirect_check=self._guard.check),
            )
            resp = await cm.__aenter__()
        except asyncio.CancelledError:
            raise
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            # read by is_transient(): a bad certificate is not worth a retry, a refusal is
            raise APIConnectionError(
                f"GET {redact_url(full)}: {describe_exception(exc)}",
                transient=is_transient_exception(exc),
            ) from chainable(exc)
        try:
            yield resp
        except BaseException:
            # drop the connection: a half-read body must not go back to the pool
            resp.close()
            raise
        finally:
            await cm.__aexit__(None, None, None)
