"""``StudioView``: the Studio's widgets, how they are laid out, and the messages they show.

No behaviour lives here (no client, no requests): ``studio.py`` wires the buttons and the
live feedback. Every widget that matters carries a stable DOM class (``vg-studio-prompt``,
``vg-studio-generate``, ``vg-studio-error-<field>``...) for browser tests and custom CSS.
"""

from __future__ import annotations

import os

import ipywidgets as widgets

from ..display.html import tag
from ..tasks.task_client import API_KEY_ENV
from .studio_inputs import ImageUpload, KeyField, classed

__all__ = ["FIELDS", "StudioView"]

#: the form fields that can show an error next to them (``vg-studio-error-<field>``)
FIELDS: tuple[str, ...] = (
    "url",
    "models",
    "prompt",
    "negative",
    "image",
    "last_frame",
    "size",
    "duration",
    "quality",
    "fps",
    "seeds",
    "n",
    "metadata",
    "general",
)
_QUALITY_SUGGESTIONS = ("standard", "high")
_WIDE = widgets.Layout(width="100%")


class StudioView(widgets.VBox):
    """The Studio's form as widgets: gateway box, models, prompts, media, limits, Generate,
    the confirmation bar, one error line per field, and the output area below."""

    def __init__(self, *, url: str, confirm_above: int) -> None:
        super().__init__()
        self.add_class("vg-studio")
        self._build(url, confirm_above)
        self.cancel_button.on_click(lambda _b: self._hide_confirm())

    def _build(self, url: str, confirm_above: int) -> None:
        self._messages: dict[str, str] = {}
        self.errors: dict[str, widgets.HTML] = {
            name: classed(widgets.HTML(""), f"vg-studio-error-{name.replace('_', '-')}")
            for name in FIELDS
        }
        self.url = classed(
            widgets.Text(
                value=url,
                description="Gateway",
                placeholder="https://gateway.example/v1",
                layout=widgets.Layout(width="420px"),
            ),
            "vg-studio-url",
        )
        hint = f"from {API_KEY_ENV}" if os.environ.get(API_KEY_ENV) else "API key"
        self.key = classed(
            KeyField(
                value="", description="Key", placeholder=hint, layout=widgets.Layout(width="260px")
            ),
            "vg-studio-key",
        )
        self.connect_button = classed(
            widgets.Button(description="Connect", icon="plug"), "vg-studio-connect"
        )
        self.status = classed(widgets.HTML(""), "vg-studio-status")

        self.models = classed(
            widgets.SelectMultiple(
                options=[], description="Models", rows=8, layout=widgets.Layout(width="420px")
            ),
            "vg-studio-models",
        )
        self.prompt = classed(
            widgets.Textarea(
                description="Prompt",
                placeholder="one prompt per line: a sweep",
                rows=3,
                layout=_WIDE,
            ),
            "vg-studio-prompt",
        )
        self.negative = classed(
            widgets.Textarea(
                description="Negative", placeholder="what to avoid (optional)", rows=1, layout=_WIDE
            ),
            "vg-studio-negative",
        )
        self.image = ImageUpload("image", "Image", self._set_error)
        self.last_frame = ImageUpload("last_frame", "Last frame", self._set_error)
        self.size = classed(
            widgets.Combobox(
                description="Size", placeholder="default", layout=widgets.Layout(width="220px")
            ),
            "vg-studio-size",
        )
        self.duration = classed(
            widgets.Combobox(
                description="Seconds", placeholder="default", layout=widgets.Layout(width="180px")
            ),
            "vg-studio-duration",
        )
        self.quality = classed(
            widgets.Combobox(
                description="Quality",
                placeholder="default",
                options=_QUALITY_SUGGESTIONS,
                layout=widgets.Layout(width="200px"),
            ),
            "vg-studio-quality",
        )
        self.fps = classed(
            widgets.BoundedIntText(
                value=0,
                min=0,
                max=240,
                description="fps",
                tooltip="0: the model's default",
                layout=widgets.Layout(width="140px"),
            ),
            "vg-studio-fps",
        )
        self.n = classed(
            widgets.BoundedIntText(
                value=1,
                min=1,
                max=100,
                description="n",
                tooltip="videos per task",
                layout=widgets.Layout(width="140px"),
            ),
            "vg-studio-n",
        )
        self.limits = classed(widgets.HTML(""), "vg-studio-limits")
        self.seeds = classed(
            widgets.Text(
                description="Seeds",
                placeholder="e.g. 1, 2, 3 (blank: random)",
                layout=widgets.Layout(width="420px"),
            ),
            "vg-studio-seeds",
        )
        self.metadata = classed(
            widgets.Textarea(
                description="Metadata", placeholder='{"cfg_scale": 0.5}', rows=2, layout=_WIDE
            ),
            "vg-studio-metadata",
        )
        self.count = classed(widgets.HTML(""), "vg-studio-count")
        self.confirm_above = classed(
            widgets.BoundedIntText(
                value=int(confirm_above),
                min=0,
                max=100_000,
                description="Confirm above",
                style={"description_width": "auto"},
                layout=widgets.Layout(width="200px"),
            ),
            "vg-studio-confirm-above",
        )
        self.generate_button = classed(
            widgets.Button(description="Generate", button_style="primary", icon="play"),
            "vg-studio-generate",
        )
        self.stop_button = classed(
            widgets.Button(
                description="Stop",
                icon="stop",
                disabled=True,
                tooltip="cancel the tasks not yet sent; the ones sent are followed to the end",
            ),
            "vg-studio-stop",
        )
        self.retry_button = classed(
            widgets.Button(
                description="Retry failed",
                icon="redo",
                disabled=True,
                tooltip="submit each failed task of the shown run again",
            ),
            "vg-studio-retry",
        )
        self.allow_parallel = classed(
            widgets.Checkbox(
                value=False,
                description="allow parallel runs",
                indent=False,
                layout=widgets.Layout(width="auto"),
            ),
            "vg-studio-parallel",
        )
        self.history = classed(
            widgets.Dropdown(
                options=[],
                description="Runs",
                layout=widgets.Layout(width="420px", display="none"),
            ),
            "vg-studio-history",
        )
        self.confirm_message = classed(widgets.HTML(""), "vg-studio-confirm-message")
        self.confirm_button = classed(
            widgets.Button(description="Confirm", button_style="warning"), "vg-studio-confirm"
        )
        self.cancel_button = classed(widgets.Button(description="Cancel"), "vg-studio-cancel")
        self.confirm_box = classed(
            widgets.HBox(
                [self.confirm_message, self.confirm_button, self.cancel_button],
                layout=widgets.Layout(display="none"),
            ),
            "vg-studio-confirm-box",
        )
        self.warnings = classed(widgets.HTML(""), "vg-studio-warnings")
        self.output = classed(widgets.VBox([]), "vg-studio-output")

        e = self.errors
        self.children = [
            widgets.HBox([self.url, self.key, self.connect_button]),
            widgets.HBox([self.status, e["url"]]),
            widgets.HBox([self.models, e["models"]]),
            self.prompt,
            e["prompt"],
            self.negative,
            e["negative"],
            widgets.HBox([self.image.box, e["image"]]),
            widgets.HBox([self.last_frame.box, e["last_frame"]]),
            widgets.HBox([self.size, self.duration, self.quality, self.fps, self.n]),
            self.limits,
            e["size"],
            e["duration"],
            e["quality"],
            e["fps"],
            e["n"],
            widgets.HBox([self.seeds, e["seeds"]]),
            self.metadata,
            e["metadata"],
            widgets.HBox([self.generate_button, self.stop_button, self.retry_button, self.count]),
            widgets.HBox([self.confirm_above, self.allow_parallel]),
            self.confirm_box,
            e["general"],
            self.warnings,
            self.history,
            self.output,
        ]

    # -- messages -------------------------------------------------------------------------

    def _set_error(self, field: str, message: str | None) -> None:
        if field not in self.errors:
            field = "general"
        self._messages[field] = message or ""
        label = self.errors[field]
        label.value = "" if not message else tag("span", message, style="color:#b00020")

    def error(self, field: str) -> str:
        """The error shown next to ``field``, as plain text ('' when none)."""
        return self._messages.get(field, "")

    def _ask_to_confirm(self, message: str) -> None:
        self.confirm_message.value = tag("b", message)
        self.confirm_box.layout.display = None

    def _clear_errors(self) -> None:
        for name in FIELDS:
            if name not in ("metadata", "models", "image", "last_frame"):
                self._set_error(name, None)
        self.warnings.value = ""

    def _hide_confirm(self) -> None:
        self.confirm_box.layout.display = "none"
        self.confirm_message.value = ""

    @property
    def confirm_pending(self) -> bool:
        """True while the Confirm button is shown."""
        return bool(self.confirm_box.layout.display != "none")
