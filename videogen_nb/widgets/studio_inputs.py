"""The Studio's inputs that hold a secret or bytes: the key field and the image uploads.

Both keep what they hold out of the widget state that a notebook saves: the key field never
echoes its value, an upload keeps its image on the Python side and empties the widget.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets
import traitlets
from ipywidgets.widgets.widget_string import HTMLStyle

from ..core.errors import ValidationError
from ..core.media import normalize_media

__all__ = ["ImageUpload", "KeyField", "classed"]

THUMB_PX = 96


def classed(widget: widgets.DOMWidget, name: str) -> Any:
    """``widget`` with the DOM class ``name`` (a stable hook for browser tests and CSS)."""
    widget.add_class(name)
    return widget


def _thumbnail(data: bytes) -> bytes | None:
    """A small PNG of an uploaded image (PIL), so the widget state stays small."""
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - pillow ships with the sandbox extra
        return None
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.thumbnail((THUMB_PX, THUMB_PX))
            out = io.BytesIO()
            img.convert("RGBA" if img.mode in ("RGBA", "LA", "P") else "RGB").save(out, "PNG")
            return out.getvalue()
    except Exception:  # an image PIL cannot read may still be one the gateway can
        return None


class KeyField(widgets.Password):
    """A ``Password`` whose value the kernel never echoes back to the front ends.

    ipywidgets 8 repeats every value a browser sends to all front ends (``echo_update``);
    for a key that would be one more copy on the wire. The Studio also empties the field as
    soon as it has read the key.
    """

    value = traitlets.Unicode("", help="the typed key (emptied once read)").tag(
        sync=True, echo_update=False
    )


class ImageUpload:
    """One image upload: the button and one line that says what is chosen ("Start image:
    none"); the thumbnail and the remove button are built at the first upload.

    The uploaded bytes are kept on the Python side as a data URI and the ``FileUpload``
    value is emptied, so a 10 MB image does not sit in the notebook's widget state.
    ``on_change`` is called once the image is chosen, refused or removed.
    """

    def __init__(
        self,
        field: str,
        label: str,
        on_error: Callable[[str, str | None], None],
        *,
        on_change: Callable[[], None] | None = None,
        layout: widgets.Layout | None = None,
        button_style: widgets.ButtonStyle | None = None,
        html_style: HTMLStyle | None = None,
    ):
        self.field = field
        self.title = label
        self.request_field = "image" if field == "image" else "last_image"
        self.data_uri: str | None = None
        self.name = ""
        self._on_error = on_error
        self.on_change = on_change
        self._button_style = button_style
        self._thumb: widgets.Image | None = None
        self._clear: widgets.Button | None = None
        self._dashed = field.replace("_", "-")
        shared = {"layout": layout} if layout is not None else {}
        choose = f"choose {label.lower()}"
        # FileUpload always writes its file count after its text ("(0)" here, since the
        # value is emptied): the Studio's CSS shows the tooltip in its place.
        self.button = classed(
            widgets.FileUpload(
                accept="image/*",
                multiple=False,
                description=choose,
                tooltip=choose,
                **shared,
                **({"style": button_style} if button_style is not None else {}),
            ),
            f"vg-studio-{self._dashed}",
        )
        self.button.add_class("vg-studio-upload")
        self.label = classed(
            widgets.HTML(
                self._describe(),
                **shared,
                **({"style": html_style} if html_style is not None else {}),
            ),
            f"vg-studio-{self._dashed}-info",
        )
        self.button.observe(self._changed, names="value")
        self.box = widgets.HBox([self.button, self.label], **shared)

    def _describe(self) -> str:
        return f"{self.title}: {self.name or 'none'}"

    @property
    def thumb(self) -> widgets.Image:
        """The thumbnail of the chosen image (built at the first upload)."""
        if self._thumb is None:
            self._thumb = classed(
                widgets.Image(format="png", layout=widgets.Layout(max_width=f"{THUMB_PX}px")),
                f"vg-studio-{self._dashed}-thumb",
            )
        return self._thumb

    @property
    def clear_button(self) -> widgets.Button:
        """The button that removes the chosen image (built at the first upload)."""
        if self._clear is None:
            style = {"style": self._button_style} if self._button_style is not None else {}
            self._clear = classed(
                widgets.Button(
                    description="remove", tooltip=f"remove the {self.title.lower()}", **style
                ),
                f"vg-studio-{self._dashed}-clear",
            )
            self._clear.on_click(lambda _b: self.clear())
        return self._clear

    def _show(self) -> None:
        self.label.value = self._describe()
        extra: list[widgets.Widget] = []
        if self.data_uri:
            extra = [self.thumb, self.clear_button] if self.thumb.value else [self.clear_button]
        self.box.children = (self.button, self.label, *extra)
        if self.on_change is not None:
            self.on_change()

    def _changed(self, change: dict[str, Any]) -> None:
        files = change["new"]
        if not files:
            return
        first = files[0]
        data, name = bytes(first["content"]), str(first.get("name", ""))
        self.button.value = ()  # see the class docstring: keep the bytes out of widget state
        try:
            uri = normalize_media(data, self.request_field)
        except ValidationError as exc:
            self._on_error(self.field, exc.message)
            self._show()
            return
        self._on_error(self.field, None)
        self.data_uri, self.name = uri, name
        self.thumb.value = _thumbnail(data) or b""
        self._show()

    def clear(self) -> None:
        """Forget the image."""
        self.data_uri, self.name = None, ""
        if self._thumb is not None:
            self._thumb.value = b""
        self._on_error(self.field, None)
        self._show()
