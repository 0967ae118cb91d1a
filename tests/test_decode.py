"""The tolerant decoder against every response shape of GATEWAYS.md, plus edge cases."""

from __future__ import annotations

import datetime
import email.utils
import json
import logging
import uuid
from typing import Any

import pytest

from videogen_nb.core.errors import (
    APIConnectionError,
    APIError,
    AuthenticationError,
    BadRequestError,
    RateLimitError,
    ServerError,
)
from videogen_nb.core.task import TaskStatus
from videogen_nb.dialects.decode import (
    decode_error,
    decode_models,
    decode_task,
    parse_poll_after,
    parse_retry_after,
    parse_status,
)

Q, R, C, F, X = (
    TaskStatus.QUEUED,
    TaskStatus.IN_PROGRESS,
    TaskStatus.COMPLETED,
    TaskStatus.FAILED,
    TaskStatus.CANCELLED,
)
MP4 = "https://cdn.example.com/out/v.mp4"

# --- every JSON example of GATEWAYS.md, one row each ------------------------------------------
# (id, body, expected Task attributes)
GATEWAY_SHAPES: list[tuple[str, Any, dict[str, Any]]] = [
    (
        "new-api submit",
        {
            "id": "task_9Xq",
            "task_id": "task_9Xq",
            "object": "video",
            "model": "kling-v1",
            "status": "queued",
            "progress": 0,
            "created_at": 1760000000,
        },
        {
            "id": "task_9Xq",
            "status": Q,
            "progress": 0,
            "model": "kling-v1",
            "created_at": 1760000000.0,
            "video_url": None,
            "error": None,
        },
    ),
    (
        "ezmodel submit (seed 000)",
        {"id": "gen_1", "object": "video.generation", "created": 1731000000, "status": "pending"},
        {"id": "gen_1", "status": Q, "progress": None, "created_at": 1731000000.0},
    ),
    (
        "seed 004 submit in_progress",
        {
            "id": "task_4",
            "task_id": "task_4",
            "object": "video",
            "status": "in_progress",
            "progress": 0,
        },
        {"id": "task_4", "status": R, "progress": 0},
    ),
    (
        "new-api /v1/videos completed, metadata.url, millisecond timestamps",
        {
            "id": "task_m",
            "task_id": "task_m",
            "object": "video",
            "model": "",
            "status": "completed",
            "progress": 100,
            "created_at": 1766737710125,
            "completed_at": 1766737811000,
            "seconds": "5",
            "metadata": {"url": MP4},
        },
        {
            "id": "task_m",
            "status": C,
            "progress": 100,
            "video_url": MP4,
            "model": None,
            "created_at": 1766737710.125,
            "completed_at": 1766737811.0,
        },
    ),
    (
        "new-api status unknown right after submit (internal NOT_START)",
        {
            "id": "task_u",
            "task_id": "task_u",
            "object": "video",
            "status": "unknown",
            "progress": 0,
        },
        {"id": "task_u", "status": Q, "status_text": "unknown"},
    ),
    (
        "metadata.url present but empty before the first upstream poll",
        {
            "id": "task_e",
            "object": "video",
            "status": "in_progress",
            "progress": 10,
            "metadata": {"url": ""},
        },
        {"id": "task_e", "status": R, "progress": 10, "video_url": None},
    ),
    (
        "metadata.url empty on completed: no URL, the client falls back to /content",
        {"id": "task_e2", "object": "video", "status": "completed", "metadata": {"url": ""}},
        {"id": "task_e2", "status": C, "video_url": None, "progress": 100},
    ),
    (
        "new-api failure with error object",
        {
            "id": "task_f",
            "object": "video",
            "status": "failed",
            "progress": 100,
            "error": {"message": "content policy violation", "code": "policy"},
        },
        {
            "id": "task_f",
            "status": F,
            "error": "content policy violation",
            "error_code": "policy",
            "video_url": None,
        },
    ),
    (
        "newer new-api: gateway artifact URL",
        {
            "id": "task_g",
            "object": "video",
            "status": "completed",
            "progress": 100,
            "metadata": {
                "url": "https://gw.example/v1/tasks/task_g/artifacts/video/content?access=tok"
            },
        },
        {
            "status": C,
            "video_url": "https://gw.example/v1/tasks/task_g/artifacts/video/content?access=tok",
        },
    ),
    (
        "gateway artifact as a path, resolved by the client",
        {
            "id": "task_g2",
            "object": "video",
            "status": "completed",
            "metadata": {"url": "/v1/tasks/task_g2/artifacts/video/content?access=tok"},
        },
        {"status": C, "video_url": "/v1/tasks/task_g2/artifacts/video/content?access=tok"},
    ),
    (
        "new-api /v1/video/generations wrapper, SUCCESS, progress string, raw vendor JSON",
        {
            "code": "success",
            "message": "",
            "data": {
                "task_id": "task_w",
                "status": "SUCCESS",
                "fail_reason": "",
                "result_url": MP4,
                "progress": "100%",
                "submit_time": 1760000000,
                "finish_time": 1760000090,
                "data": {"code": 0, "data": {"task_id": "vendor_1", "task_status": "succeed"}},
            },
        },
        {
            "id": "task_w",
            "status": C,
            "progress": 100,
            "video_url": MP4,
            "created_at": 1760000000.0,
            "completed_at": 1760000090.0,
            "status_text": "SUCCESS",
        },
    ),
    (
        "new-api wrapper, Gemini/Vertex channel",
        {
            "code": "success",
            "data": {"status": "succeeded", "url": MP4, "format": "mp4", "task_id": "task_v"},
        },
        {"id": "task_v", "status": C, "video_url": MP4},
    ),
    (
        "older new-api: failed task with failure text in result_url",
        {
            "code": "success",
            "message": "",
            "data": {
                "task_id": "task_o",
                "status": "FAILURE",
                "fail_reason": "",
                "result_url": "upstream error: quota exhausted",
                "progress": "100%",
            },
        },
        {
            "id": "task_o",
            "status": F,
            "video_url": None,
            "error": "upstream error: quota exhausted",
        },
    ),
    (
        "new-api wrapper, FAILURE with fail_reason",
        {
            "code": "success",
            "message": "",
            "data": {
                "task_id": "task_o2",
                "status": "FAILURE",
                "fail_reason": "图片审核未通过",
                "result_url": "",
                "progress": "100%",
            },
        },
        {"status": F, "error": "图片审核未通过"},
    ),
    (
        "OpenAI video object, in progress",
        {
            "id": "video_68d",
            "object": "video",
            "model": "sora-2",
            "status": "in_progress",
            "progress": 33,
            "created_at": 1758941485,
            "expires_at": 1759027885,
            "seconds": "8",
            "size": "1280x720",
        },
        {
            "id": "video_68d",
            "status": R,
            "progress": 33,
            "model": "sora-2",
            "expires_at": 1759027885.0,
        },
    ),
    (
        "OpenAI video object, completed without URL",
        {
            "id": "video_68d",
            "object": "video",
            "model": "sora-2",
            "status": "completed",
            "progress": 100,
            "created_at": 1758941485,
            "completed_at": 1758941600,
            "seconds": "8",
            "size": "1280x720",
        },
        {"status": C, "video_url": None, "completed_at": 1758941600.0},
    ),
    (
        "OpenAI video object, failed",
        {
            "id": "video_x",
            "object": "video",
            "status": "failed",
            "progress": 0,
            "error": {"code": "moderation_blocked", "message": "Your request was blocked."},
        },
        {"status": F, "error": "Your request was blocked.", "error_code": "moderation_blocked"},
    ),
    (
        "Kling raw: task_status and task_result",
        {
            "code": 0,
            "message": "SUCCEED",
            "request_id": "r1",
            "data": {
                "task_id": "kl_1",
                "task_status": "succeed",
                "created_at": 1760000000123,
                "task_result": {"videos": [{"id": "v", "url": MP4, "duration": "5"}]},
            },
        },
        {"id": "kl_1", "status": C, "video_url": MP4, "created_at": 1760000000.123},
    ),
    (
        "Kling raw: failed with task_status_msg",
        {
            "code": 0,
            "message": "SUCCEED",
            "data": {"task_id": "kl_2", "task_status": "failed", "task_status_msg": "risk control"},
        },
        {"id": "kl_2", "status": F, "error": "risk control"},
    ),
    (
        "LiteLLM base64 id",
        {"id": "dmlkZW9fYWJj/ZGVm==", "object": "video", "status": "queued"},
        {"id": "dmlkZW9fYWJj/ZGVm==", "status": Q},
    ),
    (
        "failure as a plain error string",
        {"task_id": "t_s", "status": "error", "error": "upstream timeout"},
        {"status": F, "error": "upstream timeout", "error_code": None},
    ),
    (
        "cancelled and expired end the task",
        {"id": "t_c", "status": "expired"},
        {"status": X, "video_url": None},
    ),
]


@pytest.mark.parametrize(
    ("body", "expected"),
    [pytest.param(body, expected, id=name) for name, body, expected in GATEWAY_SHAPES],
)
def test_gateway_shapes(body: Any, expected: dict[str, Any]) -> None:
    task = decode_task(body)
    for name, value in expected.items():
        assert getattr(task, name) == value, name
    assert task.raw == body


@pytest.mark.parametrize(
    ("body", "expected"),
    [pytest.param(body, expected, id=name) for name, body, expected in GATEWAY_SHAPES[:6]],
)
def test_shapes_decode_from_bytes_and_text(body: Any, expected: dict[str, Any]) -> None:
    text = json.dumps(body)
    for raw in (text, text.encode()):
        task = decode_task(raw)
        assert task.id == expected.get("id", task.id)
        assert task.status == expected["status"]
        assert task.raw == body


# --- statuses -------------------------------------------------------------------------------

STATUS_WORDS = {
    Q: "pending queued queueing in_queue submitted not_start created unknown preparing",
    R: "processing in_progress running generating",
    C: "completed succeeded succeed success done",
    F: "failed failure fail error",
    X: "cancelled canceled expired",
}


@pytest.mark.parametrize(
    ("word", "status"),
    [(word, status) for status, words in STATUS_WORDS.items() for word in words.split()]
    + [
        ("NOT_START", Q),
        ("SUBMITTED", Q),
        ("QUEUED", Q),
        ("IN_PROGRESS", R),
        ("SUCCESS", C),
        ("FAILURE", F),
        ("UNKNOWN", Q),
        ("Succeeded", C),
        (" Processing ", R),
        ("in-progress", R),
    ],
)
def test_status_words(word: str, status: TaskStatus, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="videogen_nb"):
        task = decode_task({"id": "t", "status": word})
    assert task.status is status
    assert task.status_text == word.strip()
    assert parse_status(word) is status
    assert not caplog.records  # a known word is never reported as unknown


def test_unknown_status_is_pending_never_success_and_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    first, second = f"finished_{uuid.uuid4().hex[:6]}", f"Rendering_{uuid.uuid4().hex[:6]}"
    with caplog.at_level(logging.WARNING, logger="videogen_nb"):
        tasks = [
            decode_task({"id": "t", "status": first, "url": MP4}),
            decode_task({"id": "t", "status": first, "url": MP4, "progress": 50}),
            decode_task({"id": "t", "status": second}),
        ]
    assert [t.status for t in tasks] == [Q, R, Q]
    assert all(t.video_url is None for t in tasks)
    messages = [r.getMessage() for r in caplog.records if r.name == "videogen_nb"]
    assert len(messages) == 2
    assert first in messages[0] and second in messages[1]


def test_missing_status_is_queued() -> None:
    task = decode_task({"task_id": "task_only"})
    assert (task.id, task.status, task.status_text) == ("task_only", Q, None)


# --- progress and timestamps ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, 0),
        (45, 45),
        (100, 100),
        (0.0, 0),
        (0.5, 50),
        (1.0, 100),
        (0.456, 46),
        (45.5, 46),
        ("45%", 45),
        ("45.4%", 45),
        (" 7 % ", 7),
        ("0.25", 25),
        ("80", 80),
        ("1%", 1),
        (150, 100),
        (-5, 0),
        ("250%", 100),
        ("abc", None),
        ("", None),
        (None, None),
        (True, None),
        ([1], None),
        (float("nan"), None),
    ],
)
def test_progress_forms(value: Any, expected: int | None) -> None:
    assert decode_task({"id": "t", "status": "processing", "progress": value}).progress == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1760000000, 1760000000.0),
        (1760000000123, 1760000000.123),
        ("1760000000", 1760000000.0),
        ("1766737710125", 1766737710.125),
        (1760000000.5, 1760000000.5),
        (0, None),
        ("", None),
        ("2025-10-09T08:53:20Z", 1759999999.0 + 1.0),
        ("2025-10-09T08:53:20+00:00", 1760000000.0),
        ("garbage", None),
        (None, None),
        (-1, None),
    ],
)
def test_timestamps(value: Any, expected: float | None) -> None:
    task = decode_task({"id": "t", "status": "queued", "created_at": value, "finish_time": value})
    assert task.created_at == expected
    assert task.completed_at == expected


# --- URL locations --------------------------------------------------------------------------

URL_LOCATIONS: list[tuple[str, dict[str, Any]]] = [
    ("url", {"id": "t", "status": "completed", "url": MP4}),
    ("video_url", {"id": "t", "status": "completed", "video_url": MP4}),
    ("metadata.url", {"id": "t", "status": "completed", "metadata": {"url": MP4}}),
    (
        "data.result_url",
        {"code": "success", "data": {"task_id": "t", "status": "SUCCESS", "result_url": MP4}},
    ),
    ("data.url", {"code": "success", "data": {"task_id": "t", "status": "succeeded", "url": MP4}}),
    (
        "data[0].url (OpenAI image style)",
        {"id": "t", "status": "succeeded", "data": [{"url": MP4}]},
    ),
    ("output.video_url", {"id": "t", "status": "succeeded", "output": {"video_url": MP4}}),
    ("output list", {"id": "t", "status": "succeeded", "output": [MP4]}),
    ("content.video_url", {"id": "t", "status": "succeeded", "content": {"video_url": MP4}}),
    (
        "task_result.videos[0].url (Kling)",
        {"task_id": "t", "task_status": "succeed", "task_result": {"videos": [{"url": MP4}]}},
    ),
    ("creations[0].url (Vidu)", {"task_id": "t", "state": "success", "creations": [{"url": MP4}]}),
    (
        "data.data raw Kling JSON under new-api's wrapper",
        {
            "code": "success",
            "data": {
                "task_id": "t",
                "status": "SUCCESS",
                "result_url": "",
                "progress": "100%",
                "data": {
                    "code": 0,
                    "data": {
                        "task_id": "k",
                        "task_status": "succeed",
                        "task_result": {"videos": [{"url": MP4}]},
                    },
                },
            },
        },
    ),
    (
        "data.data raw Vidu JSON",
        {
            "code": "success",
            "data": {
                "task_id": "t",
                "status": "SUCCESS",
                "data": {"state": "success", "creations": [{"url": MP4}]},
            },
        },
    ),
    (
        "fail_reason on success (older new-api)",
        {
            "code": "success",
            "data": {"task_id": "t", "status": "SUCCESS", "fail_reason": MP4, "result_url": ""},
        },
    ),
]


@pytest.mark.parametrize("body", [pytest.param(b, id=name) for name, b in URL_LOCATIONS])
def test_url_locations(body: dict[str, Any]) -> None:
    task = decode_task(body)
    assert task.status is C
    assert task.video_url == MP4
    assert task.id == "t"


@pytest.mark.parametrize(
    "bad",
    [
        "upstream failed: timeout",
        "ftp://cdn.example.com/v.mp4",
        "javascript:alert(1)",
        "//cdn.example.com/v.mp4",
        "https://",
        "https://cdn.example.com/a b.mp4",
        "  ",
        42,
    ],
)
def test_untrusted_urls_are_dropped(bad: Any) -> None:
    task = decode_task({"id": "t", "status": "completed", "url": bad})
    assert task.status is C
    assert task.video_url is None


@pytest.mark.parametrize("status", ["failed", "processing", "queued", "cancelled", "zzz_wait"])
def test_url_trusted_only_on_success(status: str) -> None:
    assert (
        decode_task({"id": "t", "status": status, "url": MP4, "video_url": MP4}).video_url is None
    )


def test_first_usable_location_wins() -> None:
    other = "https://other.example/v.mp4"
    task = decode_task(
        {
            "id": "t",
            "status": "completed",
            "url": "not a url",
            "metadata": {"url": other},
            "video_url": MP4,
        }
    )
    assert task.video_url == MP4


# --- ids, headers, raw ----------------------------------------------------------------------


def test_id_falls_back_to_the_polled_id_and_numbers_become_strings() -> None:
    assert decode_task({"status": "queued"}, task_id="task_p").id == "task_p"
    assert decode_task({"id": 12345, "status": "queued"}).id == "12345"
    assert decode_task({"id": 7, "task_id": "task_pub", "status": "queued"}).id == "task_pub"
    with pytest.raises(APIConnectionError, match="no task id"):
        decode_task({"status": "queued"})


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"openai-poll-after-ms": "2500"}, 2.5),
        ({"OpenAI-Poll-After-Ms": "100"}, 0.1),
        ({"openai-poll-after-ms": "0"}, 0.0),
        ({"openai-poll-after-ms": "soon"}, None),
        ({"openai-poll-after-ms": "-5"}, None),
        ({}, None),
        (None, None),
    ],
)
def test_poll_after_header(headers: dict[str, str] | None, expected: float | None) -> None:
    assert (
        decode_task({"id": "video_1", "status": "queued"}, headers=headers).poll_after == expected
    )
    assert parse_poll_after(headers) == expected


def test_raw_keeps_the_body_and_input_is_untouched() -> None:
    body = {"code": "success", "data": {"task_id": "t", "status": "SUCCESS", "result_url": MP4}}
    before = json.dumps(body, sort_keys=True)
    task = decode_task(body)
    assert task.raw is body
    assert json.dumps(body, sort_keys=True) == before


# --- bodies that are not tasks --------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "error_type", "quoted"),
    [
        (
            "<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>",
            APIConnectionError,
            "502 Bad Gateway",
        ),
        ([{"id": "t", "status": "queued"}], APIConnectionError, '"status": "queued"'),
        ({"code": "success", "data": None}, APIConnectionError, "success"),
        ({"object": "list", "data": [{"id": "kling-v1"}]}, APIConnectionError, "kling-v1"),
        ("definitely not json", APIConnectionError, "definitely not json"),
        ("", APIConnectionError, "empty body"),
        (None, APIConnectionError, "null"),
        (
            {"code": "invalid_request", "message": "prompt is required", "data": None},
            BadRequestError,
            "prompt is required",
        ),
        (
            {"code": "task_not_exist", "message": "task_not_exist", "data": None},
            BadRequestError,
            "task_not_exist",
        ),
        (
            {"code": "insufficient_user_quota", "message": "用户额度不足", "data": None},
            AuthenticationError,
            "用户额度不足",
        ),
        (
            {
                "error": {
                    "message": "Invalid token (request id: 2025abc)",
                    "type": "new_api_error",
                    "code": "",
                }
            },
            APIError,
            "Invalid token (request id: 2025abc)",
        ),
        (
            {"code": 1201, "message": "Kling: invalid model", "data": None},
            APIError,
            "invalid model",
        ),
    ],
)
def test_not_a_task_raises_quoting_the_gateway(body: Any, error_type: type, quoted: str) -> None:
    with pytest.raises(error_type) as info:
        decode_task(body)
    assert quoted in str(info.value)


def test_error_envelope_under_http_200_keeps_code_and_body() -> None:
    body = {"code": "invalid_request", "message": "prompt is required", "data": None}
    with pytest.raises(BadRequestError) as info:
        decode_task(body, status_code=200)
    assert (info.value.status_code, info.value.code, info.value.message) == (
        400,
        "invalid_request",
        "prompt is required",
    )
    assert info.value.body == body
    with pytest.raises(BadRequestError) as missing:  # final: retrying cannot find a channel
        decode_task({"code": "model_not_found", "message": "no channel", "data": None})
    assert missing.value.status_code == 503
    with pytest.raises(ServerError):  # a real error status wins over the code's usual one
        decode_task({"code": "invalid_request", "message": "x", "data": None}, status_code=502)


# --- decode_error ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "error_type", "message", "code"),
    [
        (
            401,
            {
                "error": {
                    "message": "Invalid token (request id: 20251)",
                    "type": "new_api_error",
                    "code": "",
                }
            },
            AuthenticationError,
            "Invalid token (request id: 20251)",
            None,
        ),
        (
            403,
            {
                "error": {
                    "message": "该令牌无权使用模型：sora-2",
                    "type": "new_api_error",
                    "code": "",
                }
            },
            AuthenticationError,
            "该令牌无权使用模型：sora-2",
            None,
        ),
        (
            400,
            {"error": {"message": "model is required", "type": "new_api_error", "code": ""}},
            BadRequestError,
            "model is required",
            None,
        ),
        (
            503,
            {
                "error": {
                    "message": "当前分组 default 下对于模型 x 无可用渠道",
                    "type": "new_api_error",
                    "code": "model_not_found",
                }
            },
            BadRequestError,
            "当前分组 default 下对于模型 x 无可用渠道",
            "model_not_found",
        ),
        (
            400,
            {"code": "invalid_request", "message": "prompt is required", "data": None},
            BadRequestError,
            "prompt is required",
            "invalid_request",
        ),
        (
            400,
            {"code": "invalid_json", "message": "invalid character", "data": None},
            BadRequestError,
            "invalid character",
            "invalid_json",
        ),
        (
            400,
            {"code": "missing_model", "message": "model is required", "data": None},
            BadRequestError,
            "model is required",
            "missing_model",
        ),
        (
            400,
            {"code": "invalid_size", "message": "size not supported", "data": None},
            BadRequestError,
            "size not supported",
            "invalid_size",
        ),
        (
            403,
            {
                "code": "insufficient_user_quota",
                "message": "用户额度不足, 剩余额度: ＄0.01",
                "data": None,
            },
            AuthenticationError,
            "用户额度不足, 剩余额度: ＄0.01",
            "insufficient_user_quota",
        ),
        (
            400,
            {"code": "fail_to_fetch_task", "message": "fetch failed", "data": None},
            BadRequestError,
            "fetch failed",
            "fail_to_fetch_task",
        ),
        (
            400,
            {"code": "task_not_exist", "message": "task_not_exist", "data": None},
            BadRequestError,
            "task_not_exist",
            "task_not_exist",
        ),
        (
            404,
            {
                "error": {
                    "message": "Video not found",
                    "type": "invalid_request_error",
                    "param": None,
                    "code": None,
                }
            },
            BadRequestError,
            "Video not found",
            None,
        ),
        (
            422,
            {"detail": [{"loc": ["body", "prompt"], "msg": "field required"}]},
            BadRequestError,
            '[{"loc": ["body", "prompt"], "msg": "field required"}]',
            None,
        ),
        (500, {"detail": "Internal error"}, ServerError, "Internal error", None),
        (
            502,
            "<html><head><title>502 Bad Gateway</title></head></html>",
            ServerError,
            "502 Bad Gateway",
            None,
        ),
        (500, "", ServerError, "Internal Server Error (no message in the response body)", None),
        (500, None, ServerError, "Internal Server Error (no message in the response body)", None),
        (418, "plain teapot text", BadRequestError, "plain teapot text", None),
        (400, {"error": "bad thing"}, BadRequestError, "bad thing", None),
    ],
)
def test_decode_error_shapes(
    status: int, body: Any, error_type: type, message: str, code: str | None
) -> None:
    for form in (body, json.dumps(body).encode() if isinstance(body, dict) else body):
        err = decode_error(status, form, {})
        assert type(err) is error_type
        assert err.status_code == status
        assert err.message == message
        assert err.code == code
        assert message in str(err)


def test_decode_error_chinese_429_with_retry_after_seconds() -> None:
    body = json.dumps(
        {
            "error": {
                "message": "当前分组上游负载已饱和，请稍后再试",
                "type": "upstream_error",
                "code": "rate_limit_exceeded",
            }
        },
        ensure_ascii=False,
    ).encode("utf-8")
    err = decode_error(429, body, {"retry-after": "7", "X-Oneapi-Request-Id": "req-9"})
    assert isinstance(err, RateLimitError)
    assert err.message == "当前分组上游负载已饱和，请稍后再试"
    assert err.code == "rate_limit_exceeded"
    assert err.retry_after == 7.0
    assert err.request_id == "req-9"


def test_decode_error_retry_after_http_date() -> None:
    when = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=120)
    err = decode_error(
        429,
        {"error": {"message": "slow down"}},
        {"Retry-After": email.utils.format_datetime(when, usegmt=True)},
    )
    assert isinstance(err, RateLimitError)
    assert err.retry_after is not None
    assert 110 <= err.retry_after <= 121


def test_decode_error_request_id_from_message() -> None:
    err = decode_error(401, {"error": {"message": "Invalid token (request id: 20251225abc)"}})
    assert err.request_id == "20251225abc"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        ("0", 0.0),
        ("1.5", 1.5),
        ("-3", 0.0),
        (5, 5.0),
        (None, None),
        ("", None),
        ("soon", None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 30.0),
        ("Wed, 21 Oct 2015 07:27:00 GMT", 0.0),
        ("inf", None),
        ("nan", None),
    ],
)
def test_parse_retry_after(value: Any, expected: float | None) -> None:
    now = datetime.datetime(2015, 10, 21, 7, 27, 30, tzinfo=datetime.timezone.utc)
    assert parse_retry_after(value, now=now) == expected


# --- decode_models --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {"object": "list", "data": [{"id": "kling-v1", "object": "model"}, {"id": "sora-2"}]},
            ["kling-v1", "sora-2"],
        ),
        ([{"id": "veo_3_1"}, {"id": "veo_3_1-fast"}], ["veo_3_1", "veo_3_1-fast"]),
        (["a", "b", "a"], ["a", "b"]),
        ('{"object":"list","data":[{"id":"x"}]}', ["x"]),
        ({"data": []}, []),
        ({"data": [{"id": ""}, {"name": "named"}, 5, None]}, ["named"]),
    ],
)
def test_decode_models(body: Any, expected: list[str]) -> None:
    assert decode_models(body) == expected


@pytest.mark.parametrize(
    "body", [{"object": "list"}, "<html>nope</html>", 5, {"data": {"id": "x"}}]
)
def test_decode_models_rejects_non_lists(body: Any) -> None:
    with pytest.raises(APIConnectionError):
        decode_models(body)


def test_model_not_found_is_final_even_under_503() -> None:
    from videogen_nb.core.errors import BadRequestError

    body = {
        "error": {
            "message": "no channel for model x",
            "type": "new_api_error",
            "code": "model_not_found",
        }
    }
    err = decode_error(503, body, {})
    assert isinstance(err, BadRequestError)
    assert err.status_code == 503 and err.code == "model_not_found"


# --- issue 12, item 5: NaN and infinities are "not reported" ----------------------------


NON_FINITE_JSON = ["1e400", "-1e400", "NaN", "Infinity", "-Infinity", '"1e400"', '"-inf"', '"nan"']


@pytest.mark.parametrize("number", NON_FINITE_JSON)
def test_non_finite_numbers_become_not_reported(number):
    from videogen_nb.dialects.decode import decode_task

    keys = ("progress", "created_at", "completed_at", "expires_at", "finish_time")
    fields = ", ".join(f'"{key}": {number}' for key in keys)
    body = '{"id": "t1", "status": "in_progress", ' + fields + "}"
    task = decode_task(body, headers={"openai-poll-after-ms": "1e400"})
    assert task.id == "t1" and task.status.value == "in_progress"
    assert task.progress is None
    assert task.created_at is None and task.completed_at is None and task.expires_at is None
    assert task.poll_after is None


def test_huge_whole_numbers_do_not_overflow():
    from videogen_nb.dialects.readers import epoch_of, progress_of

    huge = int("9" * 400)  # valid JSON; too large for a float
    assert progress_of(huge) == 100 and progress_of(-huge) == 0
    assert epoch_of(huge) is None and epoch_of(-huge) is None
    assert epoch_of(float("inf")) is None and progress_of(float("nan")) is None


def test_non_finite_retry_after_is_not_reported():
    from videogen_nb.dialects.decode import decode_error

    for value in ("1e400", "inf", "nan"):
        error = decode_error(429, '{"error": {"message": "slow down"}}', {"Retry-After": value})
        assert error.retry_after is None
