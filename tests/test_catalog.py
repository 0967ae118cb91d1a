"""The model catalog: entries from the seeds, lookups, request checks and warnings."""

from __future__ import annotations

import uuid
import warnings

import attrs
import pytest

from videogen_nb.core.request import VideoRequest
from videogen_nb.store import catalog
from videogen_nb.store.catalog import (
    QUIRK_SECONDS_AS_STRING,
    QUIRK_USES_SECONDS,
    CatalogWarning,
    ModelInfo,
    check_request,
    get_model,
    known_models,
    register_model,
    warn_request,
)

SEED_MODELS = [
    "kling-v1",
    "kling-v2-1-master",
    "kling-v2-5-turbo",
    "kling-v3-std-silent",
    "kling-v3-std-audio",
    "kling-v3-pro-silent",
    "kling-v3-pro-audio",
    "veo_3_1",
    "veo_3_1-fast",
    "veo-3",
    "sora-2",
    "sora-2-pro",
    "gen-3-alpha",
]


def req(model: str, **fields) -> VideoRequest:
    fields.setdefault("prompt", "a paper boat in the rain")
    return VideoRequest(model=model, **fields)


def unique_name(prefix: str = "private-model") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_every_seed_model_is_known():
    names = known_models()
    assert names == sorted(names)
    assert set(SEED_MODELS) <= set(names)
    for name in SEED_MODELS:
        info = get_model(name)
        assert info is not None and info.name == name
        assert info.typical_seconds and info.typical_seconds > 0
        assert info.vendor


def test_lookup_is_exact_then_case_insensitive():
    assert get_model("SORA-2") is get_model("sora-2")
    assert get_model(" Veo_3_1-Fast ") is get_model("veo_3_1-fast")
    assert get_model("sora-3") is None
    assert get_model(None) is None  # type: ignore[arg-type]


@pytest.mark.parametrize("tier", ["std", "pro"])
@pytest.mark.parametrize("sound", ["silent", "audio"])
def test_kling_v3_limits(tier, sound):
    info = get_model(f"kling-v3-{tier}-{sound}")
    assert [s for s in range(0, 30) if info.allows_duration(s)] == list(range(3, 16))
    assert info.describe_durations() == "3 to 15"
    assert set(info.aspect_ratios) == {"16:9", "9:16", "1:1"}
    assert info.last_frame and info.multi_prompt and info.image_to_video
    assert info.audio is (sound == "audio")
    assert info.dialect == "kling"


def test_sora_limits_and_quirks():
    sora, pro = get_model("sora-2"), get_model("sora-2-pro")
    for info in (sora, pro):
        assert info.durations == (4, 8, 12)
        assert info.has_quirk(QUIRK_SECONDS_AS_STRING) and info.has_quirk(QUIRK_USES_SECONDS)
        assert info.dialect == "openai"
        assert info.audio is True
    assert set(sora.sizes) == {"720x1280", "1280x720"}
    assert set(pro.sizes) == set(sora.sizes) | {"1024x1792", "1792x1024"}
    assert pro.typical_seconds > sora.typical_seconds


@pytest.mark.parametrize("name", ["veo_3_1", "veo_3_1-fast", "veo-3"])
def test_veo_limits(name):
    info = get_model(name)
    assert info.durations == (4, 6, 8)
    assert info.describe_durations() == "4, 6 or 8"
    assert info.audio is True
    assert not info.has_quirk(QUIRK_SECONDS_AS_STRING)


def test_undocumented_limits_stay_none():
    gen3 = get_model("gen-3-alpha")
    assert gen3.sizes is None and gen3.aspect_ratios is None
    assert get_model("veo-3").last_frame is None
    assert ModelInfo(name="x", vendor="y").allows_duration(7) is None
    assert ModelInfo(name="x", vendor="y").describe_durations() is None


def test_model_info_is_a_checked_value():
    info = ModelInfo(
        name="m", vendor="v", durations=[10, 5], sizes=["1x1"], quirks=[QUIRK_USES_SECONDS]
    )
    assert info.durations == (5, 10) and info.sizes == ("1x1",)
    assert info.quirks == frozenset({QUIRK_USES_SECONDS})
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        info.vendor = "w"  # type: ignore[misc]
    with pytest.raises(ValueError, match="unknown quirks"):
        ModelInfo(name="m", vendor="v", quirks={"seconds-as-strnig"})
    with pytest.raises(ValueError):
        ModelInfo(name="m", vendor="v", dialect="grpc")
    assert hash(info) == hash(
        ModelInfo(
            name="m", vendor="v", durations=(5, 10), sizes=("1x1",), quirks={QUIRK_USES_SECONDS}
        )
    )


# ---- check_request ---------------------------------------------------------------------


def test_sora_seconds_warning_reads_well():
    assert check_request(req("sora-2", seconds=5)) == [
        "sora-2 accepts seconds 4, 8 or 12; 5 may be rejected"
    ]
    assert check_request(req("sora-2", seconds="8")) == []
    assert check_request(req("sora-2", duration=12)) == []
    assert check_request(req("sora-2", duration=10)) == [
        "sora-2 accepts seconds 4, 8 or 12; 10 may be rejected"
    ]


def test_sizes_per_model():
    assert check_request(req("sora-2", size="1280x720")) == []
    assert check_request(req("sora-2-pro", size="1792x1024")) == []
    [warning] = check_request(req("sora-2", size="1792x1024"))
    assert "sora-2 accepts size 720x1280 or 1280x720" in warning and "1792x1024" in warning
    [warning] = check_request(req("sora-2", width=1920, height=1080))
    assert "1920x1080" in warning
    # Ratio-only models judge pixel sizes by their shape, with a little slack.
    assert check_request(req("veo_3_1", size="1280x720")) == []
    assert check_request(req("veo_3_1", size="854x480")) == []
    assert check_request(req("veo_3_1", size="16:9")) == []
    [warning] = check_request(req("veo_3_1", size="1024x1024"))
    assert "16:9 or 9:16" in warning and "1024x1024" in warning
    assert check_request(req("gen-3-alpha", size="1000x16")) == []  # nothing documented


def test_kling_v3_request_from_the_seed_is_clean():
    seed_example = req(
        "kling-v3-std-audio",
        prompt=None,
        image="https://example.com/source-image.png",
        last_image="https://example.com/last.png",
        duration=10,
        aspect_ratio="16:9",
        extra_body={
            "multi_prompt": [{"prompt": "camera."}, {"prompt": "camera 2."}],
            "shot_type": "customize",
        },
    )
    assert check_request(seed_example) == []
    [warning] = check_request(req("kling-v3-pro-silent", duration=20))
    assert warning == "kling-v3-pro-silent accepts seconds 3 to 15; 20 may be rejected"
    [warning] = check_request(req("kling-v3-pro-silent", aspect_ratio="4:3"))
    assert "16:9, 9:16 or 1:1" in warning and "4:3" in warning


def test_capability_warnings_use_only_documented_false():
    name = unique_name()
    register_model(
        ModelInfo(
            name=name, vendor="test", image_to_video=False, last_frame=False, multi_prompt=False
        )
    )
    warnings_ = check_request(
        req(
            name,
            image="https://e.com/a.png",
            last_image="https://e.com/b.png",
            extra_body={"multi_prompt": [{"prompt": "a"}]},
        )
    )
    assert len(warnings_) == 3
    assert "text-to-video only" in warnings_[0]
    assert "last frame" in warnings_[1]
    assert "multi_prompt" in warnings_[2]
    # veo-3 does not document last frames: no warning rather than a guess.
    assert (
        check_request(req("veo-3", image="https://e.com/a.png", last_image="https://e.com/b.png"))
        == []
    )


def test_generic_warnings():
    [warning] = check_request(req("veo-3", last_image="https://e.com/b.png"))
    assert "without a first frame" in warning
    [warning] = check_request(req("veo-3", duration=4, seconds="8"))
    assert "duration=4" in warning and "seconds='8'" in warning
    assert check_request(req("veo-3", duration=8, seconds=8)) == []


def test_unknown_model_gets_one_warning_and_is_untouched():
    name = unique_name()
    request = req(name, duration=99, size="16x3000", aspect_ratio="7:5")
    before = request.to_dict()
    assert check_request(request) == [f"{name!r} is not in the catalog; sent as is"]
    assert request.to_dict() == before


# ---- warn_request ----------------------------------------------------------------------


def test_warn_request_emits_catalog_warnings():
    with pytest.warns(CatalogWarning, match="sora-2 accepts seconds 4, 8 or 12; 5 may be rejected"):
        emitted = warn_request(req("sora-2", seconds=5))
    assert emitted == ["sora-2 accepts seconds 4, 8 or 12; 5 may be rejected"]
    assert issubclass(CatalogWarning, UserWarning)


def test_warn_request_points_at_the_caller():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warn_request(req("sora-2", seconds=5))
    assert caught[0].filename == __file__


def test_known_model_warnings_repeat_but_unknown_model_warns_once_per_name():
    name, other = unique_name(), unique_name()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first = warn_request(req(name))
        second = warn_request(req(name, seed=2))
        third = warn_request(req(other))
        warn_request(req("sora-2", seconds=5))
        warn_request(req("sora-2", seconds=5))
    assert first == [f"{name!r} is not in the catalog; sent as is"]
    assert second == []
    assert third == [f"{other!r} is not in the catalog; sent as is"]
    messages = [str(w.message) for w in caught]
    assert messages.count(first[0]) == 1
    assert sum("sora-2 accepts" in m for m in messages) == 2
    assert all(w.category is CatalogWarning for w in caught)


def test_register_model():
    name = unique_name()
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        assert warn_request(req(name)) != []
    info = ModelInfo(name=name, vendor="test", durations=(6,))
    register_model(info)
    assert get_model(name) is info and name in known_models()
    assert check_request(req(name, duration=5)) == [f"{name} accepts seconds 6; 5 may be rejected"]
    with pytest.raises(ValueError, match="already in the catalog"):
        register_model(ModelInfo(name=name, vendor="test"))
    replacement = ModelInfo(name=name, vendor="test", durations=range(1, 10))
    register_model(replacement, replace=True)
    assert get_model(name) is replacement
    assert check_request(req(name, duration=5)) == []
    with pytest.raises(TypeError):
        register_model({"name": "x"})  # type: ignore[arg-type]


def test_public_names_are_documented():
    for name in catalog.__all__:
        obj = getattr(catalog, name)
        if callable(obj):
            assert obj.__doc__, name
    for method in ("allows_duration", "has_quirk", "describe_durations"):
        assert getattr(ModelInfo, method).__doc__
