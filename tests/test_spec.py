"""Spec check: measure real H.264 files (rendered by the sandbox) and compare with requests."""

from __future__ import annotations

import asyncio
import json
import pathlib
import re
import sys
import time

import aiohttp
import attrs
import pytest

from videogen_nb import sandbox
from videogen_nb.core.request import VideoRequest
from videogen_nb.insight import (
    MEASURED_KEYS,
    SpecReport,
    check_video,
    compare_spec,
    expected_spec,
    probe_video,
    spec_check_available,
)
from videogen_nb.sandbox.render import RenderSpec, render_mp4
from videogen_nb.store.journal import Journal

pytest.importorskip("av")


def _render(tmp: pathlib.Path, name: str, **spec: object) -> pathlib.Path:
    values: dict[str, object] = {"prompt": "a paper boat", "model": "kling-v1", "seed": 1}
    values.update(spec)
    path = tmp / name
    path.write_bytes(render_mp4(RenderSpec(**values)))  # type: ignore[arg-type]
    return path


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pathlib.Path]:
    """Tiny clips with known properties: 160x90 2 s 8 fps (silent and with a tone), 128x128."""
    tmp = tmp_path_factory.mktemp("videos")
    return {
        "wide": _render(tmp, "wide.mp4", width=160, height=90, duration=2.0, fps=8),
        "wide_audio": _render(
            tmp,
            "wide_audio.mp4",
            model="m-audio",
            width=160,
            height=90,
            duration=2.0,
            fps=8,
            audio=True,
        ),
        "square": _render(tmp, "square.mp4", width=128, height=128, duration=1.0, fps=8),
    }


def req(**fields: object) -> VideoRequest:
    values: dict[str, object] = {"model": "kling-v1", "prompt": "a paper boat"}
    values.update(fields)
    return VideoRequest(**values)  # type: ignore[arg-type]


# -- measuring -----------------------------------------------------------------------------


def test_probe_measures_what_was_rendered(videos: dict[str, pathlib.Path]) -> None:
    m = probe_video(videos["wide"])
    assert set(m) == set(MEASURED_KEYS)
    assert (m["width"], m["height"]) == (160, 90)
    assert m["duration"] == pytest.approx(2.0, abs=0.01)
    assert m["fps"] == pytest.approx(8.0)
    assert m["frames"] == 16  # 2 s x 8 fps
    assert m["codec"] == "h264"
    assert m["has_audio"] is False
    assert m["size_bytes"] == videos["wide"].stat().st_size
    assert m["decodes_fully"] is True
    assert m["error"] is None

    audio = probe_video(videos["wide_audio"])
    assert audio["has_audio"] is True
    assert audio["duration"] == pytest.approx(2.0, abs=0.01)  # the video's, not the AAC track's
    assert audio["frames"] == 16


def test_matching_request_has_no_findings(videos: dict[str, pathlib.Path]) -> None:
    report = check_video(videos["wide"], req(duration=2, size="160x90", fps=8))
    assert report.ok, report.findings
    assert report.findings == ()
    assert report.summary == "spec ok"
    assert report.expected == {"duration": 2, "width": 160, "height": 90, "fps": 8}
    # a ratio that fits, through either field
    assert check_video(videos["wide"], req(aspect_ratio="16:9")).ok
    assert check_video(videos["wide"], req(size="16:9")).ok
    assert check_video(videos["square"], req(aspect_ratio="1:1", duration=1)).ok


def test_every_mismatch_becomes_a_finding(videos: dict[str, pathlib.Path]) -> None:
    report = check_video(videos["wide"], req(duration=10, aspect_ratio="9:16", fps=24))
    assert not report.ok
    assert report.findings == (
        "asked 10 s, got 2.0 s",
        "asked 9:16, got 16:9 (160x90)",
        "asked 24 fps, got 8 fps",
    )
    assert report.summary == "; ".join(report.findings)
    square = check_video(videos["square"], req(aspect_ratio="16:9", duration=1))
    assert square.findings == ("asked 16:9, got 1:1 (128x128)",)
    pixels = check_video(videos["square"], req(size="1280x720", duration=1))
    assert pixels.findings == ("asked 1280x720, got 128x128 (square instead of landscape)",)


def test_audio_and_silent_models(videos: dict[str, pathlib.Path]) -> None:
    assert check_video(videos["wide_audio"], req(model="kling-v3-std-audio")).ok
    assert check_video(videos["wide"], req(model="kling-v3-std-silent")).ok
    assert check_video(videos["wide"], req(model="kling-v3-std-audio")).findings == (
        "asked sound (an -audio model), got no audio track",
    )
    assert check_video(videos["wide_audio"], req(model="kling-v3-pro-silent")).findings == (
        "asked no sound (a -silent model), got an audio track",
    )
    # a model name that says nothing about sound is not judged on it
    assert check_video(videos["wide_audio"], req(model="sora-2")).ok


# -- tolerances (pure comparison, measured values given) -------------------------------------


def measured(**values: object) -> dict[str, object]:
    base: dict[str, object] = dict.fromkeys(MEASURED_KEYS)
    base.update(decodes_fully=True, has_audio=False)
    base.update(values)
    return base


def test_duration_tolerance_is_half_a_second_or_ten_percent() -> None:
    # 10 s asked: 10 % = 1.0 s > 0.5 s, so 9.0 passes and 8.9 does not
    assert compare_spec(measured(duration=9.0), req(duration=10)) == []
    assert compare_spec(measured(duration=11.0), req(duration=10)) == []
    assert compare_spec(measured(duration=8.9), req(duration=10)) == ["asked 10 s, got 8.9 s"]
    # 2 s asked: 10 % = 0.2 s < 0.5 s, so 2.5 passes and 2.6 does not
    assert compare_spec(measured(duration=2.5), req(duration=2)) == []
    assert compare_spec(measured(duration=2.6), req(duration=2)) == ["asked 2 s, got 2.6 s"]
    # `seconds` wins over `duration`, as gateways let it
    assert compare_spec(measured(duration=8.0), req(seconds="8", duration=5)) == []


def test_aspect_and_size_tolerance() -> None:
    ok = [(1280, 720, "16:9"), (854, 480, "16:9"), (720, 1280, "9:16"), (1024, 1024, "1:1")]
    for w, h, ratio in ok:
        assert compare_spec(measured(width=w, height=h), req(aspect_ratio=ratio)) == []
    assert compare_spec(measured(width=720, height=1280), req(aspect_ratio="16:9")) == [
        "asked 16:9, got 9:16 (720x1280)"
    ]
    assert compare_spec(measured(width=1280, height=720), req(size="720x1280")) == [
        "asked 720x1280, got 1280x720 (landscape instead of portrait)"
    ]
    # codec padding (1080 -> 1088) is within 8 px; half size is not
    assert compare_spec(measured(width=1920, height=1088), req(size="1920x1080")) == []
    assert compare_spec(measured(width=640, height=360), req(size="1280x720")) == [
        "asked 1280x720, got 640x360"
    ]
    assert compare_spec(measured(width=640, height=360), req(width=1280)) == [
        "asked width 1280, got 640 (640x360)"
    ]
    # a ratio with no common name and no small terms is shown as W:1
    assert compare_spec(measured(width=1850, height=1000), req(aspect_ratio="16:9")) == [
        "asked 16:9, got 1.85:1 (1850x1000)"
    ]


def test_fps_is_compared_almost_exactly() -> None:
    assert compare_spec(measured(fps=23.976), req(fps=24)) == []
    assert compare_spec(measured(fps=29.97), req(fps=30)) == []
    assert compare_spec(measured(fps=25.0), req(fps=24)) == ["asked 24 fps, got 25 fps"]


def test_expected_spec_reads_a_journal_request_dict() -> None:
    request = req(size="1280x720", seconds="8", fps=24, model="kling-v3-pro-audio").to_dict()
    assert expected_spec(request) == {
        "duration": 8,
        "width": 1280,
        "height": 720,
        "fps": 24,
        "audio": True,
    }
    assert expected_spec(req()) == {}


# -- broken files -----------------------------------------------------------------------------


def test_a_truncated_file_does_not_decode_to_the_end(
    videos: dict[str, pathlib.Path], tmp_path: pathlib.Path
) -> None:
    data = videos["wide"].read_bytes()
    # the moov atom comes first (faststart), so a cut file still opens and reads its index
    assert data.find(b"moov") < data.find(b"mdat")
    for name, cut in (("half", len(data) // 2), ("three_quarters", len(data) * 3 // 4)):
        path = tmp_path / f"{name}.mp4"
        path.write_bytes(data[:cut])
        report = check_video(path, req(duration=2, size="160x90"))
        m = report.measured
        assert m["decodes_fully"] is False, name
        assert m["size_bytes"] == cut
        assert (m["width"], m["height"], m["duration"]) == (160, 90, 2.0)  # from the index
        assert m["frames"] < 16
        # the demuxer either reaches the cut quietly or hands the decoder a broken packet
        said = re.match(
            r"(stops early: decoded|decoding failed after) (\d+) of 16 frames", m["error"]
        )
        assert said is not None, m["error"]
        assert int(said.group(2)) == m["frames"]
        assert report.findings == (f"does not decode to the end: {m['error']}",)
    # (the first key frame holds most of a tiny clip's bytes, so half a file may decode
    # nothing at all; three quarters decodes a few frames and then stops)
    assert 0 < m["frames"] < 16
    assert m["error"].startswith(f"stops early: decoded {m['frames']} of 16 frames")
    assert "s of 2.00 s); the file is probably truncated" in m["error"]


def test_files_that_cannot_be_opened(
    videos: dict[str, pathlib.Path], tmp_path: pathlib.Path
) -> None:
    head = tmp_path / "head.mp4"
    head.write_bytes(videos["wide"].read_bytes()[:200])  # cut inside the index
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    text = tmp_path / "text.mp4"
    text.write_text("<Error><Code>AccessDenied</Code></Error>")
    for path in (head, empty, text, tmp_path / "missing.mp4"):
        report = check_video(path, req(duration=5, size="1280x720"))
        m = report.measured
        assert m["decodes_fully"] is False, path
        assert m["error"].startswith("cannot open"), m["error"]
        assert m["width"] is None and m["duration"] is None
        # nothing else is compared: only the unreadable finding
        assert report.findings == (f"unreadable video: {m['error']}",)
    assert check_video(empty, req()).measured["error"] == "cannot open: the file is empty"
    assert check_video(head, req()).measured["size_bytes"] == 200


# -- the report value --------------------------------------------------------------------------


def test_report_round_trips_through_the_journal(
    videos: dict[str, pathlib.Path], tmp_path: pathlib.Path
) -> None:
    request = req(duration=10, size="160x90")
    report = check_video(videos["wide"], request)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        report.findings = ()  # type: ignore[misc]
    data = report.to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["ok"] is False and data["findings"] == ["asked 10 s, got 2.0 s"]
    with Journal(tmp_path / "j.sqlite") as journal:
        entry = journal.record_request(request, gateway="http://127.0.0.1:1", dialect="unified")
        stored = journal.record_spec(entry.id, data)
        again = journal.get(entry.id)
    assert again is not None and again.spec == stored.spec
    assert SpecReport.from_dict(again.spec) == report
    assert "asked 10 s" in repr(report) and "160x90" in repr(report)


def test_without_pyav_the_check_says_how_to_install(
    monkeypatch: pytest.MonkeyPatch, videos: dict[str, pathlib.Path]
) -> None:
    assert spec_check_available() is True
    monkeypatch.setitem(sys.modules, "av", None)  # makes `import av` fail
    assert spec_check_available() is False
    with pytest.raises(ImportError, match=r"pip install 'videogen-nb\[sandbox\]'"):
        check_video(videos["wide"], req())


# -- the sandbox delivering the wrong thing on purpose -----------------------------------------


async def _generate(base_url: str, key: str, body: dict[str, object], dest: pathlib.Path) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    async with aiohttp.ClientSession(headers=headers) as http:
        async with http.post(f"{base_url}/v1/video/generations", json=body) as resp:
            assert resp.status == 200, await resp.text()
            task_id = (await resp.json())["task_id"]
        deadline = time.monotonic() + 20
        status = None
        while time.monotonic() < deadline:
            async with http.get(f"{base_url}/v1/videos/{task_id}") as resp:
                status = (await resp.json())["status"]
            if status in ("completed", "failed", "cancelled"):
                break
            await asyncio.sleep(0.05)
        assert status == "completed"
        async with http.get(f"{base_url}/v1/videos/{task_id}/content") as resp:
            assert resp.status == 200
            dest.write_bytes(await resp.read())


async def test_sandbox_wrong_size_and_duration_are_found(tmp_path: pathlib.Path) -> None:
    sb = sandbox.start(task_seconds=0)
    try:
        body = {
            "model": "kling-v1",
            "prompt": "a paper boat",
            "duration": 2,
            "size": "160x90",
            "fps": 8,
        }
        right = tmp_path / "right.mp4"
        await _generate(sb.base_url, sb.api_key, body, right)
        assert check_video(right, req(duration=2, size="160x90", fps=8)).ok

        sb.configure(wrong_size=True, wrong_duration=True)  # half the size, half the length
        wrong = tmp_path / "wrong.mp4"
        await _generate(sb.base_url, sb.api_key, {**body, "seed": 2}, wrong)
        report = check_video(wrong, req(duration=2, size="160x90", fps=8))
        # 90 / 2 = 45, rounded down to even by the encoder: 44
        assert report.findings == ("asked 2 s, got 1.0 s", "asked 160x90, got 80x44")

        sb.configure(wrong_size="128x128", wrong_duration=False)
        square = tmp_path / "square.mp4"
        await _generate(
            sb.base_url,
            sb.api_key,
            {
                "model": "kling-v1",
                "prompt": "a dog",
                "duration": 1,
                "aspect_ratio": "16:9",
                "fps": 8,
            },
            square,
        )
        assert check_video(square, req(duration=1, aspect_ratio="16:9")).findings == (
            "asked 16:9, got 1:1 (128x128)",
        )
    finally:
        sb.stop()
