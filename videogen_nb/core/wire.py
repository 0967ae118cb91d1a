"""Route and header names shared by the client side (``dialects/``, ``transport``) and the sandbox.

The sandbox is a separate program that imports nothing else from the package; keeping the
routes in one place means the two sides cannot drift apart silently.
"""

from __future__ import annotations

__all__ = [
    "API_PREFIX",
    "CONTENT_SUFFIX",
    "IDEMPOTENCY_KEY_HEADER",
    "POLL_AFTER_HEADER",
    "ROUTE_GENERATIONS",
    "ROUTE_MODELS",
    "ROUTE_VIDEOS",
]

API_PREFIX = "/v1"
ROUTE_GENERATIONS = "/v1/video/generations"
ROUTE_VIDEOS = "/v1/videos"
ROUTE_MODELS = "/v1/models"
CONTENT_SUFFIX = "/content"
IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"
POLL_AFTER_HEADER = "openai-poll-after-ms"
