"""Fault modes: when each fires, and what the broken answer looks like.

Request faults are armed with a count (the next N matching requests) and/or a rate (a
fraction of matching requests, drawn from an RNG seeded by the sandbox ``seed`` and the
request's ordinal, so a test run repeats exactly). The answers copy what real gateways and
the proxies in front of them send: JSON errors in several languages, an nginx HTML page
for a 502, ``Retry-After`` as seconds or as an HTTP date, an S3-style 403 for an expired URL.
"""

from __future__ import annotations

import email.utils
import hashlib
import json
import math
import random
import time
from collections import Counter
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .behaviour import Behaviour

__all__ = [
    "FaultBook",
    "expired_url_body",
    "malformed_body",
    "rate_limit_answer",
    "server_error_answer",
]

_REQUEST_FAULTS = ("rate_limit", "server_error", "reset", "drop_after_accept", "malformed")

# Which methods a fault can hit regardless of its `*_on` knob.
_FIXED_SCOPE = {"reset": "get", "drop_after_accept": "post"}


class FaultBook:
    """Remaining counts, rate draws and how often each fault fired."""

    def __init__(self) -> None:
        self.remaining: dict[str, int] = dict.fromkeys(_REQUEST_FAULTS, 0)
        self.checks: Counter[str] = Counter()
        self.fired: Counter[str] = Counter()

    def arm(self, behaviour: Behaviour, changed: Iterable[str]) -> None:
        """Reset the counts of the faults whose count knob is in ``changed``."""
        for name in _REQUEST_FAULTS:
            if name in changed:
                self.remaining[name] = int(getattr(behaviour, name))

    def should_fire(self, name: str, method: str, behaviour: Behaviour) -> bool:
        """Whether fault ``name`` hits this ``method`` request; counts it when it does."""
        scope = _FIXED_SCOPE.get(name) or getattr(behaviour, f"{name}_on", "any")
        if scope != "any" and scope != method.lower():
            return False
        if self.remaining[name] > 0:
            self.remaining[name] -= 1
            self.record(name)
            return True
        rate = float(getattr(behaviour, f"{name}_rate"))
        if rate <= 0:
            return False
        n = self.checks[name]
        self.checks[name] += 1
        digest = hashlib.sha256(f"{behaviour.seed}|{name}|{n}".encode()).digest()
        if random.Random(digest).random() < rate:
            self.record(name)
            return True
        return False

    def record(self, name: str) -> None:
        """Count one firing of ``name`` (also used by task and download faults)."""
        self.fired[name] += 1

    def fired_count(self, name: str) -> int:
        """How often ``name`` fired."""
        return self.fired[name]


_RATE_LIMIT_MESSAGES = (
    "当前分组上游负载已饱和，请稍后再试 (request id: sandbox)",
    "Rate limit reached for requests. Please retry after a short wait.",
    "リクエストが多すぎます。しばらくしてから再試行してください。",
)


def rate_limit_answer(behaviour: Behaviour, ordinal: int) -> tuple[dict[str, str], bytes]:
    """Headers and JSON body of a 429; ``Retry-After`` in seconds or as an HTTP date."""
    wait = behaviour.retry_after
    if behaviour.retry_after_date:
        # HTTP dates have one-second resolution: round up so the client never comes early.
        retry_after = email.utils.formatdate(time.time() + math.ceil(wait) + 1, usegmt=True)
    else:
        retry_after = str(math.ceil(wait))
    message = _RATE_LIMIT_MESSAGES[ordinal % len(_RATE_LIMIT_MESSAGES)]
    body = {"error": {"message": message, "type": "new_api_error", "code": "rate_limit_exceeded"}}
    return {"Retry-After": retry_after}, json.dumps(body, ensure_ascii=False).encode()


_NGINX_502 = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)


def server_error_answer(status: int) -> tuple[str, bytes]:
    """Content type and body of a 5xx: nginx HTML for 502, new-api JSON otherwise."""
    if status == 502:
        return "text/html", _NGINX_502
    messages = {
        500: "上游服务内部错误 (internal server error)",
        503: "upstream service temporarily unavailable, please try again later",
        504: "upstream request timed out",
    }
    body: dict[str, Any] = {
        "error": {
            "message": messages.get(status, "server error"),
            "type": "new_api_error",
            "code": "bad_response_status_code",
        }
    }
    return "application/json", json.dumps(body, ensure_ascii=False).encode()


def malformed_body(body: bytes) -> bytes:
    """A JSON answer cut off half way, as a proxy with a dropped upstream sends it."""
    cut = max(1, len(body) // 2)
    return body[:cut] if body[:cut].strip() else b'{"id": "task_'


def expired_url_body() -> bytes:
    """What object storage answers for an expired presigned URL."""
    return (
        b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
        b"<Message>Request has expired</Message></Error>"
    )
