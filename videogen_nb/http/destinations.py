"""Where a request may go: no GET into link-local or (from a public gateway) private networks.

The gateway names the URLs its videos are at, and the toolkit fetches them. The key never
goes to another host, but the request does: a hostile gateway could aim it at the cloud
metadata service (``http://169.254.169.254/...``) or at hosts on the user's network. The
:class:`DestinationGuard` vets every URL on another host than the gateway's, before the
connection and again before each redirect is followed, by the rules of ``core.urls``:

- a link-local address (169.254/16, fe80::/10, metadata names and addresses): always refused;
- a private address (10/8, 172.16/12, 192.168/16, fc00::/7, loopback, ...): refused while
  the gateway itself is on the public internet, unless ``allow_private`` (the client's
  ``allow_private_downloads=True``, or ``VIDEOGEN_ALLOW_PRIVATE_DOWNLOADS=1``).

Names are resolved first (a public name pointing at 169.254.169.254 is refused too), with
the same resolver the session connects through. Any address of a name being risky refuses
it. The gateway's own host is always allowed, whatever its address.
"""

from __future__ import annotations

import ipaddress
import socket

import aiohttp
import aiohttp.abc
from yarl import URL

from ..core.errors import DownloadError
from ..core.urls import address_risk, host_risk, refusal_message

__all__ = ["DestinationGuard"]

_SEVERITY = {None: 0, "private": 1, "link-local": 2}


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return False
    return True


class DestinationGuard:
    """Refuses requests to risky hosts other than the gateway's (see the module docstring)."""

    def __init__(
        self,
        gateway_url: str,
        *,
        allow_private: bool,
        resolver: aiohttp.abc.AbstractResolver | None = None,
    ) -> None:
        gateway = URL(gateway_url)
        self.gateway_host = (gateway.host or "").lower().rstrip(".")
        self._gateway_port = gateway.port
        self.allow_private = allow_private
        self.resolver = resolver
        self._gateway_private: bool | None = None
        # "<gateway URL>/": a URL starting with it is on the gateway's host (every status
        # poll), answered without parsing it
        bare = gateway.with_query(None).with_fragment(None)
        self._gateway_prefix = str(bare).rstrip("/") + "/" if self.gateway_host else None

    def __repr__(self) -> str:
        return f"DestinationGuard({self.gateway_host!r}, allow_private={self.allow_private})"

    async def check(self, url: str) -> None:
        """Return when ``url`` may be fetched; raise ``DownloadError`` saying why not."""
        if self._gateway_prefix is not None and url.startswith(self._gateway_prefix):
            return
        try:
            target = URL(url)
        except ValueError:
            return  # aiohttp refuses it with its own message
        host = (target.host or "").lower().rstrip(".")
        if not host or host == self.gateway_host:
            return
        risk, address = await self._risk_of(host, target.port)
        if risk is None:
            return
        if risk == "private" and (self.allow_private or await self.gateway_is_private()):
            return
        raise DownloadError(refusal_message(url, risk, address), url=url)

    async def gateway_is_private(self) -> bool:
        """True when the gateway's own host is on a private or loopback network (cached)."""
        if self._gateway_private is None:
            risk, _ = await self._risk_of(self.gateway_host, self._gateway_port)
            self._gateway_private = risk is not None
        return self._gateway_private

    async def _risk_of(self, host: str, port: int | None) -> tuple[str | None, str | None]:
        """The worst risk among ``host``'s addresses, and that address (None: all public)."""
        known = host_risk(host)
        if known is not None or _is_ip(host):
            return known, None
        worst: tuple[str | None, str | None] = (None, None)
        for address in await self._resolve(host, port or 443):
            risk = address_risk(address)
            if _SEVERITY[risk] > _SEVERITY[worst[0]]:
                worst = (risk, address)
        return worst

    async def _resolve(self, host: str, port: int) -> list[str]:
        """Every address ``host`` resolves to; none when it does not resolve (the connection
        attempt then fails with the resolver's own error)."""
        resolver = self.resolver or aiohttp.ThreadedResolver()
        try:
            found = await resolver.resolve(host, port, family=socket.AF_UNSPEC)
        except OSError:
            return []
        finally:
            if self.resolver is None:
                await resolver.close()
        return [str(entry["host"]) for entry in found]
