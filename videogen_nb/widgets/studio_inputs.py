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
    """One image upload: the button, a thumbnail, the file name and a clear button.

    The uploaded bytes are kept on the Python side as a data URI and the ``FileUpload``
    value is emptied, so a 10 MB image does not sit in the notebook's widget state.
    """

    def __init__(self, field: str, label: str, on_error: Callable[[str, str | None], None]):
        self.field = field
        self.request_field = "image" if field == "image" else "last_image"
        self.data_uri: str | None = None
        self.name = ""
        self._on_error = on_error
        dashed = field.replace("_", "-")
        self.button = classed(
            widgets.FileUpload(accept="image/*", multiple=False, description=label),
            f"vg-studio-{dashed}",
        )
        self.thumb = classed(
            widgets.Image(
                format="png", layout=widgets.Layout(max_width=f"{THUMB_PX}px", display="none")
            ),
            f"vg-studio-{dashed}-thumb",
        )
        self.label = widgets.Label("")
        self.clear_button = classed(
            widgets.Button(
                description="remove", layout=widgets.Layout(width="auto", display="none")
            ),
            f"vg-studio-{dashed}-clear",
        )
        self.clear_button.on_click(lambda _b: self.clear())
        self.button.observe(self._changed, names="value")
        self.box = widgets.HBox([self.button, self.thumb, self.label, self.clear_button])

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
            return
        self._on_error(self.field, None)
        self.data_uri, self.name = uri, name
        thumb = _thumbnail(data)
        self.thumb.value = thumb or b""
        self.thumb.layout.display = None if thumb else "none"
        self.label.value = name
        self.clear_button.layout.display = None

    def clear(self) -> None:
        """Forget the image."""
        self.data_uri, self.name = None, ""
        self.thumb.value = b""
        self.thumb.layout.display = "none"
        self.label.value = ""
        self.clear_button.layout.display = "none"
        self._on_error(self.field, None)
