"""What went wrong in one attempt, in words a notebook user can act on, and whether a retry
may help. No aiohttp error is ever shown or chained as is: some carry our request headers."""

from __future__ import annotations

import asyncio

import aiohttp

from ..core.errors import APIConnectionError
from ..core.text import shorten

__all__ = [
    "AttemptFailure",
    "DescribedError",
    "chainable",
    "describe_exception",
    "first_line",
    "is_transient",
    "is_transient_exception",
]


class AttemptFailure(Exception):
    """An attempt that got no usable answer; carries what the retry loop needs to decide.

    ``sent`` is True once the request headers reached the socket (the server may have acted
    on it); ``transient`` whether trying again may help.
    """

    def __init__(self, error: Exception, *, sent: bool, transient: bool) -> None:
        super().__init__(str(error))
        self.error = error
        self.sent = sent
        self.transient = transient


class DescribedError(Exception):
    """A plain-text description of an aiohttp failure, keeping the original for chaining."""

    def __init__(self, text: str, original: BaseException) -> None:
        super().__init__(text)
        self.original = original


def describe_exception(exc: BaseException) -> str:
    """A one-line, header-free account of an aiohttp or socket failure."""
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return f"TLS certificate check failed ({exc.certificate_error})"
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return f"host name could not be resolved ({exc.os_error})"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"could not connect ({exc.os_error})"
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return "timed out while connecting"
    if isinstance(exc, aiohttp.SocketTimeoutError):
        return "timed out waiting for the answer"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "the server closed the connection without answering"
    if isinstance(exc, asyncio.TimeoutError):
        return "timed out"
    if isinstance(exc, aiohttp.ClientPayloadError):
        return f"the answer was cut off ({exc})"
    if isinstance(exc, aiohttp.ClientOSError):
        return f"connection error ({exc.strerror or exc})"
    # ClientResponseError carries request_info (with our headers): use only its text
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"


def is_transient(exc: BaseException) -> bool:
    """True when a failure of ``Transport.stream`` (or an aiohttp error while reading) may pass.

    Connection refusals, resets and timeouts are transient; a bad certificate, a bad URL or
    a redirect loop is not.
    """
    if isinstance(exc, APIConnectionError):
        return exc.transient
    return is_transient_exception(exc)


def is_transient_exception(exc: BaseException) -> bool:
    """Connection trouble a retry can fix (not a bad certificate, URL or redirect loop)."""
    if isinstance(
        exc,
        (
            aiohttp.ClientConnectorCertificateError,
            aiohttp.ClientConnectorSSLError,
            aiohttp.InvalidURL,
            aiohttp.TooManyRedirects,
        ),
    ):
        return False
    return isinstance(exc, (aiohttp.ClientError, asyncio.TimeoutError, OSError))


def chainable(exc: BaseException) -> BaseException | None:
    """What to chain as ``__cause__``: never an aiohttp error that holds our request headers."""
    original = exc.original if isinstance(exc, DescribedError) else exc
    if isinstance(original, aiohttp.ClientResponseError):
        return None
    return original


def first_line(error: BaseException) -> str:
    """The first line of ``error``'s message (its type name when empty), for a log line."""
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    return shorten(text, 200)
