"""The ``openai`` dialect against OpenAI's published OpenAPI document.

``openai_videos_spec.json`` is the ``/videos`` part of openai/openai-openapi's
``openapi.json`` (its commit is named in its ``x-source``; ``trim_openai_spec.py`` cut it).
Every body the dialect builds, JSON and multipart, must validate against the spec's request
schema; the spec's example responses must decode into the right ``Task``; a request the
spec forbids must be refused before sending when the model is known.
"""

from __future__ import annotations

import base64
import io
import json
import pathlib
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from PIL import Image

from videogen_nb.core.errors import ValidationError
from videogen_nb.core.request import VideoRequest
from videogen_nb.core.task import TaskStatus
from videogen_nb.dialects import bind_base
from videogen_nb.dialects.base import WireRequest
from videogen_nb.dialects.decode import decode_error, decode_task
from videogen_nb.dialects.openai import OPENAI_SIZES, OpenAIDialect

SPEC: dict[str, Any] = json.loads(
    pathlib.Path(__file__).with_name("openai_videos_spec.json").read_text()
)
URL_IMG = "https://cdn.example/first-frame.png"


def _png_uri() -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), (10, 200, 30)).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _validator(schema_name: str) -> Draft202012Validator:
    # OpenAPI 3.1 schemas are JSON Schema 2020-12; refs resolve inside the trimmed document.
    schema = {"$ref": f"#/components/schemas/{schema_name}", "components": SPEC["components"]}
    return Draft202012Validator(schema)


def _request_schema(content_type: str) -> str:
    content = SPEC["paths"]["/videos"]["post"]["requestBody"]["content"]
    return str(content[content_type]["schema"]["$ref"]).rsplit("/", 1)[-1]


def _form_as_object(wire: WireRequest) -> dict[str, Any]:
    """The multipart fields as the object the spec describes (a file part is a binary string)."""
    return {
        part.name: part.value if isinstance(part.value, str) else "<binary>"
        for part in wire.form or []
    }


def _errors(validator: Draft202012Validator, body: dict[str, Any]) -> list[str]:
    return [f"{'/'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(body)]


def test_the_trimmed_spec_names_its_source() -> None:
    source = SPEC["x-source"]
    assert source["repository"] == "https://github.com/openai/openai-openapi"
    assert len(source["commit"]) == 40
    assert set(SPEC["components"]["schemas"]["VideoSize"]["enum"]) == set(OPENAI_SIZES)


JSON_REQUESTS = {
    "model and prompt only": {"model": "sora-2"},
    "model and duration": {"model": "sora-2", "duration": 8},
    "seconds as a number": {"model": "sora-2-pro", "seconds": 12},
    "seconds as a string": {"model": "sora-2", "seconds": "4"},
    "landscape ratio": {"model": "sora-2", "aspect_ratio": "16:9"},
    "portrait ratio": {"model": "sora-2", "aspect_ratio": "9:16"},
    "tall ratio on sora-2-pro": {"model": "sora-2-pro", "aspect_ratio": "4:7"},
    "size": {"model": "sora-2", "size": "1280x720", "duration": 4},
    "width and height": {"model": "sora-2", "width": 720, "height": 1280},
    "folded extras": {"model": "sora-2", "seed": 3, "fps": 24, "quality": "hd", "user": "u1"},
    "caller metadata": {"model": "sora-2", "metadata": {"style": "film"}},
    "a model the catalog does not know": {"model": "my-gateway-video", "seconds": 8},
}


@pytest.mark.parametrize("fields", JSON_REQUESTS.values(), ids=JSON_REQUESTS.keys())
def test_json_bodies_validate_against_the_spec(fields: dict[str, Any]) -> None:
    wire = OpenAIDialect().build_submit(VideoRequest(prompt="a paper boat", **fields))
    assert wire.json is not None and wire.form is None
    assert _errors(_validator(_request_schema("application/json")), wire.json) == []


def test_json_body_with_a_url_reference_validates_against_the_spec() -> None:
    # Bound to OpenAI's own API, a URL reference goes as the spec's {"image_url": ...}.
    dialect = bind_base(OpenAIDialect(), "https://api.openai.com/v1")
    wire = dialect.build_submit(
        VideoRequest(model="sora-2", prompt="a paper boat", seconds=4, image=URL_IMG)
    )
    assert wire.json is not None
    assert wire.json["input_reference"] == {"image_url": URL_IMG}
    assert _errors(_validator(_request_schema("application/json")), wire.json) == []


@pytest.mark.parametrize("base_url", ["http://127.0.0.1:8080/v1", "https://gw.example/v1"])
def test_gateways_keep_the_plain_string_reference_the_spec_refuses(base_url: str) -> None:
    # new-api decodes input_reference into a Go string: an object there fails its binding.
    dialect = bind_base(OpenAIDialect(), base_url)
    wire = dialect.build_submit(VideoRequest(model="sora-2", prompt="a boat", image=URL_IMG))
    assert wire.json is not None and wire.json["input_reference"] == URL_IMG
    assert _errors(_validator(_request_schema("application/json")), wire.json) != []


def test_a_chosen_reference_form_wins_over_the_base_url() -> None:
    forced = bind_base(OpenAIDialect(url_reference="string"), "https://api.openai.com/v1")
    wire = forced.build_submit(VideoRequest(model="sora-2", prompt="a boat", image=URL_IMG))
    assert wire.json is not None and wire.json["input_reference"] == URL_IMG
    with pytest.raises(ValidationError, match="url_reference"):
        OpenAIDialect(url_reference="dict")


MULTIPART_REQUESTS = {
    "image": {"model": "sora-2", "seconds": 8},
    "image, size and extras": {"model": "sora-2-pro", "size": "1792x1024", "seed": 7},
    "image and ratio": {"model": "sora-2", "aspect_ratio": "9:16", "duration": 4},
    "image and metadata": {"model": "sora-2", "metadata": {"negative_prompt": "blur"}},
}


@pytest.mark.parametrize("fields", MULTIPART_REQUESTS.values(), ids=MULTIPART_REQUESTS.keys())
def test_multipart_bodies_validate_against_the_spec(fields: dict[str, Any]) -> None:
    wire = OpenAIDialect().build_submit(
        VideoRequest(prompt="a paper boat", image=_png_uri(), **fields)
    )
    assert wire.form is not None and wire.json is None
    body = _form_as_object(wire)
    assert body["input_reference"] == "<binary>"
    assert _errors(_validator(_request_schema("multipart/form-data")), body) == []


def test_the_validator_does_catch_a_body_the_spec_forbids() -> None:
    # The checks above mean something only if the schema refuses what OpenAI refuses.
    errors = _errors(
        _validator(_request_schema("application/json")),
        {"prompt": "p", "seconds": 8, "size": "1024x1024"},
    )
    assert any(e.startswith("seconds:") for e in errors)
    assert any(e.startswith("size:") for e in errors)


@pytest.mark.parametrize(
    ("fields", "field", "sent"),
    [
        ({"aspect_ratio": "1:1"}, "aspect_ratio", "1024x1024"),
        ({"size": "1:1"}, "size", "1024x1024"),
        ({"size": "1024x1024"}, "size", "1024x1024"),
        ({"width": 640, "height": 480}, "width", "640x480"),
    ],
)
@pytest.mark.parametrize("model", ["sora-2", "sora-2-pro"])
def test_a_size_the_spec_forbids_is_refused_for_openai_models(
    model: str, fields: dict[str, Any], field: str, sent: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        OpenAIDialect().build_submit(VideoRequest(model=model, prompt="p", **fields))
    assert caught.value.field == field
    assert sent in str(caught.value)
    assert "720x1280, 1280x720, 1024x1792, 1792x1024" in str(caught.value)


def test_other_models_keep_the_sizes_they_ask_for() -> None:
    # A gateway's own models are not OpenAI's: their sizes are theirs to judge.
    wire = OpenAIDialect().build_submit(
        VideoRequest(model="my-gateway-video", prompt="p", aspect_ratio="1:1")
    )
    assert wire.json is not None and wire.json["size"] == "1024x1024"


def _example(path: str, method: str) -> dict[str, Any]:
    return dict(json.loads(SPEC["paths"][path][method]["x-example-response"]))


def test_create_example_decodes_into_a_queued_task() -> None:
    example = _example("/videos", "post")
    assert _errors(_validator("VideoResource"), example) != []  # the example omits nullables
    task = decode_task(example)
    assert (task.id, task.status, task.progress, task.model) == (
        "video_123",
        TaskStatus.QUEUED,
        0,
        "sora-2",
    )
    assert task.created_at == 1712697600
    assert task.video_url is None
    assert task.raw == example


def test_remix_example_decodes_into_a_new_queued_task() -> None:
    example = _example("/videos/{video_id}/remix", "post")
    task = decode_task(example)
    assert (task.id, task.status) == ("video_456", TaskStatus.QUEUED)
    assert task.raw["remixed_from_video_id"] == "video_123"


def test_list_example_items_decode_into_completed_tasks() -> None:
    example = _example("/videos", "get")
    tasks = [decode_task(item) for item in example["data"]]
    assert [(t.id, t.status, t.progress) for t in tasks] == [
        ("video_123", TaskStatus.COMPLETED, 100)
    ]
    # OpenAI's object carries no URL: the bytes come from /content.
    assert tasks[0].video_url is None


def _resource(**changes: Any) -> dict[str, Any]:
    """A complete ``VideoResource`` (every field the spec requires), checked against it."""
    body: dict[str, Any] = {
        "id": "video_123",
        "object": "video",
        "model": "sora-2",
        "status": "in_progress",
        "progress": 40,
        "created_at": 1712697600,
        "completed_at": None,
        "expires_at": None,
        "prompt": "a paper boat",
        "size": "1280x720",
        "seconds": "8",
        "remixed_from_video_id": None,
        "error": None,
        **changes,
    }
    assert _errors(_validator("VideoResource"), body) == []
    return body


@pytest.mark.parametrize(
    ("changes", "status", "progress", "error"),
    [
        ({"status": "queued", "progress": 0}, TaskStatus.QUEUED, 0, None),
        ({}, TaskStatus.IN_PROGRESS, 40, None),
        (
            {"status": "completed", "progress": 100, "completed_at": 1712697700},
            TaskStatus.COMPLETED,
            100,
            None,
        ),
        (
            {
                "status": "failed",
                "progress": 100,
                "error": {"code": "moderation_blocked", "message": "Blocked by moderation."},
            },
            TaskStatus.FAILED,
            100,
            "Blocked by moderation.",
        ),
    ],
)
def test_every_status_of_the_spec_decodes(
    changes: dict[str, Any], status: TaskStatus, progress: int, error: str | None
) -> None:
    task = decode_task(_resource(**changes))
    assert (task.id, task.status, task.progress, task.error) == (
        "video_123",
        status,
        progress,
        error,
    )
    if status is TaskStatus.FAILED:
        assert task.error_code == "moderation_blocked"


def test_spec_statuses_are_all_known_to_the_decoder() -> None:
    for status in SPEC["components"]["schemas"]["VideoStatus"]["enum"]:
        assert decode_task(_resource(status=status)).status_text == status


@pytest.mark.parametrize(
    ("status", "body", "named"),
    [
        (
            422,
            {
                "error": {
                    "message": "Your request is not valid",
                    "param": "seconds",
                    "validation": [{"location": ["body", "seconds"], "message": "4, 8 or 12"}],
                }
            },
            "Your request is not valid (seconds: 4, 8 or 12)",
        ),
        (
            400,
            {"error": {"message": "Invalid value: '1024x1024'.", "param": "size", "code": "x"}},
            "Invalid value: '1024x1024'. (size)",
        ),
        (
            422,
            {
                "code": "invalid_request",
                "message": "Validation failed",
                "validation": [{"location": ["body", "size"], "message": "bad"}],
            },
            "Validation failed (size: bad)",
        ),
        (422, {"detail": [{"loc": ["body", "prompt"], "msg": "field required"}]}, "prompt"),
    ],
)
def test_error_answers_keep_the_fields_at_fault(
    status: int, body: dict[str, Any], named: str
) -> None:
    assert named in str(decode_error(status, body))


def test_a_message_that_names_its_field_is_left_alone() -> None:
    body = {"error": {"message": "size must be 1280x720", "param": "size"}}
    assert decode_error(400, body).message == "size must be 1280x720"
