"""Win rates from blind-comparison votes (kept here for the grid; lives in ``scoring``)."""

from ..scoring import VOTE_KINDS, win_rates

__all__ = ["VOTE_KINDS", "win_rates"]
