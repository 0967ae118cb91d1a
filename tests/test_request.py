"""VideoRequest: validation of every field, media inputs, immutability, repr, fingerprint."""

from __future__ import annotations

import base64
import copy
import hashlib
import inspect
import io
import json
import os
import pathlib
import pickle
import subprocess
import sys

import attrs
import pytest
from PIL import Image

from videogen_nb.core import request as request_module
from videogen_nb.core.errors import ValidationError
from videogen_nb.core.media import decode_data_uri
from videogen_nb.core.request import FrozenMapping, VideoRequest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def make(**fields):
    fields.setdefault("model", "kling-v2-5-turbo")
    fields.setdefault("prompt", "a paper boat in the rain")
    return VideoRequest(**fields)


def rejects(field: str, *fragments: str, **fields) -> ValidationError:
    """Assert that ``make(**fields)`` raises a ValidationError for ``field`` saying ``fragments``."""
    with pytest.raises(ValidationError) as info:
        make(**fields)
    assert info.value.field == field, str(info.value)
    for fragment in fragments:
        assert fragment in info.value.message, (fragment, str(info.value))
    assert str(info.value).startswith(f"{field}: ")
    return info.value


def png_bytes(size=(8, 8), color="green") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def png_file(tmp_path) -> pathlib.Path:
    path = tmp_path / "start.png"
    path.write_bytes(png_bytes())
    return path


# ---- construction and normalisation ------------------------------------------------------


def test_minimal_request_has_only_model_and_prompt():
    req = VideoRequest(model="kling-v1", prompt="a golden retriever running on grass")
    assert req.to_dict() == {"model": "kling-v1", "prompt": "a golden retriever running on grass"}
    assert req.image is None and req.metadata is None


def test_model_is_stripped_and_validation_error_is_a_value_error():
    assert make(model="  sora-2 ").model == "sora-2"
    err = rejects("model", "non-empty", model="   ")
    assert isinstance(err, ValueError)


@pytest.mark.parametrize("model", ["", 7, ["sora-2"]])
def test_bad_models(model):
    rejects("model", "model name", model=model)


def test_model_is_required():
    with pytest.raises(ValidationError) as info:
        VideoRequest(prompt="x")
    assert info.value.field == "model"
    assert "required" in info.value.message
    with pytest.raises(ValidationError, match="model: is required"):
        VideoRequest(model=None, prompt="x")


@pytest.mark.parametrize(("given", "stored"), [(5, 5), (5.0, 5), ("5", 5), ("10", 10), (15, 15)])
def test_duration_accepts_whole_numbers(given, stored):
    req = make(duration=given)
    assert req.duration == stored
    assert type(req.duration) is int
    assert req.to_dict()["duration"] == stored


@pytest.mark.parametrize(
    ("given", "fragment"),
    [
        (0, "from 1"),
        (-5, "from 1"),
        (5.5, "use 6"),
        (0.4, "use 1"),
        ("5.0", "whole number"),
        ("five", "whole number"),
        (True, "whole number"),
        (float("nan"), "whole number"),
        (10_000, "to 3600"),
        ([5], "whole number"),
    ],
)
def test_bad_durations(given, fragment):
    rejects("duration", fragment, duration=given)


@pytest.mark.parametrize(("given", "stored"), [(8, 8), ("8", "8"), (8.0, 8), ("12", "12")])
def test_seconds_stored_as_given(given, stored):
    req = make(seconds=given)
    assert req.seconds == stored
    assert type(req.seconds) is type(stored)


@pytest.mark.parametrize("given", [0, "0", -4, 4.5, " 8", "eight", "4s", True, float("inf")])
def test_bad_seconds(given):
    rejects("seconds", "whole number" if given != " 8" else "'8'", seconds=given)


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("1280x720", "1280x720"),
        ("720X1280", "720x1280"),
        (" 1024x1024 ", "1024x1024"),
        ("16:9", "16:9"),
        ("9 : 16", "9:16"),
    ],
)
def test_good_sizes(given, stored):
    assert make(size=given).size == stored


@pytest.mark.parametrize(
    ("given", "fragment"),
    [
        ("1280*720", "1280x720"),
        ("big", "16:9"),
        ("0x720", "16 to 8192"),
        ("1280x99999", "16 to 8192"),
        ("16/9", "not a size"),
        ("0:9", "1 to 1000"),
        (1280, "must be a string"),
        ("1280x720x3", "not a size"),
    ],
)
def test_bad_sizes(given, fragment):
    rejects("size", fragment, size=given)


@pytest.mark.parametrize(("given", "stored"), [("16:9", "16:9"), ("1:1", "1:1"), ("21 :9", "21:9")])
def test_good_aspect_ratios(given, stored):
    assert make(aspect_ratio=given).aspect_ratio == stored


def test_bad_aspect_ratios():
    rejects("aspect_ratio", "16:9", aspect_ratio="16/9")
    rejects("aspect_ratio", "size='1280x720'", aspect_ratio="1280x720")
    rejects("aspect_ratio", "not a ratio", aspect_ratio=1.77)
    rejects("aspect_ratio", "1 to 1000", aspect_ratio="16:0")


@pytest.mark.parametrize(
    ("field", "good", "bad"),
    [
        ("n", [1, 4, "2", 100], [0, -1, 101, 1.5, "one"]),
        ("width", [16, 1280, 8192], [0, 15, 8193, "wide"]),
        ("height", [16, 720, 8192], [0, -720, 9000]),
        ("fps", [1, 24, 60, 240], [0, 241, 23.976]),
        ("seed", [0, 1, 2**32 - 1, 20231234], [-1, 2**32, 1.5, "x", False]),
    ],
)
def test_whole_number_ranges(field, good, bad):
    for value in good:
        assert getattr(make(**{field: value}), field) == int(value)
    for value in bad:
        rejects(field, **{field: value})


@pytest.mark.parametrize("field", ["quality", "response_format", "user", "prompt"])
def test_text_fields_reject_empty_and_non_strings(field):
    rejects(field, "is empty", **{field: "  "})
    rejects(field, "must be a string", **{field: 42})


def test_prompt_required_unless_image_or_multi_prompt(png_file):
    err = rejects("prompt", "is required", "prompt=", prompt=None)
    assert "multi_prompt" in err.message
    assert make(prompt=None, image="https://example.com/a.png").prompt is None
    assert make(prompt=None, images=[png_file]).prompt is None
    assert make(prompt=None, input_reference=png_file).prompt is None
    shots = {"multi_prompt": [{"prompt": "a boat sails"}, {"prompt": "it sinks", "duration": 5}]}
    req = make(prompt=None, extra_body=shots)
    assert req.extra_body["multi_prompt"][1]["duration"] == 5
    # A last frame alone is not a start image.
    rejects("prompt", prompt=None, last_image=png_file)


@pytest.mark.parametrize(
    ("shots", "field", "fragment"),
    [
        ([], "extra_body['multi_prompt']", "non-empty list"),
        ("a boat", "extra_body['multi_prompt']", "list of shots"),
        ({"prompt": "x"}, "extra_body['multi_prompt']", "list of shots"),
        (["a boat"], "extra_body['multi_prompt'][0]", "dict like"),
        (
            [{"prompt": "a"}, {"promt": "b"}],
            "extra_body['multi_prompt'][1]['promt']",
            "did you mean 'prompt'?",
        ),
        ([{"duration": 5}], "extra_body['multi_prompt'][0]['prompt']", "non-empty prompt"),
        ([{"prompt": ""}], "extra_body['multi_prompt'][0]['prompt']", "non-empty prompt"),
        ([{"prompt": "a", "duration": 0}], "extra_body['multi_prompt'][0]['duration']", "from 1"),
        ([{"prompt": "a", "durtion": 3}], "extra_body['multi_prompt'][0]['durtion']", "'duration'"),
    ],
)
def test_multi_prompt_items_are_typed(shots, field, fragment):
    rejects(field, fragment, prompt=None, extra_body={"multi_prompt": shots})


# ---- unknown names -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typo", "suggestion"),
    [
        ("modle", "model"),
        ("promt", "prompt"),
        ("durration", "duration"),
        ("aspect", "aspect_ratio"),
        ("last_frame_image", "last_image"),
        ("extra", "extra_body"),
        ("sead", "seed"),
    ],
)
def test_unknown_keyword_suggests_closest_field(typo, suggestion):
    fields = {"model": "kling-v1", "prompt": "x", typo: 1}
    with pytest.raises(ValidationError) as info:
        VideoRequest(**fields)
    assert info.value.field == typo
    assert f"did you mean {suggestion!r}?" in info.value.message


def test_unknown_keyword_without_close_match_lists_fields():
    with pytest.raises(ValidationError) as info:
        VideoRequest(model="kling-v1", prompt="x", zzzz=1)
    assert "known fields:" in info.value.message
    assert "aspect_ratio" in info.value.message


def test_unknown_names_via_from_dict_and_replace():
    with pytest.raises(ValidationError, match="imgae: unknown field; did you mean 'image'"):
        VideoRequest.from_dict({"model": "kling-v1", "prompt": "x", "imgae": "https://e.com/a.png"})
    with pytest.raises(ValidationError) as info:
        make().replace(sedd=3)
    assert info.value.field == "sedd" and "'seed'" in info.value.message


def test_positional_arguments_are_refused():
    with pytest.raises(TypeError):
        VideoRequest("kling-v1", "a prompt")  # type: ignore[misc]


def test_signature_lists_every_field_for_notebook_help():
    params = inspect.signature(VideoRequest).parameters
    assert list(params) == [f.name for f in attrs.fields(VideoRequest)]
    assert params["model"].default is inspect.Parameter.empty
    assert params["prompt"].default is None
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params.values())


# ---- media fields ------------------------------------------------------------------------


def test_every_media_field_takes_every_kind(tmp_path, png_file):
    data = png_bytes()
    want = "data:image/png;base64," + base64.b64encode(data).decode()
    kinds = [
        png_file,
        str(png_file),
        data,
        base64.b64encode(data).decode(),
        want,
        Image.open(io.BytesIO(data)),
    ]
    for kind in kinds:
        req = make(image=kind, input_reference=kind, last_image=kind, images=[kind, kind])
        assert req.image == req.input_reference == req.last_image == want
        assert req.images == (want, want)
    url = "https://cdn.example.com/frame.png?token=abc"
    req = make(image=url, images=(url,), input_reference=url, last_image=url)
    assert req.to_dict()["images"] == [url]
    assert req.image == url


def test_media_errors_name_the_field(tmp_path, png_file):
    fake = tmp_path / "fake.png"
    fake.write_text("hello, I am text")
    rejects("image", "not an image", image=fake)
    rejects("last_image", "no such file", last_image=tmp_path / "missing.png")
    rejects("input_reference", "not an image", input_reference=b"not an image at all")
    err = rejects("images[1]", "not an image", images=[png_file, fake, png_file])
    assert "fake.png" in err.message


def test_images_must_be_a_list(png_file):
    rejects("images", "list of images", images=str(png_file))
    rejects("images", "image=", images=png_file)
    assert make(images=[]).images is None


def test_size_limit_applies_to_request_fields(png_file):
    from videogen_nb.core import media

    before = media.max_image_bytes()
    media.set_max_image_bytes(png_file.stat().st_size - 1)
    try:
        rejects("image", "over the", image=png_file)
        rejects("images[0]", "over the", images=[png_file])
    finally:
        media.set_max_image_bytes(before)
    assert make(image=png_file).image.startswith("data:image/png")


# ---- immutability, hashing, repr ---------------------------------------------------------


def test_request_is_frozen():
    req = make()
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        req.prompt = "changed"  # type: ignore[misc]


def test_metadata_and_extra_body_are_deep_read_only_copies():
    metadata = {"negative_prompt": "blur", "camera_control": {"type": "simple", "zoom": [1, 2]}}
    extra = {"cfg_scale": 0.5, "multi_prompt": [{"prompt": "a"}]}
    req = make(metadata=metadata, extra_body=extra)
    metadata["negative_prompt"] = "changed"
    metadata["camera_control"]["zoom"].append(3)
    extra["multi_prompt"][0]["prompt"] = "changed"
    assert req.metadata["negative_prompt"] == "blur"
    assert req.metadata["camera_control"]["zoom"] == (1, 2)
    assert req.extra_body["multi_prompt"][0]["prompt"] == "a"

    assert isinstance(req.metadata, FrozenMapping)
    with pytest.raises(TypeError):
        req.metadata["style"] = "anime"  # type: ignore[index]
    with pytest.raises(TypeError):
        req.metadata["camera_control"]["type"] = "x"  # type: ignore[index]
    with pytest.raises(AttributeError):
        req.metadata["camera_control"]["zoom"].append(4)
    with pytest.raises(AttributeError):
        req.metadata._data = {}  # type: ignore[misc]

    exported = req.to_dict()
    exported["metadata"]["camera_control"]["zoom"].append(9)
    exported["extra_body"]["cfg_scale"] = 1.0
    assert req.metadata["camera_control"]["zoom"] == (1, 2)
    assert req.extra_body["cfg_scale"] == 0.5
    assert req.metadata == {
        "negative_prompt": "blur",
        "camera_control": {"type": "simple", "zoom": [1, 2]},
    }


@pytest.mark.parametrize(
    ("field", "value", "path", "fragment"),
    [
        ("metadata", ["a"], "metadata", "mapping"),
        ("metadata", "style=anime", "metadata", "mapping"),
        ("metadata", {1: "a"}, "metadata", "keys must be strings"),
        ("metadata", {"a": {2: "b"}}, "metadata['a']", "keys must be strings"),
        ("metadata", {"a": {1, 2}}, "metadata['a']", "set is not JSON-serialisable"),
        ("metadata", {"a": [1, b"x"]}, "metadata['a'][1]", "bytes"),
        ("extra_body", {"cfg_scale": float("nan")}, "extra_body['cfg_scale']", "finite"),
        ("extra_body", {"x": float("inf")}, "extra_body['x']", "finite"),
        ("extra_body", {"when": object()}, "extra_body['when']", "object"),
    ],
)
def test_metadata_must_be_json(field, value, path, fragment):
    rejects(path, fragment, **{field: value})


def test_requests_are_hashable_values():
    a = make(metadata={"a": 1, "b": {"c": [1, 2]}}, images=["https://e.com/1.png"])
    b = make(metadata={"b": {"c": [1, 2]}, "a": 1}, images=("https://e.com/1.png",))
    assert a == b
    assert hash(a) == hash(b)
    assert len({a, b, make(seed=1)}) == 2
    assert a != make(metadata={"a": 2, "b": {"c": [1, 2]}})
    assert {a: "cached"}[b] == "cached"


def test_pickle_and_deepcopy_round_trip():
    req = make(metadata={"a": [1, {"b": None}]}, extra_body={"cfg_scale": 0.5}, seed=3)
    assert pickle.loads(pickle.dumps(req)) == req
    assert copy.deepcopy(req) == req
    assert isinstance(pickle.loads(pickle.dumps(req)).metadata["a"][1], FrozenMapping)


def test_repr_shortens_data_uris():
    big = png_bytes((1200, 900), "purple") + os.urandom(1_500_000)
    req = make(
        image=big, images=[big], metadata={"image_tail": "data:image/png;base64," + "A" * 50_000}
    )
    text = repr(req)
    assert len(text) < 600, text
    assert "model='kling-v2-5-turbo'" in text
    assert "data:image/png;base64," in text
    assert "MB)" in text
    assert base64.b64encode(big).decode()[:200] not in text
    assert "seed" not in text  # unset fields are left out
    assert len(repr(req.metadata)) < 200


# ---- dict round trip and fingerprint -----------------------------------------------------


def full_request(png: pathlib.Path) -> VideoRequest:
    return VideoRequest(
        model="kling-v3-pro-audio",
        prompt="a paper boat in the rain",
        image=png,
        images=[png, "https://example.com/b.png"],
        input_reference="https://example.com/ref.png",
        last_image=png,
        size="1280x720",
        aspect_ratio="16:9",
        quality="hd",
        duration=5,
        seconds="5",
        width=1280,
        height=720,
        fps=24,
        seed=42,
        n=1,
        response_format="url",
        user="user-1234",
        metadata={"negative_prompt": "blur", "cfg_scale": 0.5, "nested": {"x": [1, None, True]}},
        extra_body={"shot_type": "customize", "multi_prompt": [{"prompt": "a"}, {"prompt": "b"}]},
        remix_of="video_1",
    )


def test_to_dict_from_dict_round_trip_is_exact(png_file):
    req = full_request(png_file)
    data = req.to_dict()
    assert set(data) == {f.name for f in attrs.fields(VideoRequest)}
    assert json.loads(json.dumps(data)) == data  # JSON-ready
    again = VideoRequest.from_dict(data)
    assert again == req
    assert again.to_dict() == data
    assert again.fingerprint() == req.fingerprint()
    assert decode_data_uri(data["image"]) == ("image/png", png_file.read_bytes())
    assert data["seconds"] == "5" and data["images"][1] == "https://example.com/b.png"


def test_to_dict_leaves_out_unset_fields():
    assert set(make(seed=0).to_dict()) == {"model", "prompt", "seed"}


def test_fingerprint_is_sha256_of_canonical_json(png_file):
    req = full_request(png_file)
    canonical = json.dumps(req.to_dict(), sort_keys=True, separators=(",", ":"))
    assert req.fingerprint() == hashlib.sha256(canonical.encode()).hexdigest()


def test_fingerprint_identity_and_differences():
    base = make(metadata={"a": 1, "b": 2}, duration=5)
    assert base.fingerprint() == make(metadata={"b": 2, "a": 1}, duration="5").fingerprint()
    assert base.fingerprint() == make(metadata={"b": 2, "a": 1}, duration=5.0).fingerprint()
    variants = [
        base,
        base.replace(n=2),
        base.replace(seed=1),
        base.replace(seed=2),
        base.replace(duration=6),
        base.replace(metadata={"a": 1, "b": 3}),
        base.replace(model="sora-2"),
    ]
    prints = [v.fingerprint() for v in variants]
    assert len(set(prints)) == len(prints)
    assert all(len(p) == 64 and int(p, 16) >= 0 for p in prints)
    # seconds keeps its type, and the type reaches the wire, so it is part of the identity
    assert make(seconds=8).fingerprint() != make(seconds="8").fingerprint()


def test_fingerprint_is_stable_across_processes(png_file):
    script = (
        "import sys, pathlib\n"
        "from videogen_nb.core.request import VideoRequest\n"
        "req = VideoRequest(model='kling-v3-pro-audio', prompt='a paper boat',\n"
        "    image=pathlib.Path(sys.argv[1]), seed=7,\n"
        "    metadata={'z': 1, 'a': {'y': [1, 2], 'b': 'ü'}}, extra_body={'cfg_scale': 0.5})\n"
        "print(req.fingerprint())\n"
    )
    here = VideoRequest(
        model="kling-v3-pro-audio",
        prompt="a paper boat",
        image=png_file,
        seed=7,
        metadata={"a": {"b": "ü", "y": [1, 2]}, "z": 1},
        extra_body={"cfg_scale": 0.5},
    ).fingerprint()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", script, str(png_file)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    )
    assert out.stdout.strip() == here


def test_replace_validates_and_keeps_the_rest(png_file):
    req = make(image=png_file, seed=1)
    changed = req.replace(seed=2)
    assert changed.seed == 2 and req.seed == 1
    assert changed.image == req.image
    with pytest.raises(ValidationError, match="duration"):
        req.replace(duration=-1)
    assert req.replace(prompt=None).prompt is None  # the image keeps it valid
    with pytest.raises(ValidationError, match="prompt"):
        make().replace(prompt=None)


def test_public_names_are_documented():
    for name in request_module.__all__:
        obj = getattr(request_module, name)
        assert obj.__doc__, name
        for attr, member in vars(obj).items():
            if not attr.startswith("_") and callable(member):
                assert member.__doc__, f"{name}.{attr}"
