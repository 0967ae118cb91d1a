"""The package's rules for gateway URLs: the one base-URL normaliser, redaction, origins.

A gateway is known by its root URL: ``https://gw.example`` and ``https://GW.example/v1/``
are the same gateway, because every route adds ``/v1/...`` itself. The transport builds
request URLs from that root and the journal keys its entries by it, so both read a base URL
through :func:`gateway_root` and cannot disagree about ``/v1``, trailing slashes or the case
of the host.

>>> gateway_root("HTTPS://user:secret@API.Example.com/v1/?key=x")
'https://api.example.com'
>>> redact_url("https://cdn.example/v.mp4?X-Amz-Signature=abc")
'https://cdn.example/v.mp4?…'
"""

from __future__ import annotations

import ipaddress
import os

from yarl import URL

from .errors import ValidationError
from .wire import API_PREFIX

__all__ = [
    "ALLOW_PRIVATE_DOWNLOADS_ENV",
    "METADATA_HOSTNAMES",
    "address_risk",
    "allow_private_downloads_from_env",
    "gateway_root",
    "host_risk",
    "is_loopback_host",
    "is_same_origin",
    "normalize_base_url",
    "redact_url",
    "refusal_message",
]


def redact_url(url: str) -> str:
    """``url`` without its query string and credentials, for logs and error messages.

    Signed CDN and gateway artifact URLs carry access tokens in the query.
    """
    try:
        parsed = URL(url)
        cleaned = parsed.with_query(None).with_fragment(None)
        if parsed.absolute:
            cleaned = cleaned.with_user(None)
    except (TypeError, ValueError):
        return "<unparseable URL>"
    suffix = "?…" if parsed.raw_query_string else ""
    return f"{cleaned}{suffix}"


def _strip_api_prefix(path: str) -> str:
    path = path.rstrip("/")
    if path.endswith(API_PREFIX):
        path = path[: -len(API_PREFIX)].rstrip("/")
    return path


def gateway_root(url: str) -> str:
    """The gateway's identity: scheme and host in lower case, no credentials, query,
    fragment, trailing slash or trailing ``/v1``; another path prefix (``/api``) is kept.

    It never raises: text that is not a URL with a host is cleaned the same way as far as
    it goes (and never keeps anything that looks like credentials).

    >>> gateway_root("http://h:1/api/v1/"), gateway_root("user:secret@host:1/x/")
    ('http://h:1/api', 'host:1/x')
    """
    text = str(url).strip()
    try:
        parsed = URL(text)
        host = parsed.host
    except (TypeError, ValueError):
        host = None
    if not host:
        bare = text.split("?", 1)[0].split("#", 1)[0].rsplit("@", 1)[-1]
        return _strip_api_prefix(bare)
    origin = parsed.with_user(None).with_path("/", encoded=True)  # also drops query, fragment
    return str(origin).rstrip("/") + _strip_api_prefix(parsed.raw_path)


def normalize_base_url(base_url: str) -> str:
    """:func:`gateway_root` of a ``base_url`` a user passed, after checking it is usable.

    Raises ``ValidationError("base_url", ...)`` for an empty value, a scheme other than
    http(s), no host, credentials in the URL, a query or a fragment.

    >>> normalize_base_url("http://127.0.0.1:8000/v1/")
    'http://127.0.0.1:8000'
    >>> normalize_base_url("https://h.example/api/v1")
    'https://h.example/api'
    """
    if not isinstance(base_url, str) or not base_url.strip():
        raise ValidationError(
            "base_url", "is empty; pass the gateway address, e.g. https://gateway.example"
        )
    text = base_url.strip()
    try:
        url = URL(text)
    except (TypeError, ValueError) as exc:
        raise ValidationError("base_url", f"is not a URL: {text!r} ({exc})") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise ValidationError(
            "base_url",
            f"must start with http:// or https:// and name a host, got {redact_url(text)!r}",
        )
    if url.user is not None or url.password is not None:
        # never echo the URL here: its userinfo is a credential
        raise ValidationError("base_url", "must not contain user:password@; pass api_key instead")
    if url.query_string or url.fragment:
        raise ValidationError(
            "base_url", f"must not have a query or fragment, got {redact_url(text)!r}"
        )
    return gateway_root(text)


def _origin(url: str) -> tuple[str, str, int | None] | None:
    try:
        parsed = URL(url)
    except (TypeError, ValueError):
        return None
    if not parsed.host:
        return None
    # URL.port fills in the scheme's default port, so ":443" and "" compare equal
    return (parsed.scheme.lower(), parsed.host.lower().rstrip("."), parsed.port)


def is_same_origin(a: str, b: str) -> bool:
    """True when both URLs share scheme, host and port (default ports included).

    >>> is_same_origin("https://h.example/v1/x", "https://H.example:443/")
    True
    >>> is_same_origin("https://h.example", "http://h.example")
    False
    """
    left, right = _origin(a), _origin(b)
    return left is not None and left == right


def is_loopback_host(host: str | None) -> bool:
    """True for ``localhost``, ``*.localhost`` and loopback IP addresses (IPv4 or IPv6)."""
    if not host:
        return False
    name = host.strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


# -- where a download may go ------------------------------------------------------------
#
# A gateway names the URL its video is at, and the toolkit GETs it (no key goes along, but
# the request happens). A hostile or confused gateway could point that GET at the cloud
# metadata service (169.254.169.254) or at the user's private network. So a URL on another
# host than the gateway is refused when it lands in a link-local range (always), and in a
# private range when the gateway itself is on the public internet (a gateway on a private
# network has its CDN there too, so that case stays allowed). The rules are pure: the
# transport resolves the names and passes the addresses in.

#: set to 1/true/yes to allow downloads (and ``<video src>``) into private networks
ALLOW_PRIVATE_DOWNLOADS_ENV = "VIDEOGEN_ALLOW_PRIVATE_DOWNLOADS"

#: names of cloud metadata services, refused like the link-local range they live in
METADATA_HOSTNAMES = frozenset(
    {
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "metadata.azure.internal",
        "instance-data",
        "instance-data.ec2.internal",
    }
)

#: metadata services outside 169.254/16 (Alibaba Cloud's; AWS's IPv6 one is in fc00::/7)
_METADATA_ADDRESSES = frozenset(
    {ipaddress.ip_address("100.100.100.200"), ipaddress.ip_address("fd00:ec2::254")}
)
#: carrier-grade NAT space: not "private" to Python, but not the public internet either
_SHARED_SPACE = ipaddress.ip_network("100.64.0.0/10")


def allow_private_downloads_from_env() -> bool:
    """True when ``VIDEOGEN_ALLOW_PRIVATE_DOWNLOADS`` is set to 1, true or yes."""
    value = os.environ.get(ALLOW_PRIVATE_DOWNLOADS_ENV, "")
    return value.strip().lower() in ("1", "true", "yes", "on")


def address_risk(address: str) -> str | None:
    """``"link-local"``, ``"private"`` or None (public) for an IP address.

    Link-local covers 169.254/16, fe80::/10 and the metadata addresses; private covers
    10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7, loopback and the unspecified address
    (``0.0.0.0`` reaches this machine). An IPv4 address inside IPv6 (``::ffff:a.b.c.d``) is
    judged as the IPv4 one.

    >>> address_risk("169.254.169.254"), address_risk("::ffff:10.0.0.1"), address_risk("8.8.8.8")
    ('link-local', 'private', None)
    """
    try:
        ip = ipaddress.ip_address(address.strip("[]").split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is not None:
            ip = embedded
    if ip.is_link_local or ip in _METADATA_ADDRESSES:
        return "link-local"
    if (
        ip.is_private
        or ip.is_loopback
        or ip.is_unspecified
        or (isinstance(ip, ipaddress.IPv4Address) and ip in _SHARED_SPACE)
    ):
        return "private"
    return None


def host_risk(host: str | None) -> str | None:
    """:func:`address_risk` of a host written as an IP address or a known local name
    (``localhost``, a metadata service name); None for any other name (resolve it first).

    >>> host_risk("metadata.google.internal"), host_risk("localhost"), host_risk("cdn.example")
    ('link-local', 'private', None)
    """
    if not host:
        return None
    name = host.strip("[]").lower().rstrip(".")
    if name in METADATA_HOSTNAMES:
        return "link-local"
    if is_loopback_host(name):
        return "private"
    return address_risk(name)


def refusal_message(url: str, risk: str, address: str | None = None) -> str:
    """Why a download from ``url`` was refused, naming its host and the setting to allow it."""
    try:
        host = URL(url).host or "?"
    except (TypeError, ValueError):
        host = "?"
    where = f"{host} ({address})" if address and address != host else host
    if risk == "link-local":
        return (
            f"refused to download {redact_url(url)}: {where} is a link-local address "
            "(the range of cloud metadata services), on another host than the gateway; "
            "such downloads are never made"
        )
    return (
        f"refused to download {redact_url(url)}: {where} is on a private network, on "
        "another host than the gateway, which is on the public internet; to allow it pass "
        f"allow_private_downloads=True to the client or set {ALLOW_PRIVATE_DOWNLOADS_ENV}=1"
    )
