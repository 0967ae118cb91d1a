"""The Studio stays light: every widget model it makes is saved into the notebook.

Before issue 15 an executed quickstart held 198 widget models (167 of them the Studio's,
about 110 KB of its 163 KB of widget state) and grew by 277 KB. These tests hold the
line: the Studio makes at most half its old count, builds its rarely used parts only when
they are opened, and the executed quickstart grows by less than 200 KB in all.
``scripts/measure_quickstart.py`` prints the figures.
"""

from __future__ import annotations

import importlib.util
import json
import pathlib
from collections.abc import Iterator
from typing import Any

import pytest
from ipywidgets.widgets import widget as widget_mod

from tests.test_notebooks import _kernel_env
from videogen_nb import sandbox
from videogen_nb.client.sync_client import Client
from videogen_nb.widgets.studio import Studio

ROOT = pathlib.Path(__file__).resolve().parent.parent
#: what the Studio made before issue 15: 167 widget models, 110 KB of saved state
OLD_STUDIO_MODELS = 167
OLD_QUICKSTART_MODELS = 198
#: the issue's target for the whole executed quickstart (widget state included)
QUICKSTART_GROWTH_LIMIT = 200 * 1024
STUDIO_STATE_LIMIT = 40 * 1024


@pytest.fixture(scope="module")
def sb() -> Iterator[sandbox.SandboxHandle]:
    handle = sandbox.start(task_seconds=0.2)
    yield handle
    handle.stop()


@pytest.fixture
def client(sb: sandbox.SandboxHandle, tmp_path: pathlib.Path) -> Iterator[Client]:
    c = Client(sb.base_url, sb.api_key, journal=tmp_path / "j.db", output_dir=tmp_path / "v")
    yield c
    c.close()


def _state_bytes(state: dict[str, Any]) -> int:
    return len(json.dumps(state, default=lambda v: "x" * len(bytes(v))).encode())


class NewModels:
    """The widget models made since it was created (what a notebook would save)."""

    def __init__(self) -> None:
        self.before = set(widget_mod._instances)

    def now(self) -> list[Any]:
        return [w for k, w in list(widget_mod._instances.items()) if k not in self.before]

    def saved_bytes(self) -> int:
        return sum(_state_bytes(w.get_state()) for w in self.now())


def test_the_studio_makes_at_most_half_its_old_widget_models(client: Client) -> None:
    made = NewModels()
    studio = Studio(client)
    count, size = len(made.now()), made.saved_bytes()
    assert count <= OLD_STUDIO_MODELS // 2, count
    assert size <= STUDIO_STATE_LIMIT, size
    # Typing into the form, choosing models and the price line make no new models.
    studio.models.value = ("sora-2", "veo_3_1-fast")
    studio.prompt.value = "a boat\na kite"
    studio.size.value = "16:9"
    assert studio.task_count == 4
    assert len(made.now()) == count


def test_not_connected_the_gateway_box_is_there_and_still_light() -> None:
    made = NewModels()
    studio = Studio(None, load_models=False)
    assert studio._gateway is not None  # URL, key and Connect shown at once
    assert len(made.now()) <= OLD_STUDIO_MODELS // 3
    assert "not connected" in studio.status.value


def test_rarely_used_parts_are_built_when_opened(client: Client) -> None:
    studio = Studio(client)
    assert studio._more is None and studio._gateway is None and studio._run_buttons is None
    assert studio._confirm is None and studio._history is None
    made = NewModels()
    studio.more_button.click()
    assert studio._more is not None and studio._more["panel"] in studio.children
    assert len(made.now()) > 5  # the panel's widgets exist from now on
    assert studio.more_button.description == "fewer settings"
    studio.more_button.click()
    assert studio._more["panel"].layout.display == "none"
    assert studio.more_button.description == "more settings"
    # "change gateway" opens the URL and key box in place of the button.
    assert studio.change_gateway_button is not None
    studio.change_gateway_button.click()
    assert studio.change_gateway_button is None
    assert studio._gateway is not None and studio.url in studio.children[0].children
    assert studio.url.value == client.base_url


def test_unopened_settings_send_their_defaults(client: Client) -> None:
    studio = Studio(client)
    studio.models.value = ("kling-v1",)
    studio.prompt.value = "a lighthouse"
    (request,) = studio.check.requests
    assert studio._more is None  # nothing was built to read the defaults
    assert request.fps is None and request.n is None and request.image is None
    assert request.metadata is None or "negative_prompt" not in request.metadata


def _measure_module() -> Any:
    spec = importlib.util.spec_from_file_location(
        "measure_quickstart", ROOT / "scripts" / "measure_quickstart.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_the_executed_quickstart_stays_small(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _kernel_env(monkeypatch)
    measure = _measure_module()
    executed = measure.execute(measure.QUICKSTART, tmp_path)
    figures = measure.figures(measure.QUICKSTART, executed)
    assert figures["grown_bytes"] < QUICKSTART_GROWTH_LIMIT, figures
    assert figures["widget_models"] <= OLD_QUICKSTART_MODELS // 2, figures
    # The saved state is what a reopened notebook draws from: the Studio is in it.
    assert figures["models_by_kind"].get("CheckboxModel", 0) >= 10, figures


def test_every_dom_class_is_one_word(client: Client) -> None:
    """A class with a space throws in the browser (``classList.add``) and the widget loses
    all its classes: the CSS and the browser tests' hooks would miss it."""
    made = NewModels()
    studio = Studio(client)
    studio.more_button.click()
    classes = [c for w in made.now() for c in getattr(w, "_dom_classes", ())]
    assert "vg-studio-count" in classes and "vg-studio-upload" in classes
    assert not [c for c in classes if not c or c.split() != [c]]


def test_a_saved_studio_says_what_it_is_without_a_kernel(client: Client) -> None:
    """nbviewer, GitHub and static exports show the bundle's HTML: one small line."""
    studio = Studio(client)
    data = studio._repr_mimebundle_()
    data = data[0] if isinstance(data, tuple) else data
    assert "application/vnd.jupyter.widget-view+json" in data
    html_text = data["text/html"]
    assert "Studio" in html_text and client.base_url in html_text and len(html_text) < 1000
