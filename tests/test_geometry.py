"""The one size/ratio parser: its forms, its bounds, and that every user agrees with it."""

from __future__ import annotations

import pytest

from videogen_nb.core import geometry
from videogen_nb.core.errors import ValidationError
from videogen_nb.core.request import VideoRequest
from videogen_nb.dialects import get_dialect
from videogen_nb.insight.spec import expected_spec
from videogen_nb.store.catalog import check_request


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1280x720", (1280, 720)),
        (" 1280 X 720 ", (1280, 720)),
        ("16x16", (16, 16)),
        ("8192x8192", (8192, 8192)),
        ("15x720", None),
        ("1280x8193", None),
        ("16:9", None),
        ("1280*720", None),
        ("", None),
        (None, None),
        (1280, None),
    ],
)
def test_parse_size(text: object, expected: tuple[int, int] | None) -> None:
    assert geometry.parse_size(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("16:9", (16, 9)),
        (" 9 : 16 ", (9, 16)),
        ("32:18", (32, 18)),
        ("1000:1", (1000, 1)),
        ("0:9", None),
        ("1001:1", None),
        ("2.39:1", None),
        ("1280x720", None),
    ],
)
def test_parse_ratio(text: object, expected: tuple[int, int] | None) -> None:
    assert geometry.parse_ratio(text) == expected
    assert geometry.ratio_text(text) == (
        None if expected is None else f"{expected[0]}:{expected[1]}"
    )


def test_split_keeps_the_form_and_leaves_bounds_to_the_caller() -> None:
    assert geometry.split_size("8x8") == (8, 8)
    assert not geometry.size_in_bounds(8, 8)
    assert geometry.split_ratio("0:1") == (0, 1)
    assert not geometry.ratio_in_bounds(0, 1)


@pytest.mark.parametrize(
    ("size", "name"),
    [
        ((1280, 720), "16:9"),
        ((854, 480), "16:9"),
        ((720, 1280), "9:16"),
        ((720, 720), "1:1"),
        ((100, 30), "10:3"),
        ((1998, 1080), "1.85:1"),
        ((1080, 1998), "1:1.85"),
    ],
)
def test_ratio_name(size: tuple[int, int], name: str) -> None:
    assert geometry.ratio_name(*size) == name


def test_reduce_and_shape() -> None:
    assert geometry.reduce_ratio(1920, 1080) == (16, 9)
    assert geometry.shape_of("1920x1080") == geometry.shape_of("16:9")
    assert geometry.shape_of("16:0") is None
    assert geometry.shapes_match(854 / 480, 16 / 9)
    assert not geometry.shapes_match(4 / 3, 16 / 9)


def test_request_uses_the_same_bounds() -> None:
    side, term = geometry.MAX_SIDE, geometry.MAX_RATIO_TERM
    assert VideoRequest(model="m", prompt="p", size=f"{side}x16").size == f"{side}x16"
    assert VideoRequest(model="m", prompt="p", aspect_ratio=f"{term}:1").aspect_ratio == f"{term}:1"
    with pytest.raises(ValidationError, match=f"16 to {side} pixels"):
        VideoRequest(model="m", prompt="p", size=f"{side + 1}x16")
    with pytest.raises(ValidationError, match=f"1 to {term}"):
        VideoRequest(model="m", prompt="p", size=f"{term + 1}:1")
    with pytest.raises(ValidationError):
        VideoRequest(model="m", prompt="p", width=geometry.MIN_SIDE - 1, height=720)


def test_dialects_spec_and_catalog_read_sizes_alike() -> None:
    request = VideoRequest(model="kling-v1", prompt="p", size=" 1920 X 1080 ")
    assert request.size == "1920x1080"
    assert get_dialect("kling").build_submit(request).json["aspect_ratio"] == "16:9"
    assert get_dialect("openai").build_submit(request).json["size"] == "1920x1080"
    assert expected_spec(request) == {"width": 1920, "height": 1080}
    ratio = VideoRequest(model="kling-v1", prompt="p", size="9:16")
    assert expected_spec(ratio) == {"aspect": "9:16"}
    # a 4:3 frame is outside Kling's ratios: the catalog warns, the dialect refuses
    square_ish = VideoRequest(model="kling-v1", prompt="p", size="1024x768")
    assert any("aspect ratios" in w for w in check_request(square_ish))
    with pytest.raises(ValidationError):
        get_dialect("kling").build_submit(square_ish)
