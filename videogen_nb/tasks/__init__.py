"""One task over HTTP; imports core/, store/, dialects/, http/.

``TaskClient`` (task_client) submits, polls and downloads one task through a dialect; every
journal transition goes through one recorder (recorder: ``JournalRecorder``, or
``NullRecorder`` without a journal); one set of follow rules (follow) decides poll delays
(``PollPolicy``, polling), the deadline and what a failed poll means, for ``wait()`` and
the run scheduler alike; fetch gets the video onto disk.
"""

from .task_client import TaskClient

__all__ = ["TaskClient"]
