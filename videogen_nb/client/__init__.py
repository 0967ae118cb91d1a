"""The public clients; import every layer up to run/: ``AsyncClient`` and its blocking twin ``Client``."""

from .async_client import AsyncClient
from .sync_client import Client

__all__ = ["AsyncClient", "Client"]
