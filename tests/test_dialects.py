"""Encoding per dialect: exact bodies, folding, multipart parts, routes; and get_dialect."""

from __future__ import annotations

import base64
import io
import json
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from PIL import Image

from videogen_nb.core.errors import NotSupportedError, ValidationError
from videogen_nb.core.request import VideoRequest
from videogen_nb.dialects import (
    AUTO_ORDER,
    DIALECT_NAMES,
    Dialect,
    FormPart,
    KlingDialect,
    OpenAIDialect,
    UnifiedDialect,
    WireRequest,
    auto_fallback,
    get_dialect,
)
from videogen_nb.dialects.base import split_data_uri, whole_number

URL_IMG = "https://example.com/start-frame.png"
URL_LAST = "https://example.com/last-frame.png"


def _image_bytes(fmt: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (4, 4), (200, 30, 60)).save(out, format=fmt)
    return out.getvalue()


PNG = _image_bytes("PNG")
JPEG = _image_bytes("JPEG")
PNG_URI = "data:image/png;base64," + base64.b64encode(PNG).decode()
JPEG_URI = "data:image/jpeg;base64," + base64.b64encode(JPEG).decode()


def _has_none(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, dict):
        return any(_has_none(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_none(v) for v in value)
    return False


# --- unified --------------------------------------------------------------------------------

UNIFIED_CASES: list[tuple[str, dict[str, Any], dict[str, Any], dict[str, Any]]] = [
    (
        "text to video: duration is an int",
        {"model": "kling-v1", "prompt": "a golden retriever", "duration": 5, "size": "1280x720"},
        {},
        {"model": "kling-v1", "prompt": "a golden retriever", "size": "1280x720", "duration": 5},
    ),
    (
        "seconds int goes as a string",
        {"model": "sora-2", "prompt": "p", "seconds": 8},
        {},
        {"model": "sora-2", "prompt": "p", "seconds": "8"},
    ),
    (
        "seconds string stays a string, duration stays an int, neither invented",
        {"model": "sora-2", "prompt": "p", "seconds": "4", "duration": 4},
        {},
        {"model": "sora-2", "prompt": "p", "duration": 4, "seconds": "4"},
    ),
    (
        "fields new-api ignores are folded into metadata",
        {
            "model": "kling-v1",
            "prompt": "p",
            "width": 1280,
            "height": 720,
            "fps": 30,
            "seed": 20231234,
            "n": 1,
            "response_format": "url",
            "user": "user-1234",
            "quality": "hd",
        },
        {},
        {
            "model": "kling-v1",
            "prompt": "p",
            "metadata": {
                "width": 1280,
                "height": 720,
                "fps": 30,
                "seed": 20231234,
                "n": 1,
                "response_format": "url",
                "user": "user-1234",
                "quality": "hd",
            },
        },
    ),
    (
        "a key the user already put in metadata wins over a folded one",
        {
            "model": "kling-v1",
            "prompt": "p",
            "seed": 1,
            "fps": 24,
            "metadata": {"seed": 99, "negative_prompt": "blur"},
        },
        {},
        {
            "model": "kling-v1",
            "prompt": "p",
            "metadata": {"seed": 99, "negative_prompt": "blur", "fps": 24},
        },
    ),
    (
        "top_level pins a field",
        {"model": "kling-v1", "prompt": "p", "seed": 7, "quality": "hd"},
        {"top_level": ("seed",)},
        {"model": "kling-v1", "prompt": "p", "seed": 7, "metadata": {"quality": "hd"}},
    ),
    (
        "metadata passes through unchanged",
        {
            "model": "kling-v1",
            "prompt": "p",
            "metadata": {
                "camera_control": {"type": "simple", "config": {"zoom": 5}},
                "style": "anime",
            },
        },
        {},
        {
            "model": "kling-v1",
            "prompt": "p",
            "metadata": {
                "camera_control": {"type": "simple", "config": {"zoom": 5}},
                "style": "anime",
            },
        },
    ),
    (
        "aspect_ratio top-level for uniall and as size for new-api",
        {"model": "kling-v1", "prompt": "p", "aspect_ratio": "9:16"},
        {},
        {"model": "kling-v1", "prompt": "p", "size": "9:16", "aspect_ratio": "9:16"},
    ),
    (
        "an explicit size is not overwritten by aspect_ratio",
        {"model": "kling-v1", "prompt": "p", "aspect_ratio": "16:9", "size": "1920x1080"},
        {},
        {"model": "kling-v1", "prompt": "p", "size": "1920x1080", "aspect_ratio": "16:9"},
    ),
    (
        "image to video with first and last frame; media as given",
        {
            "model": "kling-v1",
            "prompt": "p",
            "image": URL_IMG,
            "last_image": URL_LAST,
            "images": (URL_IMG, URL_LAST),
            "input_reference": URL_IMG,
        },
        {},
        {
            "model": "kling-v1",
            "prompt": "p",
            "image": URL_IMG,
            "images": [URL_IMG, URL_LAST],
            "input_reference": URL_IMG,
            "last_image": URL_LAST,
        },
    ),
    (
        "extra_body top-level (uniall) and mirrored under metadata (new-api); metadata wins",
        {
            "model": "kling-v3-std-audio",
            "image": URL_IMG,
            "duration": 10,
            "metadata": {"cfg_scale": 0.9},
            "extra_body": {
                "multi_prompt": [{"prompt": "a"}, {"prompt": "b"}],
                "cfg_scale": 0.5,
                "shot_type": "customize",
            },
        },
        {},
        {
            "model": "kling-v3-std-audio",
            "image": URL_IMG,
            "duration": 10,
            "metadata": {
                "cfg_scale": 0.9,
                "multi_prompt": [{"prompt": "a"}, {"prompt": "b"}],
                "shot_type": "customize",
            },
            "extra_body": {
                "multi_prompt": [{"prompt": "a"}, {"prompt": "b"}],
                "cfg_scale": 0.5,
                "shot_type": "customize",
            },
        },
    ),
    (
        "mirror_extra_body=False keeps extra_body out of metadata",
        {"model": "kling-v1", "prompt": "p", "extra_body": {"shot_type": "intelligent"}},
        {"mirror_extra_body": False},
        {"model": "kling-v1", "prompt": "p", "extra_body": {"shot_type": "intelligent"}},
    ),
    (
        "a data URI image goes as a string",
        {"model": "kling-v1", "prompt": "p", "image": PNG_URI},
        {},
        {"model": "kling-v1", "prompt": "p", "image": PNG_URI},
    ),
]


@pytest.mark.parametrize(
    ("fields", "options", "expected"),
    [pytest.param(f, o, e, id=name) for name, f, o, e in UNIFIED_CASES],
)
def test_unified_bodies(
    fields: dict[str, Any], options: dict[str, Any], expected: dict[str, Any]
) -> None:
    req = VideoRequest(**fields)
    before = req.to_dict()
    for dialect in (UnifiedDialect(**options), get_dialect("unified", **options)):
        wire = dialect.build_submit(req)
        assert wire == WireRequest(method="POST", path="/v1/video/generations", json=expected)
        assert json.dumps(wire.json) == json.dumps(expected)  # same key order, same JSON types
        assert not _has_none(wire.json)
    assert req.to_dict() == before


def test_unified_types_on_the_wire() -> None:
    body = (
        UnifiedDialect()
        .build_submit(VideoRequest(model="m", prompt="p", duration=5, seconds=5))
        .json
    )
    assert body is not None
    assert type(body["duration"]) is int and type(body["seconds"]) is str
    assert json.dumps(body) == '{"model": "m", "prompt": "p", "duration": 5, "seconds": "5"}'


def test_unified_body_is_a_copy() -> None:
    req = VideoRequest(
        model="m",
        prompt="p",
        seed=1,
        metadata={"style": "anime"},
        extra_body={"multi_prompt": [{"prompt": "x"}]},
    )
    before = req.to_dict()
    body = UnifiedDialect().build_submit(req).json
    assert body is not None
    body["metadata"]["style"] = "changed"
    body["extra_body"]["multi_prompt"].append({"prompt": "y"})
    assert req.to_dict() == before
    assert UnifiedDialect().build_submit(req).json != body


def test_unified_routes() -> None:
    dialect = UnifiedDialect()
    assert dialect.poll_paths("task_abc") == [
        "/v1/video/generations/task_abc",
        "/v1/videos/task_abc",
    ]
    assert dialect.content_path("task_abc") == "/v1/videos/task_abc/content"
    assert dialect.build_cancel("task_abc") is None
    # LiteLLM-style ids carry base64: one path segment, escaped
    assert dialect.poll_paths("dmlk/ZW8=")[1] == "/v1/videos/dmlk%2FZW8%3D"
    with pytest.raises(ValidationError):
        dialect.poll_paths("")


@pytest.mark.parametrize("option", [("width", "bogus"), ("model",), "prompt"])
def test_unified_top_level_rejects_unknown_fields(option: Any) -> None:
    with pytest.raises(ValidationError) as info:
        UnifiedDialect(top_level=option)
    assert info.value.field == "top_level"


def test_unified_top_level_accepts_a_single_name() -> None:
    body = (
        UnifiedDialect(top_level="user")
        .build_submit(VideoRequest(model="m", prompt="p", user="u1"))
        .json
    )
    assert body == {"model": "m", "prompt": "p", "user": "u1"}


# --- openai ---------------------------------------------------------------------------------

OPENAI_CASES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    (
        "seconds is a string, from seconds",
        {"model": "sora-2", "prompt": "p", "seconds": 8, "size": "1280x720"},
        {"model": "sora-2", "prompt": "p", "seconds": "8", "size": "1280x720"},
    ),
    (
        "seconds from duration",
        {"model": "sora-2", "prompt": "p", "duration": 12},
        {"model": "sora-2", "prompt": "p", "seconds": "12"},
    ),
    (
        "size from width and height",
        {"model": "sora-2", "prompt": "p", "width": 720, "height": 1280},
        {"model": "sora-2", "prompt": "p", "size": "720x1280"},
    ),
    (
        "ratio size 16:9",
        {"model": "sora-2", "prompt": "p", "size": "16:9"},
        {"model": "sora-2", "prompt": "p", "size": "1280x720"},
    ),
    (
        "aspect_ratio 9:16",
        {"model": "sora-2", "prompt": "p", "aspect_ratio": "9:16"},
        {"model": "sora-2", "prompt": "p", "size": "720x1280"},
    ),
    (
        "a URL image maps to input_reference in a JSON body",
        {"model": "sora-2", "prompt": "p", "image": URL_IMG, "seconds": "4"},
        {"model": "sora-2", "prompt": "p", "seconds": "4", "input_reference": URL_IMG},
    ),
    (
        "unused fields folded into metadata, user metadata wins",
        {
            "model": "sora-2",
            "prompt": "p",
            "size": "1792x1024",
            "seed": 3,
            "quality": "hd",
            "aspect_ratio": "16:9",
            "metadata": {"quality": "standard"},
        },
        {
            "model": "sora-2",
            "prompt": "p",
            "size": "1792x1024",
            "metadata": {"quality": "standard", "aspect_ratio": "16:9", "seed": 3},
        },
    ),
    (
        "extra_body merges into the top level (as the OpenAI SDK does)",
        {"model": "sora-2", "prompt": "p", "extra_body": {"remix_video_id": "video_1"}},
        {"model": "sora-2", "prompt": "p", "remix_video_id": "video_1"},
    ),
]


@pytest.mark.parametrize(
    ("fields", "expected"), [pytest.param(f, e, id=name) for name, f, e in OPENAI_CASES]
)
def test_openai_json_bodies(fields: dict[str, Any], expected: dict[str, Any]) -> None:
    req = VideoRequest(**fields)
    wire = OpenAIDialect().build_submit(req)
    assert wire.method == "POST" and wire.path == "/v1/videos" and wire.form is None
    assert wire.json == expected
    assert json.dumps(wire.json, sort_keys=True) == json.dumps(expected, sort_keys=True)


def test_openai_multipart_for_a_local_image() -> None:
    req = VideoRequest(
        model="sora-2", prompt="a boat", seconds=4, size="1280x720", input_reference=PNG_URI, seed=5
    )
    wire = OpenAIDialect().build_submit(req)
    assert wire.json is None and wire.form is not None
    mime, sent_bytes = split_data_uri(req.input_reference or "", "input_reference")
    assert wire.form == [
        FormPart(name="model", value="sora-2"),
        FormPart(name="prompt", value="a boat"),
        FormPart(name="seconds", value="4"),
        FormPart(name="size", value="1280x720"),
        FormPart(name="metadata", value='{"seed": 5}'),
        FormPart(
            name="input_reference",
            value=sent_bytes,
            filename="input_reference.png",
            content_type="image/png",
        ),
    ]
    assert mime == "image/png"
    assert Image.open(io.BytesIO(sent_bytes)).size == (4, 4)
    assert "bytes>" in repr(wire.form[-1])  # the image is not dumped into reprs


def test_openai_image_maps_to_input_reference_and_jpeg_gets_jpg() -> None:
    wire = OpenAIDialect().build_submit(VideoRequest(model="sora-2", prompt="p", image=JPEG_URI))
    assert wire.form is not None
    file_part = wire.form[-1]
    assert (file_part.name, file_part.filename, file_part.content_type) == (
        "input_reference",
        "input_reference.jpg",
        "image/jpeg",
    )
    assert Image.open(io.BytesIO(file_part.value)).format == "JPEG"  # type: ignore[arg-type]
    assert [p.name for p in wire.form] == ["model", "prompt", "input_reference"]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"image": URL_IMG, "last_image": URL_LAST}, "last_image"),
        ({"image": URL_IMG, "input_reference": URL_LAST}, "images"),
        ({"images": (URL_IMG, URL_LAST)}, "images"),
        ({"size": "4:3"}, "size"),
        ({"aspect_ratio": "21:9"}, "aspect_ratio"),
    ],
)
def test_openai_refuses_what_it_cannot_send(fields: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        OpenAIDialect().build_submit(VideoRequest(model="sora-2", prompt="p", **fields))
    assert info.value.field == field


def test_openai_routes_and_cancel() -> None:
    dialect = OpenAIDialect()
    assert dialect.poll_paths("video_68d") == ["/v1/videos/video_68d"]
    assert dialect.content_path("video_68d") == "/v1/videos/video_68d/content"
    assert dialect.build_cancel("video_68d") == WireRequest(
        method="DELETE", path="/v1/videos/video_68d"
    )


async def test_openai_form_parts_arrive_as_multipart_over_http() -> None:
    """The parts, sent the obvious aiohttp way, reach a real server as fields and a file."""
    received: dict[str, Any] = {}

    async def handler(request: web.Request) -> web.Response:
        reader = await request.multipart()
        async for part in reader:
            assert isinstance(part, aiohttp.BodyPartReader)
            received[part.name or ""] = (
                part.filename,
                part.headers.get("Content-Type"),
                await part.read(),
            )
        return web.json_response({"id": "video_1", "status": "queued"})

    app = web.Application()
    app.router.add_post("/v1/videos", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        wire = OpenAIDialect().build_submit(
            VideoRequest(model="sora-2", prompt="a boat", seconds="8", input_reference=PNG_URI)
        )
        form = aiohttp.FormData()
        for part in wire.form or []:
            form.add_field(
                part.name, part.value, filename=part.filename, content_type=part.content_type
            )
        async with (
            aiohttp.ClientSession() as session,
            session.post(f"http://127.0.0.1:{port}{wire.path}", data=form) as response,
        ):
            assert response.status == 200
    finally:
        await runner.cleanup()
    assert received["model"][2] == b"sora-2"
    assert received["seconds"][2] == b"8"
    filename, content_type, data = received["input_reference"]
    assert (filename, content_type) == ("input_reference.png", "image/png")
    assert Image.open(io.BytesIO(data)).size == (4, 4)


# --- kling ----------------------------------------------------------------------------------

KLING_CASES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    (
        "seed 003 text-to-video: duration is a string",
        {
            "model": "kling-v3-std-silent",
            "prompt": "camera moves",
            "aspect_ratio": "16:9",
            "duration": 5,
            "extra_body": {"cfg_scale": 0.5, "shot_type": "customize", "negative_prompt": "blur"},
        },
        {
            "model": "kling-v3-std-silent",
            "prompt": "camera moves",
            "aspect_ratio": "16:9",
            "duration": "5",
            "extra_body": {"cfg_scale": 0.5, "shot_type": "customize", "negative_prompt": "blur"},
        },
    ),
    (
        "seed 003 first-and-last frame",
        {
            "model": "kling-v3-pro-silent",
            "prompt": "keep identity",
            "image": URL_IMG,
            "last_image": URL_LAST,
            "duration": 8,
            "extra_body": {"cfg_scale": 0.5, "shot_type": "customize"},
        },
        {
            "model": "kling-v3-pro-silent",
            "prompt": "keep identity",
            "image": URL_IMG,
            "last_image": URL_LAST,
            "duration": "8",
            "extra_body": {"cfg_scale": 0.5, "shot_type": "customize"},
        },
    ),
    (
        "seed 003 multi_prompt without prompt",
        {
            "model": "kling-v3-std-audio",
            "image": URL_IMG,
            "duration": 10,
            "extra_body": {
                "multi_prompt": [{"prompt": "a"}, {"prompt": "b"}],
                "shot_type": "customize",
            },
        },
        {
            "model": "kling-v3-std-audio",
            "image": URL_IMG,
            "duration": "10",
            "extra_body": {
                "multi_prompt": [{"prompt": "a"}, {"prompt": "b"}],
                "shot_type": "customize",
            },
        },
    ),
    (
        "metadata vendor fields move into extra_body; extra_body keeps its own",
        {
            "model": "kling-v1",
            "prompt": "p",
            "metadata": {"negative_prompt": "blur", "cfg_scale": 0.9},
            "extra_body": {"cfg_scale": 0.5},
        },
        {
            "model": "kling-v1",
            "prompt": "p",
            "extra_body": {"negative_prompt": "blur", "cfg_scale": 0.5},
        },
    ),
    (
        "WxH size reduced by gcd",
        {"model": "kling-v1", "prompt": "p", "size": "1920x1080"},
        {"model": "kling-v1", "prompt": "p", "aspect_ratio": "16:9"},
    ),
    (
        "portrait size",
        {"model": "kling-v1", "prompt": "p", "size": "720x1280", "seconds": "5"},
        {"model": "kling-v1", "prompt": "p", "aspect_ratio": "9:16", "duration": "5"},
    ),
    (
        "square size",
        {"model": "kling-v1", "prompt": "p", "size": "1024x1024"},
        {"model": "kling-v1", "prompt": "p", "aspect_ratio": "1:1"},
    ),
    (
        "ratio size",
        {"model": "kling-v1", "prompt": "p", "size": "9:16"},
        {"model": "kling-v1", "prompt": "p", "aspect_ratio": "9:16"},
    ),
    (
        "width and height",
        {"model": "kling-v1", "prompt": "p", "width": 1280, "height": 720},
        {"model": "kling-v1", "prompt": "p", "aspect_ratio": "16:9"},
    ),
    (
        "explicit aspect_ratio wins over size and is sent as given",
        {"model": "kling-v1", "prompt": "p", "aspect_ratio": "4:3", "size": "1280x720"},
        {"model": "kling-v1", "prompt": "p", "aspect_ratio": "4:3"},
    ),
    (
        "other fields go top-level as given",
        {"model": "kling-v1", "prompt": "p", "seed": 3, "quality": "hd"},
        {"model": "kling-v1", "prompt": "p", "seed": 3, "quality": "hd"},
    ),
]


@pytest.mark.parametrize(
    ("fields", "expected"), [pytest.param(f, e, id=name) for name, f, e in KLING_CASES]
)
def test_kling_bodies(fields: dict[str, Any], expected: dict[str, Any]) -> None:
    req = VideoRequest(**fields)
    before = req.to_dict()
    wire = KlingDialect().build_submit(req)
    assert wire.method == "POST" and wire.path == "/v1/video/generations"
    assert wire.json == expected
    assert not _has_none(wire.json)
    assert req.to_dict() == before


@pytest.mark.parametrize(
    ("fields", "field"),
    [({"size": "1792x1024"}, "size"), ({"width": 1000, "height": 750}, "width")],
)
def test_kling_rejects_ratios_it_does_not_accept(fields: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        KlingDialect().build_submit(VideoRequest(model="kling-v1", prompt="p", **fields))
    assert info.value.field == field
    assert "16:9" in str(info.value)


def test_kling_allowed_ratios_are_an_option() -> None:
    wire = KlingDialect(aspect_ratios=("7:4",)).build_submit(
        VideoRequest(model="kling-v1", prompt="p", size="1792x1024")
    )
    assert wire.json == {"model": "kling-v1", "prompt": "p", "aspect_ratio": "7:4"}


def test_kling_routes() -> None:
    dialect = KlingDialect()
    assert dialect.poll_paths("t1") == ["/v1/video/generations/t1", "/v1/videos/t1"]
    assert dialect.content_path("t1") == "/v1/videos/t1/content"
    assert dialect.build_cancel("t1") is None


# --- get_dialect and shared pieces ----------------------------------------------------------


def test_get_dialect_names() -> None:
    assert DIALECT_NAMES == ("unified", "openai", "kling", "openrouter")
    for name in DIALECT_NAMES:
        assert get_dialect(name).name == name
    assert isinstance(get_dialect(" OpenAI "), OpenAIDialect)
    assert get_dialect("unified", top_level=("seed", "fps")).top_level == ("seed", "fps")  # type: ignore[attr-defined]


def test_auto_tries_unified_then_openai_then_openrouter() -> None:
    assert AUTO_ORDER == ("unified", "openai", "openrouter")
    base = "http://gw.example"
    names = []
    dialect: Dialect | None = get_dialect("unified")
    while dialect is not None:
        names.append(dialect.name)
        dialect = auto_fallback(dialect, base)
    assert names == list(AUTO_ORDER)
    assert auto_fallback(get_dialect("kling"), base) is None  # chosen explicitly: no probing


def test_only_openai_has_remix_and_every_dialect_names_its_model_list() -> None:
    assert [name for name in DIALECT_NAMES if get_dialect(name).supports_remix] == ["openai"]
    for name in ("unified", "kling", "openrouter"):
        with pytest.raises(NotSupportedError, match=f"the {name} dialect has no remix call"):
            get_dialect(name).check_remix()
    assert {get_dialect(name).models_path() for name in ("unified", "openai", "kling")} == {
        "/v1/models"
    }
    assert get_dialect("openrouter").models_path() == "/api/v1/videos/models"


@pytest.mark.parametrize(
    ("name", "options", "text"),
    [
        ("auto", {}, "client"),
        ("veo", {}, "unified, openai, kling, openrouter"),
        ("kling", {"top_level": ("seed",)}, "bad option"),
    ],
)
def test_get_dialect_errors(name: str, options: dict[str, Any], text: str) -> None:
    with pytest.raises(ValidationError) as info:
        get_dialect(name, **options)
    assert info.value.field == "dialect"
    assert text in str(info.value)


def test_wire_request_checks() -> None:
    assert WireRequest(method="post", path="/v1/videos").method == "POST"
    with pytest.raises(ValueError):
        WireRequest(method="POST", path="v1/videos")
    with pytest.raises(ValueError):
        WireRequest(
            method="POST", path="/v1/videos", json={"a": 1}, form=[FormPart(name="a", value="1")]
        )


@pytest.mark.parametrize(
    ("value", "expected"), [(5, 5), (5.0, 5), ("5", 5), ("10.0", 10), (None, None)]
)
def test_whole_number(value: Any, expected: int | None) -> None:
    assert whole_number(value, "duration") == expected


@pytest.mark.parametrize("value", [5.5, 0, -1, "five", True, float("inf")])
def test_whole_number_rejects(value: Any) -> None:
    with pytest.raises(ValidationError) as info:
        whole_number(value, "duration")
    assert info.value.field == "duration"
