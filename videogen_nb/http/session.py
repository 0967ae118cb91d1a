"""The aiohttp session a ``Transport`` uses, and the small values around it: the API key
holder that never shows the key, and the per-attempt flag that tells whether the request
left for the socket (a POST that did may have created a task)."""

from __future__ import annotations

import logging
import os
import types
import urllib.request
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import aiohttp.abc
import attrs
from yarl import URL

from ..core.urls import is_loopback_host

__all__ = [
    "DEFAULT_USER_AGENT",
    "RedactedStr",
    "RedirectCheck",
    "Secret",
    "SendState",
    "environment_has_proxy_or_netrc",
    "new_session",
    "warn_if_cleartext",
]

logger = logging.getLogger("videogen_nb.transport")


def _package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("videogen-nb")
    except PackageNotFoundError:
        return "0.1.0"


DEFAULT_USER_AGENT = f"videogen-nb/{_package_version()}"

_WARNED_CLEARTEXT: set[str] = set()


def warn_if_cleartext(base_url: str, *, has_key: bool) -> None:
    """Log once per gateway when a key would travel over plain http:// to another machine."""
    url = URL(base_url)
    if url.scheme != "http" or not has_key or is_loopback_host(url.host):
        return
    if base_url not in _WARNED_CLEARTEXT:
        _WARNED_CLEARTEXT.add(base_url)
        logger.warning(
            "base_url %s uses plain http:// to a non-local host: the API key "
            "travels unencrypted; use https:// if the gateway offers it",
            base_url,
        )


class RedactedStr(str):
    """A header value that holds a secret: the text itself on the wire, ``'<redacted>'``
    in every repr.

    The ``Authorization`` header travels through our frames and aiohttp's as this type (a
    ``CIMultiDict`` keeps the object and shows its repr), so a traceback that prints frame
    locals (``%xmode Verbose``, rich's ``show_locals``, Sentry) never shows the key.
    ``str()`` is left alone on purpose: aiohttp calls it to write the header.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return "'<redacted>'"

    def __reduce__(self) -> Any:
        raise TypeError("a secret header value is not picklable")


class Secret:
    """Holds the API key; its repr never shows it and it cannot be pickled."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The key itself, for the ``Authorization`` header only."""
        return self._value

    def bearer(self) -> RedactedStr:
        """``Bearer <key>`` as a :class:`RedactedStr`: no plain string with the key is left in
        any frame that makes a request."""
        return RedactedStr("Bearer " + self._value)

    def __repr__(self) -> str:
        return "<redacted>"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("the API key is not picklable")


RedirectCheck = Callable[[str], Awaitable[None]]
"""``check(url)``: awaited before a redirect is followed; raises to refuse the next hop."""


@attrs.define
class SendState:
    """Per-request values the trace hooks read: ``headers_sent`` is set once the request
    headers leave for the socket; ``redirect_check`` vets every redirect target."""

    headers_sent: bool = False
    redirect_check: RedirectCheck | None = None


async def _on_headers_sent(
    _session: aiohttp.ClientSession,
    ctx: types.SimpleNamespace,
    _params: aiohttp.TraceRequestHeadersSentParams,
) -> None:
    state = getattr(ctx, "trace_request_ctx", None)
    if isinstance(state, SendState):
        state.headers_sent = True


async def _on_redirect(
    _session: aiohttp.ClientSession,
    ctx: types.SimpleNamespace,
    params: aiohttp.TraceRequestRedirectParams,
) -> None:
    state = getattr(ctx, "trace_request_ctx", None)
    if not isinstance(state, SendState) or state.redirect_check is None:
        return
    location = params.response.headers.get("Location")
    if not location:
        return
    try:
        target = str(params.response.url.join(URL(location)))
    except ValueError:
        return  # aiohttp refuses a Location it cannot read
    try:
        await state.redirect_check(target)
    except BaseException:
        params.response.close()
        raise


def environment_has_proxy_or_netrc() -> bool:
    """True when HTTP(S)_PROXY-style variables or a ``.netrc`` file exist."""
    netrc = os.environ.get("NETRC") or os.path.join(os.path.expanduser("~"), ".netrc")
    return bool(urllib.request.getproxies()) or os.path.isfile(netrc)


def new_session(
    *,
    limit: int,
    verify_ssl: bool,
    user_agent: str,
    resolver: aiohttp.abc.AbstractResolver | None = None,
) -> aiohttp.ClientSession:
    """A session on the running loop: no cookies, the trace hooks that read ``SendState``
    (pass one as ``trace_request_ctx``), and the environment's proxy only when there is one."""
    trace = aiohttp.TraceConfig()
    trace.on_request_headers_sent.append(_on_headers_sent)
    trace.on_request_redirect.append(_on_redirect)
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=limit, ssl=verify_ssl, resolver=resolver),
        headers={"User-Agent": user_agent},
        cookie_jar=aiohttp.DummyCookieJar(),
        trace_configs=[trace],
        # HTTP(S)_PROXY and .netrc, as notebook users behind proxies expect; only when
        # there is one, since aiohttp otherwise looks both up on a worker thread for
        # every request (measured: 0.33 ms of CPU per GET instead of 0.07 ms)
        trust_env=environment_has_proxy_or_netrc(),
    )
