"""``Studio``: a form to launch and compare generations without writing code.

>>> studio = vg.Studio(client)          # doctest: +SKIP
>>> studio                              # the form; Generate shows the live run below it
>>> studio.run, studio.grid             # doctest: +SKIP

The Studio only calls the client's methods (``models()``, ``plan(...)``, ``run(...)``); it
never talks HTTP. Before Generate it shows the task count and the estimated cost from
``client.plan`` (marked as an estimate; a model without a price is named, never counted as
$0), and the spending limit when the client has ``max_cost``. A key typed into the gateway box is read once, handed to the new client, and the
``Password`` field is cleared at once, so the key is never part of any widget state (and
so never saved into the notebook). Every important widget carries a stable DOM class
(``vg-studio-prompt``, ``vg-studio-generate``, ``vg-studio-error-prompt``...) for browser
tests and custom CSS.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from typing import TYPE_CHECKING, Any

from ..client.sync_client import Client
from ..core.cost import Cost, format_cost
from ..core.errors import ValidationError, VideoGenError
from ..display.html import tag
from ..display.static_grid import display_with_fallback, with_static_html
from ..tasks.task_client import BASE_URL_ENV
from .run_view import RunView, show_run
from .studio_check import FormCheck, RawForm, check_form
from .studio_form import (
    Choices,
    FormValues,
    duration_choices,
    form_field,
    merge_models,
    size_choices,
)
from .studio_inputs import KeyField
from .studio_launch import AnyClient, call_on_loop, list_models
from .studio_messages import MUTED_COLOR, OK_COLOR
from .studio_price import plan_for, price_html
from .studio_view import FIELDS, StudioView

if TYPE_CHECKING:
    from ..client.async_client import AsyncClient
    from ..core.request import VideoRequest
    from ..run.run import Run
    from .grid import ComparisonGrid

__all__ = ["DEFAULT_CONFIRM_ABOVE", "FIELDS", "KeyField", "Studio"]

log = logging.getLogger(__name__)

#: runs with more tasks than this ask for a second click (the Studio's cost guard)
DEFAULT_CONFIRM_ABOVE = 8
#: how the count line names a field that needs fixing
_PROBLEM = {
    "prompt": "write a prompt",
    "models": "choose a model",
    "seeds": "fix the seeds",
    "last_frame": "fix the last frame",
}
#: how quiet lines and good notes are coloured (from the theme: see ``studio_messages``)
_MUTED, _OK = f"color:{MUTED_COLOR}", f"color:{OK_COLOR}"
#: errors about a missing value, shown next to their field only once the user has touched
#: it or tried Generate (a fresh form is not a wall of red)
_MISSING_FIELDS = ("prompt", "models")
#: the fields ``check_form`` judges (the others report their own errors)
_CHECKED_FIELDS = ("prompt", "models", "seeds", "size", "duration", "quality", "fps", "n")


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
        self.client: AnyClient | None = client
        super().__init__(
            url=client.base_url if client is not None else env_url,
            confirm_above=confirm_above,
            connected=client is not None,
        )
        self.view = view
        self.client_options = dict(client_options or {})
        #: the run shown below the form (the last launched, or one picked under "Runs")
        self.run: Run | None = None
        self.run_view: RunView | None = None
        #: every run this Studio launched, oldest first, with its live view
        self.runs: list[tuple[Run, RunView]] = []
        #: how many runs this Studio launched
        self.launched = 0
        #: what the chosen models allow for ``size`` and ``duration``
        self.choices: dict[str, Choices] = {}
        #: the form as last checked (what Generate would send)
        self.check: FormCheck = FormCheck()
        self._model_note: str | None = None
        self._run_labels: list[str] = []
        self._touched: set[str] = set()
        self._models_task: asyncio.Task[None] | None = None
        self._wire()
        self._show_connection()
        if load_models:
            self.reload_models()
        else:
            self._set_model_options(None)
        self._update_choices()
        self._validate()

    # -- wiring ---------------------------------------------------------------------------

    def _wire(self) -> None:
        """Connect the buttons and the live feedback to what they do."""
        self.generate_button.on_click(lambda _b: self.generate())
        self.models.observe(lambda _c: self._update_choices(), names="value")
        self._observe_fields(
            {
                "models": self.models,
                "prompt": self.prompt,
                "seeds": self.seeds,
                "size": self.size,
                "duration": self.duration,
            }
        )

    def _observe_fields(self, fields: dict[str, Any]) -> None:
        for name, widget in fields.items():
            widget.observe(lambda _c, name=name: self._form_changed(name), names="value")

    def _wire_part(self, part: str) -> None:
        """Connect a part of the form built only when first needed."""
        if part == "gateway":
            self.connect_button.on_click(lambda _b: self.connect())
        elif part == "more":
            more = self._more
            assert more is not None
            self._observe_fields(
                {name: more[name] for name in ("negative", "quality", "fps", "n", "metadata")}
            )
            more["confirm_above"].observe(
                lambda _c: self._form_changed("confirm_above"), names="value"
            )
            more["allow_parallel"].observe(lambda _c: self._validate(), names="value")
            for upload in (more["image"], more["last_frame"]):
                upload.on_change = lambda: self._form_changed(None)
        elif part == "run_buttons":
            self.stop_button.on_click(lambda _b: self.stop())
            self.retry_button.on_click(lambda _b: self.retry_failed())
        elif part == "confirm":
            self.confirm_button.on_click(lambda _b: self.generate(confirmed=True))
        elif part == "history":
            self.history.observe(lambda c: self._show_past(c["new"]), names="value")

    # -- gateway --------------------------------------------------------------------------

    def connect(self) -> bool:
        """Build a client from the gateway box; True when it worked.

        The typed key is read once and the ``Password`` field emptied before anything else
        happens, so the key never stays in widget state, whatever follows.
        """
        key = self.typed_key() or None
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
            status = tag("span", "not connected: enter the gateway URL and key", style=_MUTED)
        else:
            status = tag("span", f"connected to {self.client.base_url}", style=_OK)
        self._set_head("gateway", self.css() + status)

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
        self._model_note = note
        self._validate()

    # -- live form feedback ---------------------------------------------------------------

    def _form_changed(self, field: str | None) -> None:
        if field is not None:
            self._touched.add(field)
        self._hide_confirm()
        self._validate()

    def _update_choices(self) -> None:
        models = list(self.models.value)
        durations = duration_choices(models)
        sizes = size_choices(models)
        self.choices = {"duration": durations, "size": sizes}
        # Never ``ensure_option``: a front end that refuses a typed value keeps showing it
        # while the kernel gets "" (the form would say "banana" and send the default). The
        # kernel checks the value instead and says what is wrong next to the field.
        self.duration.options = durations.options
        self.size.options = sizes.options
        # A value the new models do not take is cleared rather than silently sent.
        if durations.restricted and self.duration.value not in durations.options:
            self.duration.value = ""
        if sizes.restricted and self.size.value not in sizes.options:
            self.size.value = ""
        notes = [n for n in (sizes.note, durations.note) if n]
        self._set_head("settings", "".join(tag("div", n, style=_MUTED) for n in notes))
        self._set_head("models", tag("div", f"Models: {self.models.summary()}"))

    def raw_form(self) -> RawForm:
        """The form exactly as its widgets hold it."""
        return RawForm(
            prompt=self.prompt.value,
            models=tuple(self.models.value),
            seeds=self.seeds.value,
            negative=self.more_value("negative"),
            image=self.more_value("image"),
            last_image=self.more_value("last_frame"),
            size=self.size.value,
            duration=self.duration.value,
            quality=self.more_value("quality"),
            fps=int(self.more_value("fps") or 0),
            n=int(self.more_value("n") or 0),
            metadata=self.more_value("metadata"),
        )

    def _validate(self, *, attempted: bool = False) -> FormCheck:
        """Check every field against what would be sent; show each error next to its field
        (clearing the fixed ones), update the count line and enable Generate only when the
        form is valid and no run of this Studio is working (unless parallel runs are on)."""
        if attempted:
            self._touched.update(_MISSING_FIELDS)
        check = check_form(self.raw_form())
        self.check = check
        for field in (*_CHECKED_FIELDS, "metadata", "general"):
            message = check.errors.get(field)
            if field in _MISSING_FIELDS and field not in self._touched:
                message = None
            if field == "models" and not message:
                message = self._model_note
            self._set_error(field, message)
        if not check.errors.get("metadata") and self.more_value("metadata").strip():
            self._set_note("metadata", tag("span", "✓ valid JSON", style=_OK))
        self._update_count(check)
        self._update_buttons()
        return check

    def _update_count(self, check: FormCheck) -> None:
        if not check.ok:
            problems = [_PROBLEM.get(f, f"fix the {f.replace('_', ' ')}") for f in check.errors]
            for field in ("image", "last_frame"):
                if self.error(field):
                    problems.append(f"fix the {field.replace('_', ' ')}")
            text = f"0 tasks: {', '.join(problems) or 'nothing to launch'}"
            self._set_head("launch", tag("div", text, style=_MUTED))
            return
        n = len(check.requests)
        above = self.more_value("confirm_above")
        text = f"{n} task{'s' if n != 1 else ''} will be launched"
        if n > above:
            text += f" (asks to confirm: more than {above})"
        line = tag("div", text, style="font-weight:600")
        self._set_head("launch", line + price_html(self.client, check.requests))

    @property
    def busy(self) -> bool:
        """True while a run this Studio launched is still working."""
        return any(not run.done for run, _view in self.runs)

    def _update_buttons(self) -> None:
        blocked = self.busy and not self.more_value("allow_parallel")
        self.generate_button.disabled = not self.check.ok or self.more_error() or blocked
        self.generate_button.tooltip = (
            "a run is working: Stop it, wait, or tick 'allow parallel runs'" if blocked else ""
        )
        if self._run_buttons is None:  # Stop and Retry appear with the first run
            return
        self.stop_button.disabled = not self.busy
        failed = self._failed_rows(self.run)
        self.retry_button.disabled = not failed
        self.retry_button.description = (
            f"Retry failed ({len(failed)})" if failed else "Retry failed"
        )

    @property
    def task_count(self) -> int:
        """How many tasks Generate would launch now (0 when the form is incomplete)."""
        return len(self.check.requests) if self.check.ok else 0

    # -- launching ------------------------------------------------------------------------

    def read_form(self) -> FormValues:
        """The form as values; raises ``ValidationError`` naming the first bad field."""
        check = self._validate()
        if check.values is None:
            field, message = next(iter(check.errors.items()))
            raise ValidationError(field, message)
        return check.values

    def generate(self, *, confirmed: bool = False) -> Run | None:
        """What the Generate button does: check the form, ask to confirm a big sweep, start
        the run through ``client.run`` and show it live below the form. Returns the run,
        or None when nothing was launched (the reason is shown next to its field).

        One run at a time: while a run of this Studio works, Generate launches nothing
        unless ``allow_parallel`` is ticked (the button is disabled too; this guards a
        click already on its way)."""
        self._hide_confirm()
        if self.typed_key() and not self.connect():
            return None
        if self.client is None:
            self._set_error("url", "connect to a gateway first (URL, key, Connect)")
            return None
        check = self._validate(attempted=True)
        if self.busy and not self.more_value("allow_parallel"):
            self._set_error(
                "general", "a run is still working: Stop it, or tick 'allow parallel runs'"
            )
            return None
        if not check.ok or self.more_error():
            return None
        requests = list(check.requests)
        count = len(requests)
        above = self.more_value("confirm_above")
        if count > above and not confirmed:
            self._ask_to_confirm(
                f"This launches {count} tasks (more than {above}), {self._estimate(requests)}. "
                "Each may be billed. Launch them?"
            )
            return None
        seeds = check.values.seeds if check.values is not None else None
        rows: str | tuple[str, ...] = ("prompt", "seed") if seeds and len(seeds) > 1 else "prompt"
        try:
            run = self._start(requests, rows)
        except ValidationError as exc:
            self._set_error(form_field(exc.field), str(exc))
            return None
        except VideoGenError as exc:
            self._set_error("general", str(exc))
            return None
        self._launched(run)
        return run

    def _estimate(self, requests: list[VideoRequest]) -> str:
        """The estimated cost in a few words, for the confirmation question."""
        try:
            plan = plan_for(self.client, requests)
        except VideoGenError:
            return "cost unknown"
        if plan.total is None:
            return "price unknown"
        text = format_cost(
            Cost(amount=plan.total, currency=plan.currency, source="estimated", basis="plan")
        )
        return f"estimated {text}" + (" (some prices unknown)" if plan.unknown else "")

    def _start(self, requests: list[VideoRequest], rows: str | tuple[str, ...]) -> Run:
        client = self.client
        assert client is not None
        # The user saw the count (and confirmed a large one): that is the spending guard.

        def start(aclient: AsyncClient) -> Run:
            run = aclient.run(requests, max_tasks=len(requests), rows=rows, cols="model")
            # Set on the loop before any row submits: the live table shows the catalog's
            # warnings on their rows, so no raw Python warning is printed as well.
            run.warnings_on_rows = True
            return run

        return call_on_loop(client, start)

    # -- the runs -------------------------------------------------------------------------

    def _launched(self, run: Run) -> None:
        """Show ``run`` below the form and keep it reachable under "Runs"."""
        view = show_run(run, view=self.view)
        self._build_run_buttons()
        self.runs.append((run, view))
        self.launched += 1
        run.add_listener(lambda index: self._run_changed(run, index))
        stamp = time.strftime("%H:%M:%S", time.localtime(run.started_at))
        self._run_labels.append(f"run {len(self.runs)} · {len(run.rows)} tasks · {stamp}")
        if len(self.runs) > 1:  # "Runs" appears with the second run
            self.history.options = [(label, i) for i, label in enumerate(self._run_labels)]
            self.history.layout.display = None
        self._show_past(len(self.runs) - 1)

    def _show_past(self, index: int | None) -> None:
        """Show the run at ``index`` of ``runs`` below the form (others keep working)."""
        if index is None or not 0 <= index < len(self.runs):
            return
        self.run, self.run_view = self.runs[index]
        if self._history is not None and self._history.value != index:
            self._history.value = index
        self.output.children = (self.run_view.widget,)
        self._update_buttons()

    def _run_changed(self, run: Run, index: int | None) -> None:
        # Called on the run's loop thread: only the buttons change (Stop, Retry, Generate).
        if index is None or run is self.run:
            self._update_buttons()

    def stop(self) -> int:
        """Stop every working run of this Studio: the tasks not yet sent are cancelled, the
        ones the gateway accepted are followed and downloaded. Returns how many stopped."""
        stopped = sum(run.stop() for run, _view in self.runs if not run.done)
        self._update_buttons()
        return stopped

    @staticmethod
    def _failed_rows(run: Run | None) -> list[int]:
        if run is None:
            return []
        return [
            row.index for row in run.rows if row.state.is_finished and row.state.value != "done"
        ]

    def retry(self, index: int) -> bool:
        """Submit task ``index`` of the shown run again (one request, one new task)."""
        if self.run is None:
            return False
        retried = self.run.retry(index)
        self._update_buttons()
        return retried

    def retry_failed(self) -> int:
        """Submit every failed task of the shown run again; returns how many."""
        return sum(self.retry(index) for index in self._failed_rows(self.run))

    @property
    def grid(self) -> ComparisonGrid | None:
        """The comparison grid of the last run (None until its first video arrives)."""
        return self.run_view.grid if self.run_view is not None else None

    def static_html(self) -> str:
        """What front ends without the widget show (nbviewer, GitHub, a static export): the
        Studio in one line, and how to use it. Small on purpose."""
        where = (
            f"connected to {self.client.base_url}" if self.client is not None else "not connected"
        )
        text = (
            f"videogen-nb Studio ({where}, {self.launched} run(s) launched): a form to launch "
            "and compare generations; run this cell with a kernel to use it."
        )
        return tag("div", text, class_="vg-studio-static", style=f"{_MUTED};font-size:12px")

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return with_static_html(super()._repr_mimebundle_(**kwargs), self.static_html())

    def _ipython_display_(self) -> None:
        # two outputs: the form, then its one-line stand-in for a saved notebook
        display_with_fallback(super()._repr_mimebundle_(), self.static_html(), repr(self))

    def __repr__(self) -> str:
        where = self.client.base_url if self.client is not None else "not connected"
        return f"Studio({where}, runs={self.launched})"
