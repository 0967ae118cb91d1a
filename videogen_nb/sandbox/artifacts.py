"""new-api's artifact links: ``/v1/tasks/{id}/artifacts/video/content?access=<token>``.

The newest new-api (2026) no longer hands out the vendor's URL: it names its own artifact
route, behind a capability token bound to one task and one artifact that expires after a
while. The token is ``<expiry>.<base64url HMAC-SHA256>``, as new-api's
``service.IssueTaskArtifactAccess`` builds it (the expiry here is in milliseconds, so tests
can use sub-second lifetimes). A bad or expired token answers 404 ``artifact_not_found``
(never 403): the client must read the task again for a fresh link. Without ``access`` the
route takes the ordinary bearer key instead.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
import urllib.parse

__all__ = [
    "ARTIFACT_NOT_FOUND",
    "ARTIFACT_ROUTE",
    "ArtifactSigner",
    "artifact_path",
]

ARTIFACT_ROUTE = "/v1/tasks/{task_id}/artifacts/{artifact}/content"

#: new-api's answer to a missing, forged or expired capability (``middleware`` package)
ARTIFACT_NOT_FOUND = {
    "error": {
        "message": "Task or artifact not found",
        "type": "artifact_not_found",
        "code": "artifact_not_found",
    }
}

_VERSION = "v1"


def artifact_path(task_id: str, token: str, artifact: str = "video") -> str:
    """The route of ``artifact`` of ``task_id`` with its ``access`` token."""
    quoted = urllib.parse.quote(task_id, safe="")
    query = urllib.parse.urlencode({"access": token})
    return f"/v1/tasks/{quoted}/artifacts/{artifact}/content?{query}"


class ArtifactSigner:
    """Issues and checks capability tokens with a per-sandbox secret."""

    def __init__(self, secret: bytes | None = None) -> None:
        self._secret = secret or secrets.token_bytes(32)

    def _mac(self, task_id: str, artifact: str, expires_ms: int) -> bytes:
        message = "\x00".join((_VERSION, task_id, artifact, str(expires_ms))).encode()
        return hmac.new(self._secret, message, hashlib.sha256).digest()

    def issue(
        self, task_id: str, ttl: float, *, artifact: str = "video", now: float | None = None
    ) -> str:
        """A token for ``artifact`` of ``task_id`` that is valid for ``ttl`` seconds."""
        now = time.time() if now is None else now
        expires_ms = int((now + ttl) * 1000)
        signature = base64.urlsafe_b64encode(self._mac(task_id, artifact, expires_ms))
        return f"{expires_ms}.{signature.rstrip(b'=').decode()}"

    def verify(
        self, token: str, task_id: str, *, artifact: str = "video", now: float | None = None
    ) -> bool:
        """Whether ``token`` is genuine, bound to this task and artifact, and not expired."""
        now = time.time() if now is None else now
        expiry, sep, signature = token.partition(".")
        if not sep or not expiry.isdigit():
            return False
        if int(expiry) < now * 1000:
            return False
        try:
            given = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
        except (ValueError, TypeError):
            return False
        return hmac.compare_digest(given, self._mac(task_id, artifact, int(expiry)))
