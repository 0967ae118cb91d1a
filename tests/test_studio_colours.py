"""The Studio's text colours follow JupyterLab's theme (issue 16.9).

A fixed red or green readable on white is 2.6:1 to 3.7:1 on JupyterLab Dark; every colour
the Studio writes is one of its CSS variables, which its style sets from the theme (lighter
on dark themes). The browser suite measures the contrast (tests/e2e/test_studio_fields.py);
this checks that no message bypasses the variables.
"""

from __future__ import annotations

import re

from videogen_nb.widgets import studio_price
from videogen_nb.widgets.studio import Studio
from videogen_nb.widgets.studio_looks import STUDIO_CSS

_COLOUR = re.compile(r"(?<![-\w])color:\s*([^;\"]+)")


def studio_html(studio: Studio) -> str:
    areas = [area.widget.value for area in studio._areas.values() if area.widget is not None]
    return "".join(areas) + studio.static_html()


def test_every_studio_text_colour_is_a_theme_variable() -> None:
    studio = Studio(None, load_models=False)  # not connected: the quiet status line
    studio.prompt.value = "x"
    studio.prompt.value = ""  # an error (touched, then emptied)
    studio.seeds.value = "1, x"  # another error
    studio.metadata.value = '{"cfg_scale": 0.5}'  # a good note
    html = studio_html(studio)
    assert "write a prompt" in html and "valid JSON" in html and "0 tasks" in html
    colours = [*_COLOUR.findall(html), *_COLOUR.findall(studio_price._WARN)]
    assert len(colours) >= 4, html
    for colour in colours:
        assert colour.startswith("var(--vg-studio-"), colour
    used = {c.removeprefix("var(").split(",")[0] for c in colours}
    # each is set from JupyterLab's variables, and set again for dark themes where needed
    light, dark = STUDIO_CSS.split('body[data-jp-theme-light="false"]', 1)
    for name in used:
        assert f"{name}:var(--jp-" in light, name
    for name in ("--vg-studio-error", "--vg-studio-ok"):
        assert f"{name}:var(--jp-" in dark.split("}", 1)[0], name
