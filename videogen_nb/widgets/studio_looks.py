"""How the Studio looks: its one ``<style>``, the layout and style models its widgets share,
and the "More settings" panel (built only when first opened).

Every widget model is saved into the notebook (about a kilobyte each, with a layout and a
style model of its own unless given shared ones), so the Studio's widgets share one layout
model and one style model per kind, and get their widths from the CSS classes below.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ipywidgets as widgets
from ipywidgets.widgets.widget_bool import CheckboxStyle
from ipywidgets.widgets.widget_description import DescriptionStyle
from ipywidgets.widgets.widget_string import HTMLStyle, TextStyle

from .studio_inputs import ImageUpload, classed

__all__ = ["FPS_CHOICES", "STUDIO_CSS", "Looks", "build_more", "combo"]

#: frame rates offered (0: the model's default, nothing sent)
FPS_CHOICES: tuple[tuple[str, int], ...] = (
    ("model default", 0),
    *((str(f), f) for f in (8, 12, 15, 16, 24, 25, 30, 48, 50, 60)),
)
_QUALITY_SUGGESTIONS = ("standard", "high")

# One <style> for the whole Studio (in its status line): widths by class, so the widgets
# can share one layout model; the model list in columns; an upload button that shows its
# tooltip instead of FileUpload's "(0)" file count (the Studio empties it on purpose); the
# text colours (``studio_messages``) from JupyterLab's theme variables, lighter on dark themes
# (JupyterLab marks them on <body>), so each stays at 4.5:1 or more against the page.
STUDIO_CSS = """<style>
.vg-studio{--vg-studio-error:var(--jp-error-color0,#b00020);
  --vg-studio-ok:var(--jp-success-color0,#1a7f37);--vg-studio-muted:var(--jp-ui-font-color2,#666)}
body[data-jp-theme-light="false"] .vg-studio{--vg-studio-error:var(--jp-error-color2,#e57373);
  --vg-studio-ok:var(--jp-success-color2,#81c784)}
.vg-studio .vg-wide{width:100%!important;max-width:900px}
.vg-studio .vg-field{width:420px!important;max-width:100%}
.vg-studio .vg-short{width:210px!important}
.vg-studio .vg-auto{width:auto!important}
.vg-studio .vg-row{flex-wrap:wrap;align-items:center;gap:2px 8px}
.vg-studio .vg-studio-models{display:grid!important;max-width:900px;max-height:240px;
  overflow-y:auto;grid-template-columns:repeat(auto-fill,minmax(220px,1fr))}
.vg-studio .vg-studio-models .widget-checkbox{width:auto!important}
.vg-studio .vg-studio-upload{font-size:0!important;width:auto!important;padding:0 12px}
.vg-studio .vg-studio-upload::after{content:attr(title);font-size:var(--jp-widgets-font-size,13px)}
.vg-studio .vg-studio-upload i{font-size:var(--jp-widgets-font-size,13px);margin-right:4px}
.vg-studio .vg-msg{font-size:12px;line-height:1.5}
.vg-studio .vg-msg div:empty{display:none}
</style>"""


class Looks:
    """The layout and style models the Studio's widgets share (one of each kind)."""

    def __init__(self) -> None:
        self.layout = widgets.Layout()
        self.text = TextStyle()
        self.described = DescriptionStyle(description_width="initial")
        self.button = widgets.ButtonStyle()
        self.html = HTMLStyle()
        self.check = CheckboxStyle()

    def html_widget(self, css: str, value: str = "") -> Any:
        widget = widgets.HTML(value, layout=self.layout, style=self.html)
        for name in css.split():  # one class per call: a DOM class holds no space
            classed(widget, name)
        return widget

    def button_widget(self, css: str, **options: Any) -> Any:
        return classed(widgets.Button(layout=self.layout, style=self.button, **options), css)

    def row(self, *children: widgets.Widget) -> Any:
        return classed(widgets.HBox(list(children), layout=self.layout), "vg-row")

    def sized(self, widget: widgets.DOMWidget, css: str, width: str) -> Any:
        classed(widget, width)
        return classed(widget, css)


def combo(looks: Looks, description: str, css: str, placeholder: str) -> Any:
    """A text box with suggestions (``Combobox``), short, sharing ``looks``."""
    return looks.sized(
        widgets.Combobox(
            description=description,
            placeholder=placeholder,
            layout=looks.layout,
            style=looks.text,
        ),
        css,
        "vg-short",
    )


def build_more(
    looks: Looks, confirm_above: int, on_error: Callable[[str, str | None], None]
) -> dict[str, Any]:
    """The "More settings" panel: its widgets by field name, ``panel`` (the box to show)
    and ``message`` (the panel's message area)."""
    text = {"layout": looks.layout, "style": looks.text}
    number = {"layout": looks.layout, "style": looks.described}
    negative = looks.sized(
        widgets.Textarea(
            description="Negative", placeholder="what to avoid (optional)", rows=1, **text
        ),
        "vg-studio-negative",
        "vg-wide",
    )
    quality = combo(looks, "Quality", "vg-studio-quality", "default")
    quality.options = _QUALITY_SUGGESTIONS
    fps = classed(
        widgets.Dropdown(options=FPS_CHOICES, value=0, description="frame rate", **number),
        "vg-studio-fps",
    )
    n = classed(
        widgets.BoundedIntText(
            value=1,
            min=1,
            max=100,
            description="videos per task",
            tooltip="how many videos each task asks the gateway for (n)",
            **number,
        ),
        "vg-studio-n",
    )
    confirm_above = classed(
        widgets.BoundedIntText(
            value=confirm_above,
            min=0,
            max=100_000,
            description="ask before launching more than (tasks)",
            **number,
        ),
        "vg-studio-confirm-above",
    )
    allow_parallel = looks.sized(
        widgets.Checkbox(
            value=False,
            description="allow parallel runs",
            indent=False,
            layout=looks.layout,
            style=looks.check,
        ),
        "vg-studio-parallel",
        "vg-auto",
    )
    metadata = looks.sized(
        widgets.Textarea(description="Metadata", placeholder='{"cfg_scale": 0.5}', rows=2, **text),
        "vg-studio-metadata",
        "vg-wide",
    )
    upload = {
        "on_error": on_error,
        "layout": looks.layout,
        "button_style": looks.button,
        "html_style": looks.html,
    }
    image = ImageUpload("image", "Start image", **upload)
    last_frame = ImageUpload("last_frame", "Last frame", **upload)
    message = looks.html_widget("vg-msg")
    panel = classed(
        widgets.VBox(
            [
                looks.row(image.box, last_frame.box),
                negative,
                looks.row(quality, fps, n),
                metadata,
                looks.row(confirm_above, allow_parallel),
                message,
            ],
            layout=widgets.Layout(),  # its own: "more settings" hides and shows it
        ),
        "vg-studio-more-panel",
    )
    return {
        "negative": negative,
        "quality": quality,
        "fps": fps,
        "n": n,
        "confirm_above": confirm_above,
        "allow_parallel": allow_parallel,
        "metadata": metadata,
        "image": image,
        "last_frame": last_frame,
        "panel": panel,
        "message": message,
    }
