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
import logging
import os
from typing import TYPE_CHECKING, Any

from ..client.sync_client import Client
from ..core.errors import ValidationError, VideoGenError
from ..display.html import tag
from ..store.catalog import check_request
from ..tasks.task_client import BASE_URL_ENV
from .run_view import RunView, show_run
from .studio_form import (
    FormValues,
    build_requests,
    count_text,
    counting_values,
    duration_choices,
    form_field,
    merge_models,
    parse_metadata,
    parse_prompts,
    parse_seeds,
    size_choices,
    task_count,
)
from .studio_inputs import KeyField
from .studio_launch import AnyClient, call_on_loop, list_models
from .studio_view import FIELDS, StudioView

if TYPE_CHECKING:
    from ..core.request import VideoRequest
    from ..run.run import Run
    from .grid import ComparisonGrid

__all__ = ["DEFAULT_CONFIRM_ABOVE", "FIELDS", "KeyField", "Studio"]

log = logging.getLogger(__name__)

#: runs with more tasks than this ask for a second click (the Studio's cost guard)
DEFAULT_CONFIRM_ABOVE = 8


class Studio(StudioView):
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
        client: AnyClient | None = None,
        *,
        confirm_above: int = DEFAULT_CONFIRM_ABOVE,
        view: str = "both",
        client_options: dict[str, Any] | None = None,
        load_models: bool = True,
    ) -> None:
        env_url = os.environ.get(BASE_URL_ENV, "")
        super().__init__(
            url=client.base_url if client is not None else env_url, confirm_above=confirm_above
        )
        self.client: AnyClient | None = client
        self.view = view
        self.client_options = dict(client_options or {})
        #: the last run launched, and its live view
        self.run: Run | None = None
        self.run_view: RunView | None = None
        #: how many runs this Studio launched
        self.launched = 0
        self._models_task: asyncio.Task[None] | None = None
        self._wire()
        self._show_connection()
        if load_models:
            self.reload_models()
        else:
            self._set_model_options(None)
        self._update_choices()
        self._update_count()

    # -- wiring ---------------------------------------------------------------------------

    def _wire(self) -> None:
        """Connect the buttons and the live feedback to what they do."""
        self.confirm_button.on_click(lambda _b: self.generate(confirmed=True))
        self.generate_button.on_click(lambda _b: self.generate())
        self.connect_button.on_click(lambda _b: self.connect())
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
            # the same kind of client as before (an AsyncClient stays async)
            factory = type(self.client) if self.client is not None else Client
            client = factory(url, key, **self.client_options)
        except VideoGenError as exc:
            self._set_error("url", str(exc))
            return False
        finally:
            del key
        self.client = client
        self._show_connection()
        self.reload_models()
        return True

    def _show_connection(self) -> None:
        if self.client is None:
            self.status.value = tag(
                "span", "not connected: enter the gateway URL and key", style="color:#666"
            )
        else:
            self.status.value = tag(
                "span", f"connected to {self.client.base_url}", style="color:#1a7f37"
            )

    def reload_models(self) -> asyncio.Task[None] | None:
        """Fill the model picker from ``client.models()`` merged with the catalog.

        On the client's own loop (an ``AsyncClient`` in a notebook) the listing is scheduled
        and its task returned (await it to wait for the options).
        """
        client = self.client
        if client is None:
            self._set_model_options(None)
            return None
        task = list_models(client, self._models_listed)
        if task is not None:
            self._set_model_options(None)  # the catalog's models while the gateway answers
            self._models_task = task
        return task

    def _models_listed(self, names: list[str] | None, note: str | None) -> None:
        self._set_model_options(names, note=note)

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
        self.limits.value = "".join(tag("div", n, style="color:#666;font-size:12px") for n in notes)

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
        text, complete = count_text(
            self.prompt.value, self.seeds.value, tuple(self.models.value), self.confirm_above.value
        )
        self.count.value = tag("span", text, style="font-weight:600" if complete else "color:#666")

    @property
    def task_count(self) -> int:
        """How many tasks Generate would launch now (0 when the form is incomplete)."""
        try:
            values = counting_values(self.prompt.value, self.seeds.value, tuple(self.models.value))
        except ValidationError:
            return 0
        return task_count(values)

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
            self._ask_to_confirm(
                f"This launches {count} tasks (more than {self.confirm_above.value}). "
                "Each may be billed. Launch them?"
            )
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
        return call_on_loop(
            client,
            lambda aclient: aclient.run(requests, max_tasks=len(requests), rows=rows, cols="model"),
        )

    def _show_warnings(self, requests: list[VideoRequest]) -> None:
        seen = list(
            dict.fromkeys(
                w for req in requests for w in check_request(req) if "not in the catalog" not in w
            )
        )
        self.warnings.value = "".join(
            tag("div", f"⚠ {w}", style="color:#8a6d00;font-size:12px") for w in seen[:10]
        )

    @property
    def grid(self) -> ComparisonGrid | None:
        """The comparison grid of the last run (None until its first video arrives)."""
        return self.run_view.grid if self.run_view is not None else None

    def __repr__(self) -> str:
        where = self.client.base_url if self.client is not None else "not connected"
        return f"Studio({where}, runs={self.launched})"
