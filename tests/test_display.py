"""show(), VideoDisplay, poster frames and Result HTML: embed-or-link and escaping."""

from __future__ import annotations

import base64
import html.parser
import pathlib
import re
import sys

import av
import numpy as np
import pytest

from videogen_nb.core.request import VideoRequest
from videogen_nb.core.task import Result, Task, TaskStatus
from videogen_nb.core.text import shorten
from videogen_nb.display import video as video_mod
from videogen_nb.display.html import attrs_html, escape, json_for_script, tag
from videogen_nb.display.video import (
    EMBED_LIMIT,
    VideoDisplay,
    poster_data_uri,
    relative_url,
    result_html,
    show,
)

HOSTILE = "<img src=x onerror=alert(1)>"


def make_mp4(path: pathlib.Path, *, frames: int = 8, fps: int = 8, pad: int = 0) -> pathlib.Path:
    """A tiny real H.264 file (64x48); ``pad`` bytes of trailing junk make it large."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for i in range(frames):
            img = np.full((48, 64, 3), i * 25, np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    if pad:
        with path.open("ab") as f:
            f.write(b"\0" * pad)
    return path


class Elements(html.parser.HTMLParser):
    """Collects the tags and attributes of an HTML fragment as a browser would see them."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def first(self, name: str) -> dict[str, str | None]:
        return next(a for t, a in self.tags if t == name)

    def names(self) -> list[str]:
        return [t for t, _ in self.tags]


@pytest.fixture
def workdir(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> pathlib.Path:
    nb = tmp_path / "notebooks"
    nb.mkdir()
    monkeypatch.chdir(nb)
    return nb


def test_html_helpers_escape_everything() -> None:
    assert escape(HOSTILE) == "&lt;img src=x onerror=alert(1)&gt;"
    assert escape("\"q\" & 's'") == "&quot;q&quot; &amp; &#x27;s&#x27;"
    assert attrs_html(class_="a", data_cell=3, hidden=True, alt=None, x=False) == (
        ' class="a" data-cell="3" hidden'
    )
    assert tag("p", HOSTILE, title='x" onmouseover="y') == (
        '<p title="x&quot; onmouseover=&quot;y">&lt;img src=x onerror=alert(1)&gt;</p>'
    )
    assert shorten("abcdef", 4) == "abc…" and shorten("abc", 4) == "abc"
    assert json_for_script({"p": "</script><!--" + HOSTILE}) == (
        '{"p":"\\u003c/script\\u003e\\u003c!--\\u003cimg src=x onerror=alert(1)\\u003e"}'
    )


def test_small_file_is_embedded_with_a_poster(workdir: pathlib.Path) -> None:
    path = make_mp4(workdir / "small.mp4")
    video = Elements(show(path)._repr_html_()).first("video")
    src = video["src"] or ""
    assert src.startswith("data:video/mp4;base64,")
    assert base64.b64decode(src.split(",", 1)[1]) == path.read_bytes()
    poster = video["poster"] or ""
    assert poster.startswith("data:image/jpeg;base64,")
    jpeg = base64.b64decode(poster.split(",", 1)[1])
    assert jpeg[:3] == b"\xff\xd8\xff" and len(jpeg) < 20_000


def test_large_file_under_the_notebook_is_linked(workdir: pathlib.Path) -> None:
    path = make_mp4(workdir / "out dir" / "big clip.mp4", pad=EMBED_LIMIT)
    page = show(path)._repr_html_()
    video = Elements(page).first("video")
    assert video["src"] == "out%20dir/big%20clip.mp4"
    assert "data:video" not in page and len(page) < 20_000
    assert (video["poster"] or "").startswith("data:image/jpeg;base64,")
    # embed=True always embeds; embed=False never does, even when small.
    embedded = Elements(show(path, embed=True)._repr_html_()).first("video")
    assert base64.b64decode((embedded["src"] or "").split(",", 1)[1]) == path.read_bytes()
    small = make_mp4(workdir / "small.mp4")
    assert Elements(show(small, embed=False)._repr_html_()).first("video")["src"] == "small.mp4"


def test_large_file_outside_the_notebook_is_not_embedded(
    workdir: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    path = make_mp4(tmp_path / "elsewhere" / "big.mp4", pad=EMBED_LIMIT)
    page = show(path)._repr_html_()
    parsed = Elements(page)
    assert "video" not in parsed.names() and "data:video" not in page
    assert "embed=True" in "".join(parsed.text) and str(path) in "".join(parsed.text)


def test_relative_url() -> None:
    base = pathlib.Path("/srv/nb")
    assert relative_url("/srv/nb/a/b c.mp4", base) == "a/b%20c.mp4"
    assert relative_url("/srv/other/x.mp4", base) is None


def test_urls_and_missing_files(workdir: pathlib.Path) -> None:
    remote = Elements(show("https://cdn.example/v.mp4?sig=1&x=2")._repr_html_()).first("video")
    assert remote["src"] == "https://cdn.example/v.mp4?sig=1&x=2"
    page = show("javascript:alert(1)")._repr_html_()
    assert "video" not in Elements(page).names() and "not found" in page


def test_no_poster_without_pyav(workdir: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = make_mp4(workdir / "clip.mp4")
    video_mod._poster_cached.cache_clear()
    monkeypatch.setitem(sys.modules, "av", None)  # import av now raises ImportError
    try:
        assert poster_data_uri(path) is None
        assert "poster" not in Elements(show(path)._repr_html_()).first("video")
    finally:
        video_mod._poster_cached.cache_clear()


def test_poster_of_a_broken_file_is_none(workdir: pathlib.Path) -> None:
    bad = workdir / "bad.mp4"
    bad.write_bytes(b"not a video at all")
    assert poster_data_uri(bad) is None
    assert poster_data_uri(workdir / "missing.mp4") is None


def _result(path: pathlib.Path | None = None, **kw: object) -> Result:
    req = VideoRequest(model="kling" + HOSTILE, prompt="a dog " + HOSTILE, seed=3, duration=5)
    return Result(request=req, path=path, **kw)  # type: ignore[arg-type]


def test_result_html_ok_has_video_and_escaped_caption(workdir: pathlib.Path) -> None:
    path = make_mp4(workdir / "r.mp4")
    result = _result(path, task=Task(id="t", status=TaskStatus.COMPLETED), elapsed=41.25)
    page = result_html(result)
    parsed = Elements(page)
    assert "img" not in parsed.names(), "the hostile prompt became markup"
    text = "".join(parsed.text)
    for piece in (
        "kling" + HOSTILE,
        "seed 3",
        "5 s video",
        "made in 41.2 s",
        "completed",
        "a dog " + HOSTILE,
    ):
        assert piece in text
    assert parsed.first("video")["src"].startswith("data:video/mp4;base64,")


def test_result_html_failed_shows_the_gateway_message(workdir: pathlib.Path) -> None:
    message = "content policy violation: " + HOSTILE
    task = Task(id="t", status=TaskStatus.FAILED, error=message)
    page = result_html(_result(task=task, error=RuntimeError(message)))
    parsed = Elements(page)
    assert "img" not in parsed.names() and "video" not in parsed.names()
    text = "".join(parsed.text)
    assert "failed" in text and message in text
    assert "&lt;img src=x onerror=alert(1)&gt;" in page


def test_result_html_pending_and_remote(workdir: pathlib.Path) -> None:
    queued = _result(task=Task(id="t", status=TaskStatus.QUEUED, progress=40))
    text = "".join(Elements(result_html(queued)).text)
    assert "queued" in text and "40%" in text
    assert "pending" in "".join(Elements(result_html(_result())).text)
    remote = _result(
        task=Task(id="t", status=TaskStatus.COMPLETED, video_url="https://cdn.example/a.mp4")
    )
    assert Elements(result_html(remote)).first("video")["src"] == "https://cdn.example/a.mp4"


def test_video_display_is_a_notebook_display(workdir: pathlib.Path) -> None:
    path = make_mp4(workdir / "d.mp4")
    shown = show(_result(path, task=Task(id="t", status=TaskStatus.COMPLETED)), embed=False)
    assert isinstance(shown, VideoDisplay)
    bundle = shown._repr_mimebundle_()
    assert set(bundle) == {"text/html", "text/plain"}
    assert re.search(r'<video [^>]*src="d\.mp4"', bundle["text/html"])
