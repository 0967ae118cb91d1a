"""The sandbox's text-to-video renders (issue 16.10): a small animated scene from the prompt,
each model in a look of its own, the same picture for every model in a blind render.

Render speed is measured, not asserted, by ``benchmarks/sandbox_render.py`` (figures in
``benchmarks/results/sandbox-render.md``): a shared CI machine makes a time limit flaky.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest

np = pytest.importorskip("numpy")
pytest.importorskip("PIL")
pytest.importorskip("av")

from videogen_nb.sandbox.render import RenderSpec, _frames, render_mp4  # noqa: E402
from videogen_nb.sandbox.scene_looks import NEUTRAL, look_for  # noqa: E402
from videogen_nb.sandbox.scene_words import recipe_for  # noqa: E402

MODELS = ("kling-v2-5-turbo", "veo_3_1-fast", "sora-2", "runway-gen4", "wan-2.2")


def frames(
    prompt: str, model: str = "kling-v1", *, seed: int = 1, marks: bool = True, **kw: Any
) -> list[Any]:
    spec = RenderSpec(
        prompt=prompt,
        model=model,
        seed=seed,
        width=kw.pop("width", 160),
        height=kw.pop("height", 96),
        duration=kw.pop("duration", 1.0),
        marks=marks,
        **kw,
    )
    return [f.astype(np.int16) for f in _frames(spec)]


def picture(frame: Any) -> Any:
    """The frame above the caption band (the band repeats prompt, model and seed)."""
    return frame[: int(frame.shape[0] * 0.7)]


def test_the_words_choose_the_scene() -> None:
    balloon = recipe_for("a hot air balloon over snowy mountains", 1)
    assert balloon.ground == "mountains" and "balloon" in balloon.things
    assert "snow" in balloon.particles
    boat = recipe_for("a paper boat on the sea at night", 1)
    assert boat.ground == "sea" and "boat" in boat.things and "stars" in boat.particles
    assert boat.celestial == "moon"
    # An unknown subject still gets something that moves, in the prompt's own colour.
    odd = recipe_for("quantum teapot", 1)
    assert odd.things == ("orb",)
    assert recipe_for("quantum teapot", 1).accent != recipe_for("velvet anvil", 1).accent
    assert recipe_for("a car racing fast", 1).speed > recipe_for("a calm slow car", 1).speed


def test_night_is_darker_than_a_sunset() -> None:
    night = picture(frames("a quiet lake at night", marks=False)[0]).mean()
    sunset = picture(frames("a quiet lake at sunset", marks=False)[0]).mean()
    assert night + 40 < sunset, (night, sunset)


def test_the_scene_moves() -> None:
    clip = frames("a hot air balloon over snowy mountains", "veo_3_1-fast")
    diffs = [np.abs(picture(a) - picture(b)).mean() for a, b in itertools.pairwise(clip)]
    assert min(diffs) > 0.05, diffs  # every frame differs from the one before
    assert np.abs(picture(clip[0]) - picture(clip[-1])).mean() > 3


def test_the_seed_moves_things_but_keeps_the_scene() -> None:
    one = picture(frames("birds over a green meadow", seed=1, marks=False)[0])
    two = picture(frames("birds over a green meadow", seed=2, marks=False)[0])
    other = picture(frames("a neon city at midnight", seed=1, marks=False)[0])
    assert not np.array_equal(one, two)
    # two takes of one shot stay closer to each other than to another prompt
    assert np.abs(one - two).mean() < np.abs(one - other).mean()


def test_every_model_has_a_look_of_its_own() -> None:
    looks = {look_for(m).name for m in MODELS}
    assert len(looks) == len(MODELS)
    pictures = {m: picture(frames("a paper boat on a rainy sea", m)[3]) for m in MODELS}
    for i, a in enumerate(MODELS):
        for b in MODELS[i + 1 :]:
            # the picture itself differs, not only the caption
            assert np.abs(pictures[a] - pictures[b]).mean() > 4, (a, b)


def test_models_of_one_family_share_a_look_yet_differ() -> None:
    assert look_for("kling-v1").name == look_for("kling-v3-pro-audio").name == "film"
    a = picture(frames("a paper boat on a rainy sea", "kling-v1")[6])
    b = picture(frames("a paper boat on a rainy sea", "kling-v2-5-turbo")[6])
    assert np.abs(a - b).mean() > 1


def test_blind_renders_hide_the_look_and_the_name() -> None:
    assert all(look_for(m, marks=False) == NEUTRAL for m in MODELS)
    blind = [frames("a fox in a forest", m, marks=False) for m in MODELS]
    for other in blind[1:]:
        assert all(np.array_equal(a, b) for a, b in zip(blind[0], other, strict=True))


@pytest.mark.parametrize("size", [(96, 160), (96, 96), (48, 80)])
def test_any_shape_renders(size: tuple[int, int]) -> None:
    w, h = size
    clip = frames("a car on a city street in the rain", "wan-2.2", width=w, height=h, duration=0.5)
    assert clip[0].shape == (h, w, 3) and len(clip) == 6


def test_a_scene_encodes_as_h264() -> None:
    import io

    import av

    data = render_mp4(
        RenderSpec(prompt="a balloon", model="sora-2", width=160, height=96, duration=0.5)
    )
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert sum(1 for _ in container.decode(stream)) == 6
