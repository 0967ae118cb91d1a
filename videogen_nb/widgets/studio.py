"""``Studio``: a form to launch and compare generations without writing code.

>>> studio = vg.Studio(client)          # doctest: +SKIP
>>> studio                              # the form; Generate shows the live run below it
>>> studio.run, studio.grid             # doctest: +SKIP

The Studio only calls the client's methods (``models()``, ``run(...)``); it never talks
HTTP. A key typed into the gateway box is read once, handed to the new client, and the
``Password`` field is cleared at once, so the key is never part of any widget state (and
so never saved into the notebook). Every important widget carries a stable DOM class
(``vg-studio-prompt``, ``vg-studio-generate``, ``vg-studio-error-prompt``...) for browser
tests and custom CSS.
"""

from __future__ import annotations

import asyncio
import io
import logging
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
import traitlets

from ..client.async_client import AsyncClient
from ..client.sync_client import Client
from ..core.errors import ValidationError, VideoGenError
from ..core.media import normalize_media
from ..display.html import tag
from ..store.catalog import check_request
from ..tasks.task_client import API_KEY_ENV, BASE_URL_ENV
from .run_view import RunView, show_run
from .studio_form import (
    FormValues,
    build_requests,
    duration_choices,
    form_field,
    merge_models,
    parse_metadata,
    parse_prompts,
    parse_seeds,
    size_choices,
    task_count,
)

if TYPE_CHECKING:
    from ..core.request import VideoRequest
    from ..run.run import Run
    from .grid import ComparisonGrid

__all__ = ["DEFAULT_CONFIRM_ABOVE", "FIELDS", "KeyField", "Studio"]

log = logging.getLogger(__name__)

#: runs with more tasks than this ask for a second click (the Studio's cost guard)
DEFAULT_CONFIRM_ABOVE = 8
#: the form fields that can show an error next to them (``vg-studio-error-<field>``)
FIELDS: tuple[str, ...] = (
    "url", "models", "prompt", "negative", "image", "last_frame", "size", "duration",
    "quality", "fps", "seeds", "n", "metadata", "general",
)
_QUALITY_SUGGESTIONS = ("standard", "high")
_THUMB_PX = 96
_WIDE = widgets.Layout(width="100%")


def _classed(widget: widgets.DOMWidget, name: str) -> Any:
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
            img.thumbnail((_THUMB_PX, _THUMB_PX))
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


class _Upload:
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
        self.button = _classed(
            widgets.FileUpload(accept="image/*", multiple=False, description=label),
            f"vg-studio-{dashed}",
        )
        self.thumb = _classed(
            widgets.Image(format="png", layout=widgets.Layout(max_width=f"{_THUMB_PX}px",
                                                              display="none")),
            f"vg-studio-{dashed}-thumb",
        )
        self.label = widgets.Label("")
        self.clear_button = _classed(
            widgets.Button(description="remove", layout=widgets.Layout(width="auto",
                                                                       display="none")),
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


class Studio(widgets.VBox):
    """A form for generations: gateway, models, prompts (a sweep), media, limits, Generate.

    ``client`` is a ``vg.Client`` or a ``vg.AsyncClient`` (None: connect from the gateway
    box; URL and key default to ``VIDEOGEN_BASE_URL``/``VIDEOGEN_API_KEY``).
    ``confirm_above``: runs of more tasks ask for confirmation first. ``view`` is how a run
    shows below the form (``"both"``, ``"table"``, ``"grid"``). ``client_options`` go to
    the client the gateway box builds (``journal=``, ``output_dir=``...).

    After Generate, ``studio.run`` is the run and ``studio.grid`` its comparison grid (None
    until the first video arrives).
    """

    def __init__(
        self,
        client: Client | AsyncClient | None = None,
        *,
        confirm_above: int = DEFAULT_CONFIRM_ABOVE,
        view: str = "both",
        client_options: dict[str, Any] | None = None,
        load_models: bool = True,
    ) -> None:
        super().__init__()
        self.add_class("vg-studio")
        self.client: Client | AsyncClient | None = client
        self.view = view
        self.client_options = dict(client_options or {})
        #: the last run launched, and its live view
        self.run: Run | None = None
        self.run_view: RunView | None = None
        #: how many runs this Studio launched
        self.launched = 0
        self._async_mode = isinstance(client, AsyncClient)
        self._loop = _running_loop()
        self._models_task: asyncio.Task[None] | None = None
        self._build(confirm_above)
        self._show_connection()
        if load_models:
            self.reload_models()
        else:
            self._set_model_options(None)
        self._update_choices()
        self._update_count()

    # -- building the form ----------------------------------------------------------------

    def _build(self, confirm_above: int) -> None:
        self._messages: dict[str, str] = {}
        self.errors: dict[str, widgets.HTML] = {
            name: _classed(widgets.HTML(""), f"vg-studio-error-{name.replace('_', '-')}")
            for name in FIELDS
        }
        env_url = os.environ.get(BASE_URL_ENV, "")
        url = self.client.base_url if self.client is not None else env_url
        self.url = _classed(
            widgets.Text(value=url, description="Gateway", placeholder="https://gateway.example/v1",
                         layout=widgets.Layout(width="420px")),
            "vg-studio-url",
        )
        hint = f"from {API_KEY_ENV}" if os.environ.get(API_KEY_ENV) else "API key"
        self.key = _classed(
            KeyField(value="", description="Key", placeholder=hint,
                             layout=widgets.Layout(width="260px")),
            "vg-studio-key",
        )
        self.connect_button = _classed(
            widgets.Button(description="Connect", icon="plug"), "vg-studio-connect"
        )
        self.connect_button.on_click(lambda _b: self.connect())
        self.status = _classed(widgets.HTML(""), "vg-studio-status")

        self.models = _classed(
            widgets.SelectMultiple(options=[], description="Models", rows=8,
                                   layout=widgets.Layout(width="420px")),
            "vg-studio-models",
        )
        self.prompt = _classed(
            widgets.Textarea(description="Prompt", placeholder="one prompt per line: a sweep",
                             rows=3, layout=_WIDE),
            "vg-studio-prompt",
        )
        self.negative = _classed(
            widgets.Textarea(description="Negative", placeholder="what to avoid (optional)",
                             rows=1, layout=_WIDE),
            "vg-studio-negative",
        )
        self.image = _Upload("image", "Image", self._set_error)
        self.last_frame = _Upload("last_frame", "Last frame", self._set_error)
        self.size = _classed(
            widgets.Combobox(description="Size", placeholder="default",
                             layout=widgets.Layout(width="220px")),
            "vg-studio-size",
        )
        self.duration = _classed(
            widgets.Combobox(description="Seconds", placeholder="default",
                             layout=widgets.Layout(width="180px")),
            "vg-studio-duration",
        )
        self.quality = _classed(
            widgets.Combobox(description="Quality", placeholder="default",
                             options=_QUALITY_SUGGESTIONS, layout=widgets.Layout(width="200px")),
            "vg-studio-quality",
        )
        self.fps = _classed(
            widgets.BoundedIntText(value=0, min=0, max=240, description="fps",
                                   tooltip="0: the model's default",
                                   layout=widgets.Layout(width="140px")),
            "vg-studio-fps",
        )
        self.n = _classed(
            widgets.BoundedIntText(value=1, min=1, max=100, description="n",
                                   tooltip="videos per task", layout=widgets.Layout(width="140px")),
            "vg-studio-n",
        )
        self.limits = _classed(widgets.HTML(""), "vg-studio-limits")
        self.seeds = _classed(
            widgets.Text(description="Seeds", placeholder="e.g. 1, 2, 3 (blank: random)",
                         layout=widgets.Layout(width="420px")),
            "vg-studio-seeds",
        )
        self.metadata = _classed(
            widgets.Textarea(description="Metadata", placeholder='{"cfg_scale": 0.5}', rows=2,
                             layout=_WIDE),
            "vg-studio-metadata",
        )
        self.count = _classed(widgets.HTML(""), "vg-studio-count")
        self.confirm_above = _classed(
            widgets.BoundedIntText(value=int(confirm_above), min=0, max=100_000,
                                   description="Confirm above", style={"description_width": "auto"},
                                   layout=widgets.Layout(width="200px")),
            "vg-studio-confirm-above",
        )
        self.generate_button = _classed(
            widgets.Button(description="Generate", button_style="primary", icon="play"),
            "vg-studio-generate",
        )
        self.generate_button.on_click(lambda _b: self.generate())
        self.confirm_message = _classed(widgets.HTML(""), "vg-studio-confirm-message")
        self.confirm_button = _classed(
            widgets.Button(description="Confirm", button_style="warning"), "vg-studio-confirm"
        )
        self.confirm_button.on_click(lambda _b: self.generate(confirmed=True))
        self.cancel_button = _classed(widgets.Button(description="Cancel"), "vg-studio-cancel")
        self.cancel_button.on_click(lambda _b: self._hide_confirm())
        self.confirm_box = _classed(
            widgets.HBox([self.confirm_message, self.confirm_button, self.cancel_button],
                         layout=widgets.Layout(display="none")),
            "vg-studio-confirm-box",
        )
        self.warnings = _classed(widgets.HTML(""), "vg-studio-warnings")
        self.output = _classed(widgets.VBox([]), "vg-studio-output")

        e = self.errors
        self.children = [
            widgets.HBox([self.url, self.key, self.connect_button]),
            widgets.HBox([self.status, e["url"]]),
            widgets.HBox([self.models, e["models"]]),
            self.prompt, e["prompt"],
            self.negative, e["negative"],
            widgets.HBox([self.image.box, e["image"]]),
            widgets.HBox([self.last_frame.box, e["last_frame"]]),
            widgets.HBox([self.size, self.duration, self.quality, self.fps, self.n]),
            self.limits, e["size"], e["duration"], e["quality"], e["fps"], e["n"],
            widgets.HBox([self.seeds, e["seeds"]]),
            self.metadata, e["metadata"],
            widgets.HBox([self.generate_button, self.count, self.confirm_above]),
            self.confirm_box, e["general"], self.warnings,
            self.output,
        ]

        recount = [self.models, self.prompt, self.seeds, self.confirm_above]
        for widget in recount:
            widget.observe(lambda _c: self._form_changed(), names="value")
        for widget in (self.negative, self.size, self.duration, self.quality, self.fps, self.n):
            widget.observe(lambda _c: self._hide_confirm(), names="value")
        self.models.observe(lambda _c: self._update_choices(), names="value")
        self.metadata.observe(lambda _c: self._check_metadata(), names="value")

    # -- gateway --------------------------------------------------------------------------

    def connect(self) -> bool:
        """Build a client from the gateway box; True when it worked.

        The typed key is read once and the ``Password`` field emptied before anything else
        happens, so the key never stays in widget state, whatever follows.
        """
        key = self.key.value or None
        self.key.value = ""
        url = self.url.value.strip() or None
        self._set_error("url", None)
        try:
            factory = AsyncClient if self._async_mode else Client
            client = factory(url, key, **self.client_options)
        except VideoGenError as exc:
            self._set_error("url", str(exc))
            return False
        finally:
            del key
        self.client = client
        self._loop = self._loop or _running_loop()
        self._show_connection()
        self.reload_models()
        return True

    def _show_connection(self) -> None:
        if self.client is None:
            self.status.value = tag("span", "not connected: enter the gateway URL and key",
                                    style="color:#666")
        else:
            self.status.value = tag("span", f"connected to {self.client.base_url}",
                                    style="color:#1a7f37")

    def reload_models(self) -> asyncio.Task[None] | None:
        """Fill the model picker from ``client.models()`` merged with the catalog.

        With an ``AsyncClient`` the listing is scheduled on the running loop and the task
        is returned (await it to wait for the options).
        """
        client = self.client
        if client is None:
            self._set_model_options(None)
            return None
        if isinstance(client, AsyncClient):
            loop = _running_loop()
            if loop is None:
                self._set_model_options(None, note="no running loop to ask the gateway for models")
                return None
            self._set_model_options(None)
            self._models_task = loop.create_task(self._load_models_async(client))
            return self._models_task
        try:
            names = client.models()
        except VideoGenError as exc:
            self._set_model_options(None, note=f"the gateway lists no models: {exc}")
        else:
            self._set_model_options(names)
        return None

    async def _load_models_async(self, client: AsyncClient) -> None:
        try:
            names = await client.models()
        except VideoGenError as exc:
            self._set_model_options(None, note=f"the gateway lists no models: {exc}")
        else:
            self._set_model_options(names)

    def _set_model_options(self, names: list[str] | None, *, note: str | None = None) -> None:
        chosen = tuple(self.models.value)
        options = merge_models(names)
        self.models.options = options
        available = {value for _label, value in options}
        self.models.value = tuple(m for m in chosen if m in available)
        self._set_error("models", note)

    # -- live form feedback ---------------------------------------------------------------

    def _form_changed(self) -> None:
        self._hide_confirm()
        self._update_count()

    def _update_choices(self) -> None:
        models = list(self.models.value)
        durations = duration_choices(models)
        sizes = size_choices(models)
        self.duration.options = durations.options
        self.duration.ensure_option = durations.restricted
        self.size.options = sizes.options
        self.size.ensure_option = sizes.restricted
        # A value the new models do not take is cleared rather than silently sent.
        if durations.restricted and self.duration.value not in durations.options:
            self.duration.value = ""
        if sizes.restricted and self.size.value not in sizes.options:
            self.size.value = ""
        notes = [n for n in (sizes.note, durations.note) if n]
        self.limits.value = "".join(
            tag("div", n, style="color:#666;font-size:12px") for n in notes
        )

    def _check_metadata(self) -> None:
        self._hide_confirm()
        try:
            value = parse_metadata(self.metadata.value)
        except ValidationError as exc:
            self._set_error("metadata", exc.message)
            return
        self._set_error("metadata", None)
        if value:
            self.errors["metadata"].value = tag("span", "✓ valid JSON", style="color:#1a7f37")

    def _update_count(self) -> None:
        problems = []
        try:
            prompts = parse_prompts(self.prompt.value)
        except ValidationError:
            prompts, _ = [], problems.append("write a prompt")
        try:
            seeds = parse_seeds(self.seeds.value)
        except ValidationError:
            seeds, _ = None, problems.append("fix the seeds")
        models = tuple(self.models.value)
        if not models:
            problems.append("choose a model")
        if problems:
            self.count.value = tag("span", f"0 tasks: {', '.join(problems)}", style="color:#666")
            return
        values = FormValues(prompts=tuple(prompts), models=models,
                            seeds=tuple(seeds) if seeds else None)
        n = task_count(values)
        text = f"{n} task{'s' if n != 1 else ''} will be launched"
        if n > self.confirm_above.value:
            text += f" (asks to confirm: more than {self.confirm_above.value})"
        self.count.value = tag("span", text, style="font-weight:600")

    @property
    def task_count(self) -> int:
        """How many tasks Generate would launch now (0 when the form is incomplete)."""
        try:
            return task_count(self._read_counting())
        except ValidationError:
            return 0

    def _read_counting(self) -> FormValues:
        seeds = parse_seeds(self.seeds.value)
        return FormValues(prompts=tuple(parse_prompts(self.prompt.value)),
                          models=tuple(self.models.value), seeds=tuple(seeds) if seeds else None)

    # -- errors ---------------------------------------------------------------------------

    def _set_error(self, field: str, message: str | None) -> None:
        if field not in self.errors:
            field = "general"
        self._messages[field] = message or ""
        label = self.errors[field]
        label.value = "" if not message else tag("span", message, style="color:#b00020")

    def error(self, field: str) -> str:
        """The error shown next to ``field``, as plain text ('' when none)."""
        return self._messages.get(field, "")

    def _clear_errors(self) -> None:
        for name in FIELDS:
            if name not in ("metadata", "models", "image", "last_frame"):
                self._set_error(name, None)
        self.warnings.value = ""

    # -- launching ------------------------------------------------------------------------

    def read_form(self) -> FormValues:
        """The form as values; raises ``ValidationError`` naming the first bad field."""
        values = FormValues(
            prompts=tuple(parse_prompts(self.prompt.value)),
            models=tuple(self.models.value),
            seeds=tuple(s) if (s := parse_seeds(self.seeds.value)) else None,
            negative_prompt=self.negative.value,
            image=self.image.data_uri,
            last_image=self.last_frame.data_uri,
            size=self.size.value.strip(),
            duration=self.duration.value.strip(),
            quality=self.quality.value.strip(),
            fps=int(self.fps.value),
            n=int(self.n.value),
            metadata=parse_metadata(self.metadata.value),
        )
        if not values.models:
            raise ValidationError("models", "choose at least one model")
        size_choices(values.models).check(values.size, "size")
        duration_choices(values.models).check(values.duration, "duration")
        return values

    def generate(self, *, confirmed: bool = False) -> Run | None:
        """What the Generate button does: check the form, ask to confirm a big sweep, start
        the run through ``client.run`` and show it live below the form. Returns the run,
        or None when nothing was launched (the reason is shown next to its field)."""
        self._clear_errors()
        self._hide_confirm()
        if self.key.value and not self.connect():
            return None
        if self.client is None:
            self._set_error("url", "connect to a gateway first (URL, key, Connect)")
            return None
        try:
            values = self.read_form()
            requests = build_requests(values)
        except ValidationError as exc:
            field = form_field(exc.field)
            self._set_error(field, exc.message if field != "general" else str(exc))
            return None
        count = len(requests)
        if count > self.confirm_above.value and not confirmed:
            self.confirm_message.value = tag(
                "b", f"This launches {count} tasks (more than {self.confirm_above.value}). "
                "Each may be billed. Launch them?")
            self.confirm_box.layout.display = None
            return None
        self._show_warnings(requests)
        rows: str | tuple[str, ...] = (
            ("prompt", "seed") if values.seeds and len(values.seeds) > 1 else "prompt"
        )
        try:
            run = self._start(requests, rows)
        except ValidationError as exc:
            self._set_error(form_field(exc.field), str(exc))
            return None
        except VideoGenError as exc:
            self._set_error("general", str(exc))
            return None
        self.run = run
        self.launched += 1
        self.run_view = show_run(run, view=self.view)
        self.output.children = (self.run_view.widget,)
        return run

    def _start(self, requests: list[VideoRequest], rows: str | tuple[str, ...]) -> Run:
        client = self.client
        assert client is not None
        # The user saw the count (and confirmed a large one): that is the spending guard.
        options: dict[str, Any] = {"max_tasks": len(requests), "rows": rows, "cols": "model"}
        if isinstance(client, Client):
            return client.run(requests, **options)
        running = _running_loop()
        home = self._loop
        if running is not None and (home is None or running is home):
            return client.run(requests, **options)
        if home is not None and home.is_running():

            async def start() -> Run:
                return client.run(requests, **options)

            return asyncio.run_coroutine_threadsafe(start(), home).result(60)
        raise ValidationError(
            "general",
            "vg.AsyncClient needs its event loop running to start a run; in a notebook use "
            "vg.Client, or build the Studio inside a running loop",
        )

    def _show_warnings(self, requests: list[VideoRequest]) -> None:
        seen = list(dict.fromkeys(
            w for req in requests for w in check_request(req) if "not in the catalog" not in w
        ))
        self.warnings.value = "".join(
            tag("div", f"⚠ {w}", style="color:#8a6d00;font-size:12px") for w in seen[:10]
        )

    def _hide_confirm(self) -> None:
        self.confirm_box.layout.display = "none"
        self.confirm_message.value = ""

    @property
    def confirm_pending(self) -> bool:
        """True while the Confirm button is shown."""
        return self.confirm_box.layout.display != "none"

    @property
    def grid(self) -> ComparisonGrid | None:
        """The comparison grid of the last run (None until its first video arrives)."""
        return self.run_view.grid if self.run_view is not None else None

    def __repr__(self) -> str:
        where = self.client.base_url if self.client is not None else "not connected"
        return f"Studio({where}, runs={self.launched})"


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
