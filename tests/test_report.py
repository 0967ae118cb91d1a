"""The standalone HTML report, and grid.js itself in a real browser (report page and the
widget's byte-streaming path driven by a real ComparisonGrid)."""

from __future__ import annotations

import base64
import html.parser
import json
import pathlib
import re
import shutil
from collections.abc import Iterator
from typing import Any

import comm
import pytest
from comm.base_comm import BaseComm

from tests.support import make_mp4
from videogen_nb.core.request import VideoRequest
from videogen_nb.core.task import Result, Task, TaskStatus
from videogen_nb.display.grid_assets import grid_css, grid_js
from videogen_nb.display.report import write_report
from videogen_nb.widgets.grid import ComparisonGrid

HOSTILE = "</script><img src=x onerror=alert(1)>"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def results(tmp_path: pathlib.Path) -> list[Result]:
    out = []
    for n, model in enumerate(["kling", "veo"]):
        req = VideoRequest(model=model, prompt="a dog " + HOSTILE, seed=1, duration=1)
        # Different lengths (1 s and 2 s): the longer one is the master clock.
        path = make_mp4(tmp_path / "videos" / f"{model}.mp4", frames=8 * (n + 1), shade=n * 90)
        out.append(
            Result(
                request=req,
                task=Task(id=f"t{n}", status=TaskStatus.COMPLETED),
                path=path,
                elapsed=30.0 + n,
            )
        )
    bad = VideoRequest(model="sora", prompt="a dog " + HOSTILE, seed=1, duration=1)
    out.append(
        Result(
            request=bad,
            task=Task(id="t2", status=TaskStatus.FAILED, error=HOSTILE),
            error=RuntimeError("refused: " + HOSTILE),
        )
    )
    return out


class Scripts(html.parser.HTMLParser):
    """The page's elements and the text of each <script>, as a browser parses them."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: dict[str, str] = {}
        self._current: str | None = None
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "script":
            self._current = dict(attrs).get("id") or dict(attrs).get("type") or ""
            self.scripts[self._current] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._current = None

    def handle_data(self, data: str) -> None:
        if self._current is not None:
            self.scripts[self._current] += data


def test_embedded_report_is_self_contained(results: list[Result], tmp_path: pathlib.Path) -> None:
    out = write_report(results, tmp_path / "share" / "report.html", title="Dogs " + HOSTILE)
    assert out == tmp_path / "share" / "report.html" and out.is_file()
    page = out.read_text(encoding="utf-8")
    assert (
        "http://" not in page
        and "https://" not in page
        and "//"
        not in re.sub(
            r"<script type=\"application/json\".*?</script>|<script type=\"module\">.*?</script>",
            "",
            page,
            flags=re.S,
        ).replace("<!doctype", "")
    )
    parsed = Scripts(page)
    # Exactly the scripts we wrote: the hostile text closed nothing and opened nothing.
    assert [t for t, _ in parsed.tags].count("script") == 3
    assert "img" not in [t for t, _ in parsed.tags]
    assert "<title>Dogs &lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;</title>" in page
    data = json.loads(parsed.scripts["vgg-data"])
    assert data["title"] == "Dogs " + HOSTILE
    assert data["axes"]["rows"] == [
        {"key": data["axes"]["rows"][0]["key"], "label": "a dog " + HOSTILE}
    ]
    assert [c["label"] for c in data["axes"]["cols"]] == ["kling", "veo", "sora"]
    for cell, result in zip(data["cells"][:2], results[:2], strict=True):
        assert cell["video"] == "url" and cell["src"].startswith("data:video/mp4;base64,")
        assert base64.b64decode(cell["src"].split(",", 1)[1]) == result.path.read_bytes()
    assert data["cells"][2]["state"] == "failed"
    assert data["cells"][2]["error"] == "refused: " + HOSTILE
    assert json.loads(parsed.scripts["vgg-esm"]) == grid_js()


def test_linked_report_uses_paths_relative_to_its_folder(
    results: list[Result], tmp_path: pathlib.Path
) -> None:
    out = write_report(results, tmp_path / "reports" / "r.html", embed=False)
    page = out.read_text(encoding="utf-8")
    data = json.loads(Scripts(page).scripts["vgg-data"])
    assert [c["src"] for c in data["cells"][:2]] == ["../videos/kling.mp4", "../videos/veo.mp4"]
    assert "data:video" not in page and len(page) < 60_000
    for cell in data["cells"][:2]:
        assert (out.parent / cell["src"]).resolve().is_file()


def test_report_layout_options(results: list[Result], tmp_path: pathlib.Path) -> None:
    out = write_report(results, tmp_path / "r.html", rows="model", cols="seed", embed=False)
    data = json.loads(Scripts(out.read_text(encoding="utf-8")).scripts["vgg-data"])
    assert [r["label"] for r in data["axes"]["rows"]] == ["kling", "veo", "sora"]
    assert [c["label"] for c in data["axes"]["cols"]] == ["1"]
    assert data["fps"] == 8.0


# --- in a real browser -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    if not shutil.which(CHROMIUM):
        pytest.skip("no chromium at /usr/bin/chromium")
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context()
    pg = context.new_page()
    pg.errors = []
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))
    pg.on("dialog", lambda d: (pg.errors.append("dialog: " + d.message), d.dismiss()))
    yield pg
    context.close()


VIDEOS_READY = """() => { const v = [...document.querySelectorAll('video')];
  return v.length === 2 && v.every(x => x.readyState >= 2); }"""
TIMES = "() => [...document.querySelectorAll('video')].map(v => v.currentTime)"


def test_report_plays_in_step_in_a_browser(
    results: list[Result], tmp_path: pathlib.Path, page: Any
) -> None:
    out = write_report(results, tmp_path / "r.html", embed=False)
    page.goto(out.resolve().as_uri())
    page.wait_for_function(VIDEOS_READY, timeout=15_000)
    # The hostile prompt and error are text, not elements.
    assert page.evaluate("document.querySelectorAll('img').length") == 0
    table = page.inner_text(".vgg-table")
    # The gateway's whole text sits in the cell's details (one click away): textContent.
    text = page.evaluate("document.querySelector('.vgg-table').textContent")
    assert "a dog " + HOSTILE in table and "refused: " + HOSTILE in text
    assert "failed" in table and "made in 30.0 s" in table
    # Play: both advance together; the 1 s video holds its last frame while the 2 s master
    # plays on, then the loop restarts both from 0.
    page.click(".vgg-play")
    page.wait_for_function(
        "() => document.querySelectorAll('video')[1].currentTime > 0.5", timeout=10_000
    )
    short, master = page.evaluate(TIMES)
    assert abs(short - master) < 0.25
    page.wait_for_function(
        "() => document.querySelectorAll('video')[1].currentTime > 1.4", timeout=10_000
    )
    assert page.evaluate(TIMES)[0] == pytest.approx(1.0, abs=0.1)
    page.wait_for_function(
        "() => { const t = document.querySelectorAll('video')[1].currentTime;"
        " return t > 0.1 && t < 0.8; }",
        timeout=10_000,
    )
    short, master = page.evaluate(TIMES)
    assert abs(short - master) < 0.25, "the loop restart re-aligned both"
    # Keyboard: space pauses, arrows step one frame (8 fps) on all videos.
    page.focus(".vgg")
    page.keyboard.press(" ")
    page.wait_for_function(
        "() => [...document.querySelectorAll('video')].every(v => v.paused)", timeout=5_000
    )
    page.click(".vgg-seek", position={"x": 1, "y": 5})
    page.focus(".vgg")
    page.evaluate("() => document.querySelector('.vgg-seek').blur()")
    before = page.evaluate(TIMES)
    page.keyboard.press("ArrowRight")
    page.wait_for_function(
        "(b) => [...document.querySelectorAll('video')].every((v, i) =>"
        " Math.abs(v.currentTime - (b[1] + 0.125)) < 0.02 || (i === 0 && v.currentTime >= 0.99))",
        arg=before,
        timeout=5_000,
    )
    # Click to enlarge, Esc to close.
    page.click(".vgg-cell[data-i='0'] .vgg-media")
    assert page.is_visible(".vgg-overlay video")
    page.keyboard.press("Escape")
    assert page.is_hidden(".vgg-overlay")
    assert page.evaluate("document.querySelectorAll('.vgg-cell video').length") == 2
    assert page.errors == []


def _luminance(rgb: str) -> float:
    """WCAG relative luminance of a computed ``rgb(r, g, b)`` colour."""
    channels = [int(c) / 255 for c in re.findall(r"\d+", rgb)[:3]]
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def _contrast(a: str, b: str) -> float:
    hi, lo = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_report_follows_the_readers_colour_scheme(
    results: list[Result], tmp_path: pathlib.Path, page: Any, scheme: str
) -> None:
    out = write_report(results, tmp_path / "r.html", embed=False)
    page.emulate_media(color_scheme=scheme)
    page.goto(out.resolve().as_uri())
    page.wait_for_selector(".vgg-table")
    colours = page.evaluate(
        """() => [document.body, document.querySelector('.vgr td.pr'),
                  document.querySelector('.vgg')].map(e => {
            const s = getComputedStyle(e); return [s.color, s.backgroundColor]; })"""
    )
    (body_fg, body_bg), (cell_fg, _), (grid_fg, grid_bg) = colours
    dark = _luminance(body_bg) < 0.05
    assert dark is (scheme == "dark")
    # text meets WCAG AA (4.5:1) on the page, in the sections and in the grid
    for fg, bg in ((body_fg, body_bg), (cell_fg, body_bg), (grid_fg, grid_bg)):
        assert _contrast(fg, bg) >= 4.5, (scheme, fg, bg)
    # the sections below the grid: the hostile prompt is text, the cost is said
    sections = page.inner_text(".vgr")
    assert "a dog " + HOSTILE in sections and "price unknown" in sections
    assert page.evaluate("document.querySelectorAll('img').length") == 0
    assert page.errors == []


class RecordingComm(BaseComm):
    """A comm that keeps what the kernel would publish to the front end."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.published: list[tuple[str, Any, list[bytes]]] = []
        super().__init__(*args, **kwargs)

    def publish_msg(
        self,
        msg_type: str,
        data: Any = None,
        metadata: Any = None,
        buffers: Any = None,
        **keys: Any,
    ) -> None:
        self.published.append((msg_type, data, [bytes(b) for b in buffers or []]))


HARNESS = """<!doctype html><html><head><meta charset="utf-8"><style>%(css)s</style></head>
<body><div id="root"></div>
<script type="application/json" id="esm">%(esm)s</script>
<script type="module">
const read = (id) => JSON.parse(document.getElementById(id).textContent);
const data = %(state)s;
const handlers = new Map();
window.sent = [];
window.model = {
  get: (k) => data[k], set: (k, v) => { data[k] = v; }, save_changes() {},
  on: (k, f) => { if (!handlers.has(k)) handlers.set(k, new Set()); handlers.get(k).add(f); },
  off: (k, f) => handlers.get(k)?.delete(f),
  send: (m) => window.sent.push(m),
};
// What anywidget does with a kernel message: the content and DataView buffers.
window.deliver = (content, b64s) => {
  const bufs = b64s.map((s) => new DataView(Uint8Array.from(atob(s), (c) => c.charCodeAt(0)).buffer));
  for (const f of handlers.get("msg:custom") || []) f(content, bufs);
};
window.update = (state) => { for (const [k, v] of Object.entries(state)) {
  data[k] = v; for (const f of handlers.get("change:" + k) || []) f(); } };
const url = URL.createObjectURL(new Blob([read("esm")], { type: "text/javascript" }));
const widget = (await import(url)).default;
window.cleanup = widget.render({ model: window.model, el: document.getElementById("root") });
window.rendered = true;
</script></body></html>"""


def test_widget_streams_bytes_and_votes_in_a_browser(
    results: list[Result], tmp_path: pathlib.Path, page: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(comm, "create_comm", lambda *a, **k: RecordingComm(*a, **k))
    import videogen_nb.widgets.grid as grid_mod

    monkeypatch.setattr(grid_mod, "CHUNK_BYTES", 700)  # several parts per video
    grid = ComparisonGrid(results, blind=True, blind_seed=5)
    state = {
        k: v
        for k, v in grid.get_state().items()
        if k in ("axes", "cells", "blind", "revealed", "fps", "voted", "message", "title")
    }
    js = grid_js()
    css = grid_css()
    harness = tmp_path / "harness.html"
    harness.write_text(
        HARNESS
        % {
            "css": css,
            "esm": json.dumps(js).replace("</", "<\\/"),
            "state": json.dumps(state).replace("</", "<\\/"),
        },
        encoding="utf-8",
    )
    page.goto(harness.resolve().as_uri())
    page.wait_for_function("() => window.rendered === true", timeout=10_000)

    def pump() -> None:
        """Carry the page's messages to the widget and the widget's answers back."""
        sent = page.evaluate("() => window.sent.splice(0)")
        for msg in sent:
            before = len(grid.comm.published)
            grid._handle_custom_msg(msg, [])
            for kind, data, buffers in grid.comm.published[before:]:
                if kind == "comm_msg" and data["method"] == "custom":
                    page.evaluate(
                        "([c, b]) => window.deliver(c, b)",
                        [data["content"], [base64.b64encode(b).decode() for b in buffers]],
                    )
                elif kind == "comm_msg" and data["method"] == "update":
                    page.evaluate("(s) => window.update(s)", data["state"])

    pump()  # the two "want" requests
    page.wait_for_function(VIDEOS_READY, timeout=15_000)
    srcs = page.evaluate("() => [...document.querySelectorAll('video')].map(v => v.src)")
    assert all(s.startswith("blob:") for s in srcs)
    assert page.evaluate("() => document.querySelectorAll('.vgg-colhead')[0].textContent") == "A"
    assert "kling" not in page.inner_text(".vgg-table")
    # Vote by clicking a playable cell's button; the grid gets model names, not letters.
    failed_cell = 2
    assert page.is_disabled(f".vgg-cell[data-i='{failed_cell}'] .vgg-best")
    cell_b = max((0, 1), key=lambda i: grid.grid_layout.positions[i][1])
    page.click(f".vgg-cell[data-i='{cell_b}'] .vgg-best")
    pump()
    assert grid.votes[0]["winner"] == results[cell_b].request.model
    assert page.is_visible(f".vgg-cell[data-i='{cell_b}'].vgg-won")
    page.click(".vgg-reveal")
    pump()
    assert grid.revealed
    assert "kling" in page.inner_text(".vgg-table")
    # The videos survived the re-render (no second download was asked for).
    assert page.evaluate("() => window.sent.length") == 0
    assert page.evaluate("() => [...document.querySelectorAll('video')].map(v => v.src)") == srcs
    page.evaluate("() => window.cleanup()")
    assert page.evaluate("() => document.querySelectorAll('video').length") == 0
    assert page.errors == []
