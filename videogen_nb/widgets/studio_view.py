"""``StudioView``: the Studio's widgets, how they are laid out, and the messages they show.

No behaviour lives here (no client, no requests): ``studio.py`` wires the buttons and the
live feedback. Every widget that matters carries a stable DOM class (``vg-studio-prompt``,
``vg-studio-generate``, ``vg-studio-error-<field>``...) for browser tests and custom CSS.

Kept light, because every widget model is saved into the notebook (a kilobyte or so each,
its layout and style models as much again): the widgets share one layout and one style
model per kind (widths come from the Studio's CSS classes), each group of fields has one
message area (``studio_messages``), and the parts a first look does not need are built
when first used: the gateway box when a client is given ("change gateway"), "More
settings" (start image, last frame, negative prompt, quality, frame rate, videos per task,
metadata, the confirmation threshold), Stop/Retry (at the first run), the confirmation bar
and the list of past runs.
"""

from __future__ import annotations

import os
from typing import Any

import ipywidgets as widgets

from ..display.html import tag
from ..tasks.task_client import API_KEY_ENV
from .studio_inputs import ImageUpload, KeyField, classed
from .studio_looks import FPS_CHOICES, STUDIO_CSS, Looks, build_more, combo
from .studio_messages import FieldMessage, MessageArea
from .studio_models import ModelPicker

__all__ = ["FIELDS", "FPS_CHOICES", "StudioView"]

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
    "confirm_above",
    "general",
)
#: the message areas and the fields each shows
_GROUPS: dict[str, tuple[str, ...]] = {
    "gateway": ("url",),
    "models": ("models",),
    "prompt": ("prompt", "seeds"),
    "settings": ("size", "duration"),
    "more": (
        "negative",
        "image",
        "last_frame",
        "quality",
        "fps",
        "n",
        "metadata",
        "confirm_above",
    ),
    "launch": ("general",),
}
#: what the "More settings" panel holds until it is built (the values Generate sends then)
_MORE_DEFAULTS: dict[str, Any] = {
    "negative": "",
    "quality": "",
    "fps": 0,
    "n": 1,
    "metadata": "",
    "allow_parallel": False,
}


class StudioView(widgets.VBox):
    """The Studio's form as widgets: gateway, models, prompts, settings, Generate, one
    message area per group of fields, and the output area below."""

    def __init__(self, *, url: str, confirm_above: int, connected: bool = False) -> None:
        self._looks = Looks()
        super().__init__(layout=self._looks.layout)
        self.add_class("vg-studio")
        self._url = url
        self._confirm_above = int(confirm_above)
        self._areas = {group: MessageArea(fields) for group, fields in _GROUPS.items()}
        self._area_of = {f: area for area in self._areas.values() for f in area.fields}
        #: each field's message (``errors[field].value`` is its HTML, '' when none)
        self.errors: dict[str, FieldMessage] = {
            f: area.fields[f] for f, area in self._area_of.items()
        }
        self._gateway: dict[str, Any] | None = None
        self._more: dict[str, Any] | None = None
        self._run_buttons: dict[str, Any] | None = None
        self._confirm: dict[str, Any] | None = None
        self._history: widgets.Dropdown | None = None
        self._top: list[widgets.Widget] = []
        #: shown instead of the gateway box when a client was given (None once opened)
        self.change_gateway_button: widgets.Button | None = None
        self._build()
        if connected:
            change = self._looks.button_widget(
                "vg-studio-change-gateway", description="change gateway", icon="plug"
            )
            change.on_click(lambda _b: self._build_gateway())
            self.change_gateway_button = change
            self._top = [self._looks.row(self.status, change)]
            self._arrange()
        else:
            self._build_gateway()

    # -- the parts always shown ------------------------------------------------------------

    def _build(self) -> None:
        looks = self._looks
        self.status = looks.html_widget("vg-studio-status")
        self._areas["gateway"].attach(self.status)
        self.models = ModelPicker(layout=looks.layout, style=looks.check)
        self.models_info = looks.html_widget("vg-msg vg-studio-models-info")
        self._areas["models"].attach(self.models_info)
        self.prompt = looks.sized(
            widgets.Textarea(
                description="Prompt",
                placeholder="one prompt per line: each line is one more video per model",
                rows=3,
                layout=looks.layout,
                style=looks.text,
            ),
            "vg-studio-prompt",
            "vg-wide",
        )
        self.seeds = looks.sized(
            widgets.Text(
                description="Seeds",
                placeholder="e.g. 1, 2, 3 (blank: the gateway picks)",
                layout=looks.layout,
                style=looks.text,
            ),
            "vg-studio-seeds",
            "vg-field",
        )
        self._areas["prompt"].attach(looks.html_widget("vg-msg"))
        self.size = combo(self._looks, "Size", "vg-studio-size", "model default")
        self.duration = combo(self._looks, "Seconds", "vg-studio-duration", "model default")
        self.more_button = looks.button_widget(
            "vg-studio-more",
            description="more settings",
            icon="sliders",
            tooltip="start image, last frame, negative prompt, quality, frame rate, metadata...",
        )
        self.more_button.on_click(lambda _b: self.toggle_more())
        self.limits = looks.html_widget("vg-msg vg-studio-limits")
        self._areas["settings"].attach(self.limits)
        self.generate_button = looks.button_widget(
            "vg-studio-generate", description="Generate", button_style="primary", icon="play"
        )
        self.count = looks.html_widget("vg-msg vg-studio-count")
        self._areas["launch"].attach(self.count)
        self.output = classed(widgets.VBox([], layout=looks.layout), "vg-studio-output")
        self._launch_row = looks.row(self.generate_button)
        self._settings_row = looks.row(self.size, self.duration, self.more_button)

    def _arrange(self) -> None:
        """Lay the parts built so far out, in the form's order."""
        parts: list[widgets.Widget | None] = [
            *self._top,
            self.models_info,
            self.models.widget,
            self.prompt,
            self.seeds,
            self._areas["prompt"].widget,
            self._settings_row,
            self.limits,
            self._more["panel"] if self._more is not None else None,
            self._launch_row,
            self.count,
            self._confirm["box"] if self._confirm is not None else None,
            self._history,
            self.output,
        ]
        self.children = [p for p in parts if p is not None]

    # -- the gateway box (built at once when not connected, else on "change gateway") --------

    def _build_gateway(self) -> dict[str, Any]:
        if self._gateway is not None:
            return self._gateway
        looks = self._looks
        hint = f"from {API_KEY_ENV}" if os.environ.get(API_KEY_ENV) else "API key"
        url = looks.sized(
            widgets.Text(
                value=self._url,
                description="Gateway",
                placeholder="https://gateway.example/v1",
                layout=looks.layout,
                style=looks.text,
            ),
            "vg-studio-url",
            "vg-field",
        )
        key = looks.sized(
            KeyField(
                value="", description="Key", placeholder=hint, layout=looks.layout, style=looks.text
            ),
            "vg-studio-key",
            "vg-short",
        )
        connect = looks.button_widget("vg-studio-connect", description="Connect", icon="plug")
        self._gateway = {"url": url, "key": key, "connect": connect}
        for old in self._top:  # the status row with "change gateway" is not needed any more
            for child in old.children if isinstance(old, widgets.Box) else ():
                if child is not self.status:
                    child.close()
            old.close()
        self.change_gateway_button = None
        self._top = [looks.row(url, key, connect), self.status]
        self._wire_part("gateway")
        self._arrange()
        return self._gateway

    @property
    def url(self) -> widgets.Text:
        """The gateway URL box (built on first use when a client was given)."""
        return self._build_gateway()["url"]

    @property
    def key(self) -> KeyField:
        """The API key box: read once by Connect, then emptied."""
        return self._build_gateway()["key"]

    @property
    def connect_button(self) -> widgets.Button:
        """Connect: builds a client from the gateway box."""
        return self._build_gateway()["connect"]

    def typed_key(self) -> str:
        """The key typed into the gateway box ('' when the box was never opened)."""
        return self._gateway["key"].value if self._gateway is not None else ""

    # -- "More settings" (built when first opened) --------------------------------------------

    def _build_more(self) -> dict[str, Any]:
        if self._more is not None:
            return self._more
        self._more = build_more(self._looks, self._confirm_above, self._set_error)
        self._areas["more"].attach(self._more["message"])
        self._wire_part("more")
        self._arrange()
        return self._more

    def toggle_more(self) -> None:
        """Show "More settings" (built the first time), or hide it again."""
        if self._more is None:
            self._build_more()
        else:
            layout = self._more["panel"].layout
            layout.display = None if layout.display == "none" else "none"
        shown = self._more is not None and self._more["panel"].layout.display != "none"
        self.more_button.description = "fewer settings" if shown else "more settings"

    def more_value(self, name: str) -> Any:
        """A "More settings" value without building the panel (its default until opened)."""
        if self._more is None:
            if name == "confirm_above":
                return self._confirm_above
            if name in ("image", "last_frame"):
                return None
            return _MORE_DEFAULTS[name]
        widget = self._more[name]
        return widget.data_uri if isinstance(widget, ImageUpload) else widget.value

    def more_error(self) -> bool:
        """True when an image upload was refused (shown in "More settings")."""
        return bool(self.error("image") or self.error("last_frame"))

    @property
    def negative(self) -> widgets.Textarea:
        """The negative prompt (in "More settings")."""
        return self._build_more()["negative"]

    @property
    def quality(self) -> widgets.Combobox:
        """Quality (in "More settings")."""
        return self._build_more()["quality"]

    @property
    def fps(self) -> widgets.Dropdown:
        """The frame rate: 0 is the model's default (in "More settings")."""
        return self._build_more()["fps"]

    @property
    def n(self) -> widgets.BoundedIntText:
        """Videos per task (in "More settings")."""
        return self._build_more()["n"]

    @property
    def metadata(self) -> widgets.Textarea:
        """Extra request fields as JSON (in "More settings")."""
        return self._build_more()["metadata"]

    @property
    def confirm_above(self) -> widgets.BoundedIntText:
        """Runs of more tasks than this ask to confirm (in "More settings")."""
        return self._build_more()["confirm_above"]

    @property
    def allow_parallel(self) -> widgets.Checkbox:
        """Let Generate start a run while another works (in "More settings")."""
        return self._build_more()["allow_parallel"]

    @property
    def image(self) -> ImageUpload:
        """The start image upload (in "More settings")."""
        return self._build_more()["image"]

    @property
    def last_frame(self) -> ImageUpload:
        """The last frame upload (in "More settings")."""
        return self._build_more()["last_frame"]

    # -- built when first needed: Stop/Retry, the confirmation bar, past runs ----------------

    def _build_run_buttons(self) -> dict[str, Any]:
        if self._run_buttons is None:
            looks = self._looks
            stop = looks.button_widget(
                "vg-studio-stop",
                description="Stop",
                icon="stop",
                disabled=True,
                tooltip="cancel the tasks not yet sent; the ones sent are followed to the end",
            )
            retry = looks.button_widget(
                "vg-studio-retry",
                description="Retry failed",
                icon="redo",
                disabled=True,
                tooltip="submit each failed task of the shown run again",
            )
            self._run_buttons = {"stop": stop, "retry": retry}
            self._launch_row.children = (self.generate_button, stop, retry)
            self._wire_part("run_buttons")
        return self._run_buttons

    @property
    def stop_button(self) -> widgets.Button:
        """Stop (shown from the first run on)."""
        return self._build_run_buttons()["stop"]

    @property
    def retry_button(self) -> widgets.Button:
        """Retry failed (shown from the first run on)."""
        return self._build_run_buttons()["retry"]

    def _build_confirm(self) -> dict[str, Any]:
        if self._confirm is None:
            looks = self._looks
            message = looks.html_widget("vg-studio-confirm-message")
            confirm = looks.button_widget(
                "vg-studio-confirm", description="Launch them", button_style="warning"
            )
            cancel = looks.button_widget("vg-studio-cancel", description="Cancel")
            cancel.on_click(lambda _b: self._hide_confirm())
            box = classed(
                widgets.HBox([message, confirm, cancel], layout=widgets.Layout(display="none")),
                "vg-studio-confirm-box",
            )
            self._confirm = {"message": message, "confirm": confirm, "cancel": cancel, "box": box}
            self._wire_part("confirm")
            self._arrange()
        return self._confirm

    @property
    def confirm_message(self) -> widgets.HTML:
        """What the confirmation bar asks."""
        return self._build_confirm()["message"]

    @property
    def confirm_button(self) -> widgets.Button:
        """Launches the large run the bar asks about."""
        return self._build_confirm()["confirm"]

    @property
    def cancel_button(self) -> widgets.Button:
        """Hides the confirmation bar."""
        return self._build_confirm()["cancel"]

    @property
    def history(self) -> widgets.Dropdown:
        """The runs of this Studio ("Runs"), shown from the second run on."""
        if self._history is None:
            self._history = classed(
                widgets.Dropdown(
                    options=[],
                    description="Runs",
                    layout=widgets.Layout(width="420px", display="none"),
                    style=self._looks.described,
                ),
                "vg-studio-history",
            )
            self._wire_part("history")
            self._arrange()
        return self._history

    def _wire_part(self, part: str) -> None:
        """Connect a part just built (``studio.py`` says what its widgets do)."""

    # -- messages -------------------------------------------------------------------------

    def _set_error(self, field: str, message: str | None) -> None:
        if field not in self._area_of:
            field = "general"
        self._area_of[field].set(field, message)

    def _set_note(self, field: str, html: str) -> None:
        """Show ``html`` (not an error: "✓ valid JSON") next to ``field``."""
        self._area_of[field].set(field, None, html=html)

    def _set_head(self, group: str, html: str) -> None:
        """The line a message area shows above its fields' messages."""
        self._areas[group].set_head(html)

    def error(self, field: str) -> str:
        """The error shown next to ``field``, as plain text ('' when none)."""
        message = self.errors.get(field)
        return message.text if message is not None else ""

    def _ask_to_confirm(self, message: str) -> None:
        confirm = self._build_confirm()
        confirm["message"].value = tag("b", message)
        confirm["box"].layout.display = None

    def _hide_confirm(self) -> None:
        if self._confirm is not None:
            self._confirm["box"].layout.display = "none"
            self._confirm["message"].value = ""

    @property
    def confirm_pending(self) -> bool:
        """True while the confirmation bar is shown."""
        return self._confirm is not None and self._confirm["box"].layout.display != "none"

    @staticmethod
    def css() -> str:
        """The Studio's ``<style>`` (written into its status line)."""
        return STUDIO_CSS
