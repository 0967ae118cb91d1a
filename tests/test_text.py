"""core.text.shorten: the one rule for cutting text (messages, prompts, labels)."""

from __future__ import annotations

import pytest

from videogen_nb.core.text import ELLIPSIS, shorten


def test_short_text_is_returned_stripped_but_whole():
    assert shorten("  abc \n", 3) == "abc"
    assert shorten("abc", 4) == "abc"
    assert shorten(None, 10) == ""
    assert shorten(42, 10) == "42"


def test_long_text_is_cut_to_exactly_limit_with_an_ellipsis():
    out = shorten("abcdef", 4)
    assert out == "abc…" and len(out) == 4
    assert shorten("x" * 1000, 200) == "x" * 199 + ELLIPSIS


def test_whitespace_at_the_cut_is_dropped_before_the_ellipsis():
    assert shorten("abc   defgh", 6) == "abc…"


def test_one_line_collapses_every_whitespace_run():
    assert shorten("a\n\n b\tc", 50, one_line=True) == "a b c"
    assert shorten("line one\nline two", 12, one_line=True) == "line one li…"
    # without one_line the inner newlines stay (errors are shown with white-space: pre-wrap)
    assert shorten("a\nb", 50) == "a\nb"


def test_a_combining_mark_is_never_split_from_its_letter():
    text = "cafe\u0301 au lait"  # "café" written as e + combining acute accent
    assert shorten(text, 6) == "cafe\u0301…"  # the cut falls after the accent: both kept
    # the cut would fall between "e" and its accent: the bare "e" is not shown either
    assert shorten(text, 5) == "caf…"


def test_an_emoji_sequence_is_not_left_with_a_dangling_joiner():
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"  # man ZWJ woman ZWJ girl
    out = shorten("ab" + family + "cdef", 5)
    assert "\u200d" not in out[-2:]
    assert out.endswith(ELLIPSIS) and len(out) <= 5


def test_surrogate_halves_stay_together():
    pair = "\ud83d\ude00"  # a UTF-16 surrogate pair as two code points (from a bad decode)
    out = shorten("a" + pair + "bcd", 3)
    assert out == "a…"


@pytest.mark.parametrize("limit", [0, -3])
def test_no_room_gives_empty_text(limit):
    assert shorten("abc", limit) == ""


def test_limit_one_is_just_the_ellipsis():
    assert shorten("abc", 1) == ELLIPSIS
