"""The notebook face in a real browser: JupyterLab, the Studio, the grid, blind voting.

Every test opens a notebook in JupyterLab (headless Chromium), runs it against the sandbox
gateway the suite started, and checks what a user would see; each step is screenshotted.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from harness import GRID_MODELS, LabNotebook, wait_until

pytestmark = pytest.mark.e2e

STUDIO_MODELS = ["sora-2", "veo_3_1-fast"]
# Console lines a JupyterLab page prints by itself, unrelated to the toolkit: none so far.
IGNORED_CONSOLE: tuple[str, ...] = ()

# A MutationObserver on the Studio's output records every state each row of the live table
# goes through, so "the rows advance" is checked on what the page showed, not on timing.
_JS_WATCH_TABLE = """
() => {
  window.__vgRows = [];
  const out = document.querySelector('.vg-studio-output');
  const record = () => {
    const rows = [...out.querySelectorAll('.vg-run-table tbody tr')].map((tr) => {
      const p = tr.querySelector('progress');
      return {
        status: (tr.querySelector('td.st') || {}).textContent || '',
        progress: p && p.hasAttribute('value') ? Number(p.getAttribute('value')) : null,
      };
    });
    if (rows.length) window.__vgRows.push(rows);
  };
  new MutationObserver(record).observe(out, {subtree: true, childList: true,
                                               characterData: true, attributes: true});
}
"""
_JS_VIDEOS = """
(scope) => [...document.querySelectorAll(scope + ' video')].map((v) => ({
  readyState: v.readyState, width: v.videoWidth, height: v.videoHeight,
  paused: v.paused, time: v.currentTime, duration: v.duration, seeking: v.seeking,
}))
"""


def console_errors(e2e: Any) -> list[str]:
    return [line for line in e2e.errors if not any(s in line for s in IGNORED_CONSOLE)]


def error_toasts(page: Any) -> list[str]:
    return page.locator(".Toastify__toast--error, .jp-toast-error").all_inner_texts()


def videos(page: Any, scope: str) -> list[dict[str, Any]]:
    return page.evaluate(_JS_VIDEOS, scope)


def wait_videos(page: Any, scope: str, count: int, timeout: float = 60.0) -> list[dict[str, Any]]:
    """Wait until ``scope`` holds ``count`` videos that have a decoded frame."""
    page.wait_for_function(
        f"([scope, n]) => {{ const vs = ({_JS_VIDEOS})(scope);"
        " return vs.length === n && vs.every((v) => v.readyState >= 2 && v.width > 0); }",
        arg=[scope, count],
        timeout=timeout * 1000,
    )
    return videos(page, scope)


def pick_models(page: Any, models: list[str]) -> None:
    # One checkbox per model: a plain click on each (no Ctrl-click).
    for model in models:
        exact = re.compile(rf"^\s*{re.escape(model)}\s*$")
        boxes = page.locator(".vg-studio-models label.widget-label-basic")
        boxes.filter(has_text=exact).locator("input").check()
    # The kernel narrows the size and length choices to what these models take; wait for
    # that round trip so what is typed next is not reset by it.
    page.wait_for_function(
        "(n) => document.querySelectorAll('.vg-studio-models input:checked').length === n"
        " && !document.querySelector('.vg-studio-count').textContent.includes('choose a model')",
        arg=len(models),
    )


def test_quickstart_studio_generates_two_videos(
    open_notebook: Any, e2e: Any, e2e_sandbox: Any
) -> None:
    """01: run all, the Studio appears; prompt + two models + Generate: live rows advance,
    the grid fills with two playable videos of the requested size; no error anywhere."""
    page = e2e.page
    nb: LabNotebook = open_notebook("01_quickstart.ipynb")
    nb.run_all()
    studio = page.locator(".vg-studio")
    studio.wait_for(state="visible")
    e2e.step("studio")

    page.locator(".vg-studio-prompt textarea").fill("a lighthouse in a storm, from the e2e test")
    pick_models(page, STUDIO_MODELS)
    page.locator(".vg-studio-size input").fill("1280x720")
    page.locator(".vg-studio-duration input").fill("4")
    page.wait_for_function(
        "() => document.querySelector('.vg-studio-count').textContent.includes('2 tasks')"
    )
    e2e.step("form-filled")
    before = e2e_sandbox.tasks_created
    page.evaluate(_JS_WATCH_TABLE)
    page.locator("button.vg-studio-generate").click()

    page.wait_for_function(
        "() => document.querySelectorAll('.vg-studio-output .vg-run-table tbody tr').length === 2"
    )
    e2e.step("progress-rows", focus=".vg-studio-output .vg-run-table")
    page.wait_for_function(
        "() => { const s = window.__vgRows.at(-1) || [];"
        " return s.length === 2 && s.every((r) => r.status.trim() === 'done'); }",
        timeout=90_000,
    )
    history: list[list[dict[str, Any]]] = page.evaluate("() => window.__vgRows")
    for row in range(2):
        seen = [snap[row] for snap in history if len(snap) == 2]
        progress = [s["progress"] for s in seen if s["progress"] is not None]
        # The row was shown working, its progress went up, and it ended done.
        assert any(s["status"].strip() in ("queued", "in progress") for s in seen), seen
        assert len(set(progress)) >= 2 and progress == sorted(progress), seen
        assert seen[-1]["status"].strip() == "done"
    assert e2e_sandbox.tasks_created - before == 2

    shown = wait_videos(page, ".vg-studio-output .vgg", 2)
    e2e.step("grid", focus=".vg-studio-output .vgg")
    assert [(v["width"], v["height"]) for v in shown] == [(1280, 720), (1280, 720)], shown
    labels = page.locator(".vg-studio-output .vgg-colhead").all_inner_texts()
    assert sorted(labels) == sorted(STUDIO_MODELS)
    assert not error_toasts(page)
    assert not console_errors(e2e), console_errors(e2e)


def test_grid_plays_in_step(open_notebook: Any, e2e: Any) -> None:
    """Play from the grid's control bar: all play; a seek aligns all within 0.1 s; so does
    the loop restart."""
    page = e2e.page
    nb = open_notebook("e2e_grid.ipynb")
    nb.run_all()
    scope = ".vgg"
    wait_videos(page, scope, len(GRID_MODELS))
    e2e.step("grid-ready", focus=".vgg")

    start = [v["time"] for v in videos(page, scope)]
    page.locator(".vgg-play").click()
    page.wait_for_function(
        f"(t0) => ({_JS_VIDEOS})('.vgg').every((v, i) => !v.paused && v.time > t0[i] + 0.3)",
        arg=start,
    )
    e2e.step("playing")

    # Seek as a user does, with a click on the slider's track (while the videos play).
    slider = page.locator(".vgg-seek")
    box = slider.bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + box["width"] * 1.5 / 4.0, box["y"] + box["height"] / 2)
    target = float(slider.input_value())
    assert 1.0 < target < 2.0, target
    page.wait_for_function(
        f"(t) => ({_JS_VIDEOS})('.vgg').every((v) => v.paused && !v.seeking && v.readyState >= 2"
        " && Math.abs(v.time - t) <= 0.1)",
        arg=target,
    )
    e2e.step("seeked", focus=".vgg")
    after_seek = videos(page, scope)
    assert all(abs(v["time"] - target) <= 0.1 for v in after_seek), (target, after_seek)

    # Play through the end: the master loops back to 0 and takes the others with it.
    page.locator(".vgg-play").click()
    page.wait_for_function(
        f"""() => {{
            const vs = ({_JS_VIDEOS})('.vgg');
            const t = vs[0].time;
            const wrapped = window.__vgLast !== undefined && t + 1 < window.__vgLast;
            window.__vgLast = t;
            if (wrapped) window.__vgWrapped = true;
            return !!window.__vgWrapped && t > 0.5 && vs.every((v) => !v.paused);
        }}""",
        polling="raf",
        timeout=30_000,
    )
    spreads = page.evaluate(
        f"""async () => {{
            const out = [];
            for (let i = 0; i < 10; i++) {{
                await new Promise((r) => requestAnimationFrame(r));
                const ts = ({_JS_VIDEOS})('.vgg').map((v) => v.time);
                out.push(Math.max(...ts) - Math.min(...ts));
            }}
            return out;
        }}"""
    )
    e2e.step("after-loop", focus=".vgg")
    assert max(spreads) <= 0.1, spreads

    # The keyboard seeks too, mid-play: Home on the slider takes every video to the start.
    page.locator(".vgg-seek").press("Home")
    page.wait_for_function(
        f"() => ({_JS_VIDEOS})('.vgg').every((v) => v.paused && !v.seeking && v.time <= 0.1)"
    )
    e2e.step("keyboard-seek", focus=".vgg")
    assert not console_errors(e2e), console_errors(e2e)


def test_blind_vote_is_recorded_and_reveal_names_models(open_notebook: Any, e2e: Any) -> None:
    """Blind grid: letters, no model names; a vote reaches Python and the journal; reveal
    shows the names."""
    page = e2e.page
    nb = open_notebook("e2e_blind.ipynb")
    nb.run_all()
    wait_videos(page, ".vgg", len(GRID_MODELS))
    e2e.step("blind", focus=".vgg")
    assert page.locator(".vgg-colhead").all_inner_texts() == ["A", "B", "C"]
    shown = page.locator(".vgg").inner_text()
    leaked = [m for m in GRID_MODELS if m in shown]
    assert not leaked, f"blind grid shows {leaked}"

    first = page.locator(".vgg-cell").first
    winner_index = int(first.get_attribute("data-i") or "-1")
    first.locator(".vgg-best").click()
    page.locator(".vgg-voted").wait_for()
    e2e.step("voted")
    _ms, text = nb.run_cell(3)
    recorded = json.loads(text.strip().splitlines()[-1])
    assert recorded["journal"] == 1
    assert len(recorded["votes"]) == 1
    vote = recorded["votes"][0]
    assert vote["kind"] == "best" and vote["winner"] == GRID_MODELS[winner_index]

    page.locator(".vgg-reveal").click()
    # Each row orders the models its own way: after reveal each cell's caption names it.
    page.wait_for_function(
        "(models) => { const caps = [...document.querySelectorAll('.vgg-cap-model')]"
        ".map((h) => h.textContent); return models.every((m) => caps.some((h) => h.includes(m))); }",
        arg=GRID_MODELS,
    )
    e2e.step("revealed", focus=".vgg")
    assert page.locator(".vgg-reveal").is_hidden()
    # Voting is closed once the models are known.
    assert all(b.is_disabled() for b in page.locator(".vgg-best").all())


def test_kernel_stays_free_while_twenty_tasks_run(
    open_notebook: Any, e2e: Any, e2e_sandbox: Any
) -> None:
    """With 20 tasks in flight, another cell runs and answers in under a second."""
    page = e2e.page
    e2e_sandbox.configure(task_seconds=20)  # long enough to be certainly still running
    try:
        nb = open_notebook("e2e_busy.ipynb")
        before = e2e_sandbox.tasks_created
        nb.run_cell(0)
        nb.run_cell(1)
        wait_until(
            lambda: e2e_sandbox.tasks_created - before == 20, 30, "the sandbox accepted 20 tasks"
        )
        page.wait_for_function(
            "() => [...document.querySelectorAll('.vg-run-table td.st')]"
            ".filter((td) => ['queued', 'in progress'].includes(td.textContent.trim())).length === 20"
        )
        e2e.step("twenty-running")
        elapsed_ms, text = nb.run_cell(2)
        e2e.step("pong")
        assert text.startswith("pong 20 "), text
        assert int(text.split()[2]) == 20, f"tasks had finished already: {text}"
        assert elapsed_ms < 1000, f"the cell took {elapsed_ms:.0f} ms"
        nb.run_cell(3)
    finally:
        e2e_sandbox.configure(task_seconds=3.0)


def test_studio_bad_input_says_so_and_launches_nothing(
    open_notebook: Any, e2e: Any, e2e_sandbox: Any
) -> None:
    """Empty prompt, bad metadata JSON, a size that is no size: a message next to the
    field, Generate disabled, nothing sent; each message clears once its field is fixed."""
    page = e2e.page
    nb = open_notebook("e2e_studio.ipynb")
    nb.run_cell(0)
    page.locator(".vg-studio").wait_for(state="visible")
    before = e2e_sandbox.tasks_created
    pick_models(page, ["kling-v3-std-silent"])
    generate = page.locator("button.vg-studio-generate")
    assert generate.is_disabled()  # no prompt yet

    prompt = page.locator(".vg-studio-prompt textarea")
    prompt.fill("x")
    prompt.fill("")
    prompt_error = page.locator(".vg-studio-error-prompt")
    prompt_error.get_by_text("write a prompt").wait_for()
    e2e.step("empty-prompt")

    prompt.fill("a kite, e2e")
    page.wait_for_function(
        "() => document.querySelector('.vg-studio-error-prompt').textContent.trim() === ''"
    )
    page.locator("button.vg-studio-more").click()  # metadata is under "more settings"
    page.locator(".vg-studio-metadata textarea").fill('{"cfg_scale": 0.5,')
    metadata_error = page.locator(".vg-studio-error-metadata")
    metadata_error.get_by_text("not valid JSON").wait_for()
    e2e.step("bad-metadata")
    assert generate.is_disabled()
    page.locator(".vg-studio-metadata textarea").fill('{"cfg_scale": 0.5}')
    page.locator(".vg-studio-error-metadata").get_by_text("valid JSON").wait_for()

    # What the form shows is what the kernel checks: a typed size that is no size.
    size = page.locator(".vg-studio-size input")
    size.fill("banana")
    size_error = page.locator(".vg-studio-error-size")
    size_error.get_by_text(re.compile("not a size|does not suit")).wait_for()
    page.wait_for_function("() => document.querySelector('button.vg-studio-generate').disabled")
    e2e.step("bad-size")
    size.fill("16:9")
    page.wait_for_function(
        "() => document.querySelector('.vg-studio-error-size').textContent.trim() === ''"
        " && !document.querySelector('button.vg-studio-generate').disabled"
    )
    _ms, text = nb.run_cell(1)
    assert text.strip() == "launched 0 True", text
    assert e2e_sandbox.tasks_created == before
    assert page.locator(".vg-studio-output .vg-run-table").count() == 0

    # The fixed form does launch, once: Generate is disabled while the run works.
    generate.click()
    wait_until(lambda: e2e_sandbox.tasks_created == before + 1, 30, "one task launched")
    page.locator(".vg-studio-output .vg-run-table").wait_for()
    e2e.step("fixed")


def test_prompt_with_html_is_shown_as_text(open_notebook: Any, e2e: Any) -> None:
    """A prompt carrying markup is shown as text everywhere, and none of it runs."""
    page = e2e.page
    nb = open_notebook("e2e_studio.ipynb")
    nb.run_cell(0)
    page.locator(".vg-studio").wait_for(state="visible")
    evil = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script> boat'
    page.locator(".vg-studio-prompt textarea").fill(evil)
    pick_models(page, ["kling-v3-std-silent"])
    page.locator(".vg-studio-duration input").fill("3")
    page.locator("button.vg-studio-generate").click()

    table = page.locator(".vg-studio-output .vg-run-table")
    table.get_by_text('<img src=x onerror="window.__xss=1">', exact=False).first.wait_for()
    wait_videos(page, ".vg-studio-output .vgg", 1)
    e2e.step("escaped", focus=".vg-studio-output .vgg")
    row_label = page.locator(".vg-studio-output .vgg-rowlabel").first.text_content()
    assert row_label == evil
    assert page.evaluate("() => window.__xss") is None
    assert page.locator('img[src="x"]').count() == 0
    assert not console_errors(e2e), console_errors(e2e)
