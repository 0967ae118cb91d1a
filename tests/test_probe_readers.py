"""``insight.probe`` is the only PyAV reader: frame rate and poster frame for the display
layer come from it, and both say None (never raise) without PyAV or on a broken file."""

from __future__ import annotations

import ast
import pathlib
import sys

import pytest

pytest.importorskip("av")

from tests.support import make_mp4
from videogen_nb.core.request import VideoRequest
from videogen_nb.core.task import Result
from videogen_nb.display import layout
from videogen_nb.display import video as video_mod
from videogen_nb.insight.probe import poster_jpeg, video_fps

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "videogen_nb"


def test_video_fps_and_poster(tmp_path: pathlib.Path) -> None:
    clip = make_mp4(tmp_path / "clip.mp4", fps=12)
    assert video_fps(clip) == pytest.approx(12.0)
    jpeg = poster_jpeg(clip, max_width=32)
    assert jpeg is not None and jpeg.startswith(b"\xff\xd8")  # a JPEG's start-of-image
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video")
    assert video_fps(bad) is None and poster_jpeg(bad) is None
    assert video_fps(tmp_path / "missing.mp4") is None


def test_without_pyav_both_say_none(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clip = make_mp4(tmp_path / "clip.mp4")
    monkeypatch.setitem(sys.modules, "av", None)  # import av now raises ImportError
    assert video_fps(clip) is None and poster_jpeg(clip) is None


def test_the_display_reads_through_probe(tmp_path: pathlib.Path) -> None:
    clip = make_mp4(tmp_path / "clip.mp4", fps=12)
    result = Result(request=VideoRequest(model="m", prompt="p"), path=clip)
    assert layout.probe_fps([result]) == pytest.approx(12.0)
    video_mod._poster_cached.cache_clear()
    assert (video_mod.poster_data_uri(clip) or "").startswith("data:image/jpeg;base64,")


def test_no_other_module_opens_pyav() -> None:
    # the sandbox writes videos (a separate program), the grid export writes one (reading its
    # cells through probe.rgb_frames); every reader goes through probe.py
    allowed = {
        PACKAGE / "insight" / "probe.py",
        PACKAGE / "sandbox" / "render.py",
        PACKAGE / "display" / "grid_export.py",
    }
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if path in allowed:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module or ""]
            if any(n == "av" or n.startswith("av.") for n in names):
                offenders.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert offenders == []
