"""The aiohttp session a ``Transport`` uses, and the small values around it: the API key
holder that never shows the key, and the per-attempt flag that tells whether the request
left for the socket (a POST that did may have created a task)."""

from __future__ import annotations

import os
import types
import urllib.request
from typing import Any

import aiohttp
import attrs

__all__ = ["Secret", "SendState", "environment_has_proxy_or_netrc", "new_session"]


class Secret:
    """Holds the API key; its repr never shows it and it cannot be pickled."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The key itself, for the ``Authorization`` header only."""
        return self._value

    def __repr__(self) -> str:
        return "<redacted>"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("the API key is not picklable")


@attrs.define
class SendState:
    """Per-attempt flag set by the trace hook once request headers leave for the socket."""

    headers_sent: bool = False


async def _on_headers_sent(
    _session: aiohttp.ClientSession,
    ctx: types.SimpleNamespace,
    _params: aiohttp.TraceRequestHeadersSentParams,
) -> None:
    state = getattr(ctx, "trace_request_ctx", None)
    if isinstance(state, SendState):
        state.headers_sent = True


def environment_has_proxy_or_netrc() -> bool:
    """True when HTTP(S)_PROXY-style variables or a ``.netrc`` file exist."""
    netrc = os.environ.get("NETRC") or os.path.join(os.path.expanduser("~"), ".netrc")
    return bool(urllib.request.getproxies()) or os.path.isfile(netrc)


def new_session(*, limit: int, verify_ssl: bool, user_agent: str) -> aiohttp.ClientSession:
    """A session on the running loop: no cookies, the trace hook that fills ``SendState``
    (pass one as ``trace_request_ctx``), and the environment's proxy only when there is one."""
    trace = aiohttp.TraceConfig()
    trace.on_request_headers_sent.append(_on_headers_sent)
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=limit, ssl=verify_ssl),
        headers={"User-Agent": user_agent},
        cookie_jar=aiohttp.DummyCookieJar(),
        trace_configs=[trace],
        # HTTP(S)_PROXY and .netrc, as notebook users behind proxies expect; only when
        # there is one, since aiohttp otherwise looks both up on a worker thread for
        # every request (measured: 0.33 ms of CPU per GET instead of 0.07 ms)
        trust_env=environment_has_proxy_or_netrc(),
    )
