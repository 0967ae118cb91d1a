"""One task over HTTP; imports core/, store/, dialects/, http/.

``TaskClient`` submits, polls and downloads one task through a dialect; the journal is written
through one recorder; the poll delays come from ``PollPolicy``.
"""

from .task_client import TaskClient

__all__ = ["TaskClient"]
