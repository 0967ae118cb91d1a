"""The poll policy through the four regimes of issue 13, on a simulated clock.

``benchmarks/poll_sim.py`` serves the benchmark's seeded tasks as ``sandbox_proc.py`` does
(phases, stepped or silent progress, 15 s refreshes, ``openai-poll-after-ms``) to the
package's follow rules and to openai-python's poll loop, with no HTTP and no sleeping: the
decisions on each regime's timeline are pinned here, deterministically. The targets are the
issue's (status GETs per task against openai-python's, at no worse a p95 detection lag);
the real runs (``poll_regimes.py``) are in ``benchmarks/results/``.
"""

from __future__ import annotations

import pathlib
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "benchmarks"))

from poll_sim import REGIMES, USER_REGIMES, simulate

#: regime -> (GET ratio at most, lag ratio at most); the issue asks 0.5x (0.15x for newapi)
#: at a lag ratio of 1.0x. newapi's lag is the wait for the gateway's refresh for every
#: client alike, and equal to openai-python's within the poll margin.
TARGETS = {
    "short": (0.5, 1.0),
    "newapi": (0.15, 1.01),
    "silent": (0.5, 1.0),
    "long": (0.5, 1.0),
}


@pytest.mark.parametrize("name", sorted(REGIMES))
def test_the_policy_meets_the_regime_targets(name):
    out = simulate(name)
    gets, lag = TARGETS[name]
    assert out["get_ratio"] <= gets, out["videogen"]["reasons"]
    assert out["lag_ratio"] <= lag, (out["videogen"]["lag_p95"], out["openai"]["lag_p95"])
    assert out["videogen"]["gets_per_task"] < out["openai"]["gets_per_task"]  # never above 1x


def test_a_second_batch_starts_from_what_the_first_taught():
    batches = simulate("silent")["videogen"]["batches"]
    assert batches[1] < 0.7 * batches[0], batches


#: regimes the benchmark did not choose -> (GET ratio at most, lag ratio at most), each a
#: little above what the policy reaches, so that a change that loses one fails here. The
#: last four start a blank model in a batch too small (or too alike) to learn from before
#: most of it has finished: the lag there is the price of not polling every second on a
#: guess (``benchmarks/README.md``, "Regimes users meet").
USER_BOUNDS = {
    "tiny (1-3 s)": (0.5, 1.2),  # the batch's first poll waits for the scouts' second
    "long linear (2-10 min)": (0.15, 1.0),
    "wide linear (6 s-10 min)": (0.15, 1.0),
    "stepped, no refresh": (0.5, 1.0),
    "refresh 30 s": (0.5, 1.01),
    "refresh 5 s, linear": (0.3, 1.0),
    "refresh 15 s, linear": (0.2, 1.01),
    "hint 5 s": (0.7, 1.0),
    "stepped 15 s refresh, 40": (0.25, 1.0),
    "4 linear 30 s-3 min": (0.2, 0.8),
    "silent 30 s-3 min, 2 x 40": (0.4, 1.7),
    "20 silent 4-40 s": (0.65, 4.0),
    "4 stepped 15 s refresh": (0.2, 1.15),
    "4 silent 30 s-3 min": (0.2, None),
}


@pytest.mark.parametrize("name", list(USER_REGIMES))
def test_the_regimes_users_meet_stay_within_their_bounds(name):
    out = simulate(name)
    gets, lag = USER_BOUNDS[name]
    assert out["get_ratio"] <= gets, (out["get_ratio"], out["videogen"]["reasons"])
    assert out["get_ratio"] < 1.0  # never above a 1 s loop's GETs
    if lag is not None:
        assert out["lag_ratio"] <= lag, (out["videogen"]["lag_p95"], out["openai"]["lag_p95"])
