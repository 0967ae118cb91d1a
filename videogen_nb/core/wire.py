"""Route and header names shared by the client side (``dialects/``, ``transport``) and the sandbox.

The sandbox is a separate program that imports nothing else from the package; keeping the
routes in one place means the two sides cannot drift apart silently.
"""

from __future__ import annotations

__all__ = [
    "API_PREFIX",
    "CONTENT_SUFFIX",
    "IDEMPOTENCY_KEY_HEADER",
    "OPENROUTER_MODELS",
    "OPENROUTER_VIDEOS",
    "POLL_AFTER_HEADER",
    "REMIX_SUFFIX",
    "ROUTE_GENERATIONS",
    "ROUTE_MODELS",
    "ROUTE_VIDEOS",
]

API_PREFIX = "/v1"
ROUTE_GENERATIONS = "/v1/video/generations"
ROUTE_VIDEOS = "/v1/videos"
ROUTE_MODELS = "/v1/models"
CONTENT_SUFFIX = "/content"
#: ``POST /v1/videos/{id}/remix``: a new task from a finished one and a new prompt
REMIX_SUFFIX = "/remix"
#: OpenRouter's video API, under the origin (``https://openrouter.ai``), not under ``/v1``
OPENROUTER_VIDEOS = "/api/v1/videos"
OPENROUTER_MODELS = "/api/v1/videos/models"
IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"
POLL_AFTER_HEADER = "openai-poll-after-ms"
