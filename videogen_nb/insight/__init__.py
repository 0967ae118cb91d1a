"""Model insight; imports only core/ and store/: check each video against its request, rank models.

- ``check_video(path, request) -> SpecReport``: measure a video with PyAV (optional:
  ``spec_check_available()`` says whether it is installed) and list each way it differs
  from what was asked.
- ``video_fps(path)``, ``poster_jpeg(path)``: the other PyAV reads (frame stepping and
  poster frames for the display layer); ``probe.py`` is the package's only PyAV reader.
- ``leaderboard(journal=None, since=None, models=None) -> Leaderboard``: per model, success
  rate, failure reasons, latency, spec compliance and blind-vote win rate, ranked.

This package reads the journal and the request; it never writes the journal (the run layer
stores ``SpecReport.to_dict()`` with ``journal.record_spec``).
"""

from __future__ import annotations

from .leaderboard import (
    Leaderboard,
    LeaderboardRow,
    compute_leaderboard,
    failure_reason,
    leaderboard,
    parse_since,
    percentile,
    wilson_interval,
)
from .probe import (
    INSTALL_HINT,
    MEASURED_KEYS,
    poster_jpeg,
    probe_video,
    spec_check_available,
    video_fps,
)
from .spec import SpecReport, check_video, compare_spec, expected_spec

__all__ = [
    "INSTALL_HINT",
    "MEASURED_KEYS",
    "Leaderboard",
    "LeaderboardRow",
    "SpecReport",
    "check_video",
    "compare_spec",
    "compute_leaderboard",
    "expected_spec",
    "failure_reason",
    "leaderboard",
    "parse_since",
    "percentile",
    "poster_jpeg",
    "probe_video",
    "spec_check_available",
    "video_fps",
    "wilson_interval",
]
