"""videogen-nb: asynchronous text/image-to-video generation through unified video gateways,
built for notebooks.

>>> import videogen_nb as vg
>>> sandbox = vg.sandbox.start()                           # doctest: +SKIP
>>> client = vg.Client(sandbox.base_url, sandbox.api_key)  # doctest: +SKIP
>>> run = client.compare(prompt="a paper boat in the rain",
...                      models=["kling-v2-5-turbo", "sora-2"])  # doctest: +SKIP
>>> run                                                    # live table, then the grid
"""

from . import sandbox
from .client.async_client import AsyncClient
from .client.sync_client import Client, enable_nested_asyncio
from .core.cost import Cost, format_cost
from .core.errors import (
    APIConnectionError,
    APIError,
    AuthenticationError,
    BadRequestError,
    BudgetExceededError,
    DownloadError,
    NotSupportedError,
    RateLimitError,
    ServerError,
    SpendingGuardError,
    SubmitOutcomeUnknownError,
    TaskFailedError,
    TaskTimeoutError,
    ValidationError,
    VideoGenError,
)
from .core.request import VideoRequest
from .core.task import Result, Task, TaskStatus
from .display import show
from .display.formatters import install_result_html as _install_result_html
from .display.frontend import config
from .insight import leaderboard
from .run import Run
from .run.plan import RunPlan
from .store import catalog
from .store.journal import Journal
from .store.prices import PriceTable, prices
from .tasks.polling import PollPolicy
from .widgets import ComparisonGrid
from .widgets.run_view import install as _install_presenter
from .widgets.studio import Studio

__version__ = "0.1.0"

# Run and Result show themselves through the display layer, which registers here (the lower
# layers may not import display/).
_install_presenter()
_install_result_html()

__all__ = [
    "APIConnectionError",
    "APIError",
    "AsyncClient",
    "AuthenticationError",
    "BadRequestError",
    "BudgetExceededError",
    "Client",
    "ComparisonGrid",
    "Cost",
    "DownloadError",
    "Journal",
    "NotSupportedError",
    "PollPolicy",
    "PriceTable",
    "RateLimitError",
    "Result",
    "Run",
    "RunPlan",
    "ServerError",
    "SpendingGuardError",
    "Studio",
    "SubmitOutcomeUnknownError",
    "Task",
    "TaskFailedError",
    "TaskStatus",
    "TaskTimeoutError",
    "ValidationError",
    "VideoGenError",
    "VideoRequest",
    "__version__",
    "catalog",
    "config",
    "enable_nested_asyncio",
    "format_cost",
    "leaderboard",
    "prices",
    "sandbox",
    "show",
]
