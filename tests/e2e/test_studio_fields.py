"""The Studio in a real browser, field by field (issue 16.1, 16.9 and issue 14's price line).

Every field of the form, "more settings" included, is typed, picked or given a file in
JupyterLab, and the requests the kernel would send (``studio.check.requests``, what
Generate hands to ``client.run``) carry exactly those values; a bad value in a field shows
its error next to that field and disables Generate, and fixing it clears the error. The
price line shows the task count and the estimate before anything is sent (the sandbox sees
no POST). In JupyterLab's dark theme every text of the Studio stays readable (WCAG AA).
"""

from __future__ import annotations

import base64
import io
import json
import pathlib
import re
from typing import Any

import nbformat
import pytest
from harness import LabNotebook, Server, check_contrast, set_theme
from PIL import Image

pytestmark = pytest.mark.e2e

NOTEBOOK = "e2e_studio_fields.ipynb"
CELLS = [
    "import json, videogen_nb as vg\nclient = vg.Client()\nstudio = vg.Studio(client)\nstudio",
    # What Generate would send, as the kernel holds it (nothing is sent by reading it).
    "print(json.dumps({\n"
    "    'errors': studio.check.errors,\n"
    "    'requests': [r.to_dict() for r in studio.check.requests],\n"
    "    'confirm_above': studio.more_value('confirm_above'),\n"
    "    'allow_parallel': studio.more_value('allow_parallel'),\n"
    "    'generate_disabled': studio.generate_button.disabled,\n"
    "    'launched': studio.launched,\n"
    "}))",
]
MODELS = ["sora-2", "veo_3_1-fast"]  # both priced in the shipped store/prices.json
GENERATE = "button.vg-studio-generate"

_JS_ERRORS = """
() => Object.fromEntries([...document.querySelectorAll('.vg-studio [class*="vg-studio-error-"]')]
  .map((e) => [[...e.classList].find((c) => c.startsWith('vg-studio-error-')).slice(16),
               (e.querySelector('.vg-studio-err') || {textContent: ''}).textContent.trim()])
  .filter(([_f, text]) => text))
"""


def png(color: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 36), color).save(out, "PNG")
    return out.getvalue()


def write_notebook(root: pathlib.Path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}
    }
    nb.cells = [nbformat.v4.new_code_cell(src) for src in CELLS]
    nbformat.write(nb, root / "lab" / NOTEBOOK)


def open_studio(open_notebook: Any, e2e: Any, e2e_root: pathlib.Path) -> LabNotebook:
    write_notebook(e2e_root)
    nb: LabNotebook = open_notebook(NOTEBOOK)
    nb.run_cell(0)
    e2e.page.locator(".vg-studio").wait_for(state="visible")
    return nb


def kernel_form(nb: LabNotebook) -> dict[str, Any]:
    _ms, text = nb.run_cell(1)
    return dict(json.loads(text.strip().splitlines()[-1]))


def pick_models(page: Any, models: list[str]) -> None:
    for model in models:
        exact = re.compile(rf"^\s*{re.escape(model)}\s*$")
        boxes = page.locator(".vg-studio-models label.widget-label-basic")
        boxes.filter(has_text=exact).locator("input").check()
    page.wait_for_function(
        "(n) => document.querySelectorAll('.vg-studio-models input:checked').length === n"
        " && !document.querySelector('.vg-studio-count').textContent.includes('choose a model')",
        arg=len(models),
    )


def upload(page: Any, field: str, name: str, data: bytes) -> None:
    """Choose a file with the field's upload button, as a user does (the file chooser)."""
    with page.expect_file_chooser() as chooser:
        page.locator(f"button.vg-studio-{field}").click()
    chooser.value.set_files(files=[{"name": name, "mimeType": "image/png", "buffer": data}])


def expect_error(page: Any, field: str, words: str | re.Pattern[str]) -> None:
    """The error shows in the field's own message element, nowhere else, and Generate is
    disabled."""
    page.locator(f".vg-studio-error-{field.replace('_', '-')} .vg-studio-err").get_by_text(
        words
    ).wait_for()
    page.wait_for_function(f"() => document.querySelector('{GENERATE}').disabled")
    errors = page.evaluate(_JS_ERRORS)
    assert list(errors) == [field.replace("_", "-")], errors


def expect_clear(page: Any) -> None:
    """No field shows an error and Generate is enabled again."""
    page.wait_for_function(
        f"() => !Object.keys(({_JS_ERRORS})()).length"
        f" && !document.querySelector('{GENERATE}').disabled"
    )


def posts(sandbox: Any) -> int:
    """How many POSTs the sandbox has answered (a submit is one)."""
    requests = sandbox.stats(include_tasks=False)["requests"]
    return sum(n for route, n in requests.items() if route.startswith("POST"))


def test_every_studio_field_reaches_the_request(
    open_notebook: Any, e2e: Any, e2e_root: pathlib.Path, e2e_sandbox: Any
) -> None:
    page = e2e.page
    nb = open_studio(open_notebook, e2e, e2e_root)
    before = (posts(e2e_sandbox), e2e_sandbox.tasks_created)
    start, last = png((200, 40, 40)), png((40, 40, 200))

    # A bad value in each field that can hold one: its error, Generate off; fixed: cleared.
    prompt = page.locator(".vg-studio-prompt textarea")
    prompt.fill("x")
    prompt.fill("")
    expect_error(page, "prompt", "write a prompt")
    prompt.fill("a red kite over dunes\na paper boat, e2e")
    pick_models(page, MODELS[:1])
    page.locator(".vg-studio-models input:checked").uncheck()
    expect_error(page, "models", "choose at least one model")
    pick_models(page, MODELS)
    expect_clear(page)
    seeds = page.locator(".vg-studio-seeds input")
    seeds.fill("7, x")
    expect_error(page, "seeds", "not a whole number")
    seeds.fill("7, 11")
    expect_clear(page)
    size = page.locator(".vg-studio-size input")
    size.fill("banana")
    expect_error(page, "size", "does not suit the chosen models")
    size.fill("1280x720")
    expect_clear(page)
    duration = page.locator(".vg-studio-duration input")
    duration.fill("99")
    expect_error(page, "duration", "pick one of 4, 8")
    duration.fill("4")
    expect_clear(page)

    page.locator("button.vg-studio-more").click()
    metadata = page.locator(".vg-studio-metadata textarea")
    metadata.fill('{"cfg_scale": 0.5,')
    expect_error(page, "metadata", "not valid JSON")
    metadata.fill("[1]")
    expect_error(page, "metadata", "must be a JSON object")
    metadata.fill('{"cfg_scale": 0.5}')
    expect_clear(page)
    page.locator(".vg-studio-error-metadata").get_by_text("valid JSON").wait_for()
    for field, info in (("image", "Start image"), ("last-frame", "Last frame")):
        with page.expect_file_chooser() as chooser:
            page.locator(f"button.vg-studio-{field}").click()
        chooser.value.set_files(
            files=[{"name": "notes.txt", "mimeType": "text/plain", "buffer": b"not an image"}]
        )
        expect_error(page, field.replace("-", "_"), re.compile("image", re.I))
        e2e.step(f"bad-{field}")
        upload(page, field, f"{field}.png", start if field == "image" else last)
        page.locator(f".vg-studio-{field}-info").get_by_text(f"{info}: {field}.png").wait_for()
        expect_clear(page)

    # The rest of "more settings": typed or picked.
    page.locator(".vg-studio-negative textarea").fill("blurry, text")
    page.locator(".vg-studio-quality input").fill("high")
    page.locator(".vg-studio-fps select").select_option(label="24")
    n = page.locator(".vg-studio-n input")
    n.fill("2")
    n.press("Enter")
    confirm = page.locator(".vg-studio-confirm-above input")
    confirm.fill("5")
    confirm.press("Enter")
    page.locator(".vg-studio-parallel input").check()
    # 2 prompts x 2 seeds x 2 models, more than the threshold typed above
    page.wait_for_function(
        "() => document.querySelector('.vg-studio-count').textContent"
        ".includes('8 tasks will be launched (asks to confirm: more than 5)')"
    )
    e2e.step("form-filled", focus=".vg-studio")

    sent = kernel_form(nb)
    assert sent["errors"] == {} and not sent["generate_disabled"], sent
    assert sent["confirm_above"] == 5 and sent["allow_parallel"] is True, sent
    requests = sent["requests"]
    uri = {
        name: "data:image/png;base64," + base64.b64encode(data).decode()
        for name, data in (("image", start), ("last_image", last))
    }
    shared = {
        "size": "1280x720",
        "duration": 4,
        "quality": "high",
        "fps": 24,
        "n": 2,
        "metadata": {"cfg_scale": 0.5, "negative_prompt": "blurry, text"},
        **uri,
    }
    for request in requests:
        assert {k: request.get(k) for k in shared} == shared, request
        assert set(request) == {*shared, "model", "prompt", "seed"}, request
    combos = sorted((r["prompt"], r["seed"], r["model"]) for r in requests)
    assert combos == sorted(
        (p, s, m)
        for p in ("a red kite over dunes", "a paper boat, e2e")
        for s in (7, 11)
        for m in MODELS
    )
    # Reading the form sent nothing; the Studio launched nothing.
    assert (posts(e2e_sandbox), e2e_sandbox.tasks_created) == before
    assert sent["launched"] == 0


def test_price_line_before_generate_sends_nothing(
    open_notebook: Any, e2e: Any, e2e_root: pathlib.Path, e2e_sandbox: Any
) -> None:
    """Issue 14: two priced models, the count and the estimated total show before Generate
    (4 s x $0.10/s each, from the shipped table) and the sandbox receives no POST."""
    page = e2e.page
    before = posts(e2e_sandbox)
    open_studio(open_notebook, e2e, e2e_root)
    page.locator(".vg-studio-prompt textarea").fill("a lantern at dusk, e2e price")
    pick_models(page, MODELS)
    page.locator(".vg-studio-size input").fill("1280x720")
    page.locator(".vg-studio-duration input").fill("4")
    count = page.locator(".vg-studio-count")
    count.get_by_text("2 tasks will be launched").wait_for()
    price = page.locator(".vg-studio-count .vg-studio-price")
    price.get_by_text("estimated cost: ~$0.80").wait_for()
    e2e.step("price", focus=".vg-studio-count")
    assert "price unknown" not in price.inner_text()
    # Eight seconds each: the estimate follows the form.
    page.locator(".vg-studio-duration input").fill("8")
    price.get_by_text("estimated cost: ~$1.60").wait_for()
    assert posts(e2e_sandbox) == before


# What the Studio shows as text, by selector; each must be on the page when measured.
STUDIO_TEXT = {
    "status line": ".vg-studio .vg-studio-status span",
    "model labels": ".vg-studio .vg-studio-models label",
    "field labels": ".vg-studio label.widget-label",
    "typed values": ".vg-studio textarea, .vg-studio input[type=text]",
    "buttons": ".vg-studio button:not(:disabled)",
    "errors": ".vg-studio .vg-studio-err",
    "notes": ".vg-studio .vg-studio-error-metadata span",
    "count line": ".vg-studio .vg-studio-count div",
    "price line": ".vg-studio .vg-studio-price span",
}


def test_studio_is_readable_in_both_themes(
    open_notebook: Any, e2e: Any, e2e_root: pathlib.Path, jupyter_lab: Server
) -> None:
    """Issue 16.9: every text of the Studio (messages, errors, notes, the price line, the
    labels and buttons) at 4.5:1 or more in JupyterLab Dark, and still in Light."""
    page = e2e.page
    open_studio(open_notebook, e2e, e2e_root)
    page.locator(".vg-studio-prompt textarea").fill("a lighthouse, e2e dark")
    pick_models(page, MODELS)
    page.locator("button.vg-studio-more").click()
    page.locator(".vg-studio-metadata textarea").fill('{"cfg_scale": 0.5}')
    page.locator(".vg-studio-error-metadata").get_by_text("valid JSON").wait_for()
    page.locator(".vg-studio-count .vg-studio-price").wait_for()
    try:
        for theme, light in (("JupyterLab Light", True), ("JupyterLab Dark", False)):
            set_theme(page, theme, light=light)
            measure_studio(e2e, theme)
    finally:
        # the theme is a saved setting of the suite's one JupyterLab: put it back
        set_theme(page, "JupyterLab Light", light=True)


def measure_studio(e2e: Any, theme: str) -> None:
    """With an error on show, then with the form valid (the price line and Generate)."""
    page = e2e.page
    seeds = page.locator(".vg-studio-seeds input")
    seeds.fill("1, x")
    page.locator(".vg-studio-error-seeds .vg-studio-err").wait_for()
    e2e.step(f"{theme}-error", focus=".vg-studio")
    check_contrast(page, {k: v for k, v in STUDIO_TEXT.items() if k != "price line"}, theme)
    seeds.fill("1, 2")
    page.locator(".vg-studio-count .vg-studio-price").wait_for()
    page.wait_for_function(f"() => !document.querySelector('{GENERATE}').disabled")
    e2e.step(f"{theme}-valid", focus=".vg-studio")
    valid = ("count line", "price line", "buttons")
    check_contrast(page, {k: STUDIO_TEXT[k] for k in valid}, theme)
