"""The Studio sends what its form shows, and stays in control of what it launched.

Every field: the form's value becomes the request sent, a bad value shows its error next to
that field (and clears once fixed) and disables Generate. One run at a time, Stop, retry of
a failed cell and the earlier runs kept reachable, against a real sandbox.
"""

from __future__ import annotations

import html
import io
import pathlib
from collections.abc import Iterator
from typing import Any

import pytest
import traitlets
from PIL import Image

from tests.support import wait_for_sync as wait_for
from tests.test_studio import FAST_POLL, choose_file
from videogen_nb import sandbox
from videogen_nb.client.sync_client import Client
from videogen_nb.core.request import VideoRequest
from videogen_nb.display.grid_assets import grid_js
from videogen_nb.run.rows import RowState
from videogen_nb.store.prices import prices
from videogen_nb.widgets.studio import Studio


@pytest.fixture(scope="module")
def sb() -> Iterator[sandbox.SandboxHandle]:
    handle = sandbox.start(task_seconds=0.3, models=["acme-video-1"])
    yield handle
    handle.stop()


@pytest.fixture
def client(sb: sandbox.SandboxHandle, tmp_path: pathlib.Path) -> Iterator[Client]:
    c = Client(
        sb.base_url,
        sb.api_key,
        journal=tmp_path / "journal.db",
        output_dir=tmp_path / "videos",
        poll=FAST_POLL,
    )
    yield c
    c.close()


def png(color: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 36), color).save(out, "PNG")
    return out.getvalue()


def form(client: Client, model: str = "acme-video-1") -> Studio:
    studio = Studio(client)
    studio.models.value = (model,)
    studio.prompt.value = "a paper boat"
    return studio


# (field, form value, what the single request sent carries); acme-video-1 is not in the
# catalog, so only VideoRequest's own rules apply.
GOOD = [
    ("prompt", "a red kite", {"prompt": "a red kite"}),
    ("negative", "blur", {"metadata": {"negative_prompt": "blur"}}),
    ("seeds", "7", {"seed": 7}),
    ("size", "1280x720", {"size": "1280x720"}),
    ("size", "9:16", {"aspect_ratio": "9:16"}),
    ("duration", "99", {"duration": 99}),
    ("quality", "high", {"quality": "high"}),
    ("fps", 24, {"fps": 24}),
    ("n", 2, {"n": 2}),
    ("metadata", '{"cfg_scale": 0.5}', {"metadata": {"cfg_scale": 0.5}}),
]


@pytest.mark.parametrize(("field", "value", "sent"), GOOD)
def test_every_field_reaches_the_request(
    client: Client, field: str, value: Any, sent: dict[str, Any]
) -> None:
    studio = form(client)
    getattr(studio, field).value = value
    assert studio.error(field) == "" and not studio.generate_button.disabled
    (request,) = studio.check.requests
    for name, expected in sent.items():
        got = getattr(request, name)
        assert (dict(got) if name == "metadata" else got) == expected, name


def test_models_and_images_reach_the_requests(client: Client, sb: sandbox.SandboxHandle) -> None:
    studio = form(client)
    studio.models.value = ("acme-video-1", "kling-v1")
    choose_file(studio.image.button, png((200, 0, 0)), "first.png")
    choose_file(studio.last_frame.button, png((0, 0, 200)), "last.png")
    requests = studio.check.requests
    assert [r.model for r in requests] == ["acme-video-1", "kling-v1"]
    assert all(r.image == studio.image.data_uri for r in requests)
    assert all(r.last_image == studio.last_frame.data_uri for r in requests)
    # What Generate sends is exactly what the check built.
    before = sb.tasks_created
    run = studio.generate()
    assert run is not None, studio.error("general")
    assert run.requests == list(requests)
    run.wait(30)
    assert sb.tasks_created - before == 2


# (field, bad value, words of the error, a fix)
BAD = [
    ("size", "banana", "not a size", "16:9"),
    ("size", "0x720", "pixels", "1280x720"),
    ("duration", "2.5", "whole number of seconds", "3"),
    ("duration", "ten", "not a number of seconds", "10"),
    ("duration", "99999", "from 1 to 3600", "8"),
    ("seeds", "1, two", "'two' is not a whole number", "1, 2"),
    ("seeds", "-3", "from 0 to", "3"),
    ("metadata", '{"a": ', "not valid JSON", '{"a": 1}'),
    ("metadata", "[1]", "must be a JSON object", "{}"),
    ("prompt", "   ", "write a prompt", "a dog"),
]


@pytest.mark.parametrize(("field", "bad", "words", "fix"), BAD)
def test_a_bad_value_is_shown_next_to_its_field_and_blocks_generate(
    client: Client, sb: sandbox.SandboxHandle, field: str, bad: str, words: str, fix: str
) -> None:
    studio = form(client)
    assert not studio.generate_button.disabled
    getattr(studio, field).value = bad
    assert words in studio.error(field), studio.error(field)
    assert html.escape(words) in studio.errors[field].value
    assert studio.generate_button.disabled and studio.task_count == 0
    assert "0 tasks" in studio.count.value
    before = sb.tasks_created
    assert studio.generate() is None  # a click already on its way launches nothing
    assert studio.run is None and sb.tasks_created == before
    getattr(studio, field).value = fix
    assert studio.error(field) == "" and "b00020" not in studio.errors[field].value
    assert not studio.generate_button.disabled


def test_catalog_limits_and_frame_rate_are_checked(client: Client) -> None:
    studio = form(client, "sora-2")
    studio.duration.value = "99"  # the browser shows it: the kernel must see and refuse it
    assert "pick one of 4, 8, 12" in studio.error("duration")
    assert studio.generate_button.disabled
    studio.duration.value = "8"
    assert studio.error("duration") == "" and not studio.generate_button.disabled
    studio.size.value = "banana"
    assert "does not suit the chosen models" in studio.error("size")
    studio.size.value = ""
    studio.fps.value = 0  # 0: the model's default, nothing sent
    assert studio.check.requests[0].fps is None
    studio.models.value = ()
    assert "choose at least one model" in studio.error("models")
    assert studio.generate_button.disabled and "choose a model" in studio.count.value


def test_the_prompt_error_clears_once_a_prompt_is_written(client: Client) -> None:
    studio = form(client)
    studio.prompt.value = ""
    assert studio.generate() is None
    assert "write a prompt" in studio.error("prompt")
    studio.prompt.value = "a dog"
    assert studio.error("prompt") == "" and studio.errors["prompt"].value == ""
    assert not studio.generate_button.disabled


def test_one_run_at_a_time_stop_and_past_runs(
    sb: sandbox.SandboxHandle, tmp_path: pathlib.Path
) -> None:
    sb.configure(task_seconds=1.0)
    client = Client(
        sb.base_url,
        sb.api_key,
        journal=tmp_path / "j.db",
        output_dir=tmp_path / "v",
        poll=FAST_POLL,
        concurrency=1,
    )
    try:
        studio = form(client)
        studio.prompt.value = "a\nb\nc\nd"
        before = sb.stats(include_tasks=False)["requests"]
        created = sb.tasks_created
        for _ in range(3):
            studio.generate_button.click()
        assert studio.launched == 1 and len(studio.runs) == 1
        assert studio.generate_button.disabled and not studio.stop_button.disabled
        assert "still working" in studio.error("general")
        run = studio.run
        assert run is not None
        wait_for(lambda: run.rows[0].task is not None, what="first task submitted")
        stopped = studio.stop()
        assert stopped == 3
        run.wait(30)
        states = [row.state.value for row in run.rows]
        assert states == ["done", "cancelled", "cancelled", "cancelled"]
        assert run.results[0].ok  # the accepted task was followed and downloaded
        assert sb.tasks_created - created == 1
        after = sb.stats(include_tasks=False)["requests"]
        posts = sum(v - before.get(k, 0) for k, v in after.items() if k.startswith("POST"))
        assert posts == 1
        wait_for(lambda: not studio.generate_button.disabled, what="Generate enabled again")
        assert studio.stop_button.disabled
        # A second run; the first stays reachable under "Runs".
        studio.prompt.value = "e"
        second = studio.generate()
        assert second is not None and len(studio.runs) == 2
        assert studio.history.layout.display is None
        studio.history.value = 0
        assert studio.run is run and studio.output.children == (studio.runs[0][1].widget,)
        studio.history.value = 1
        assert studio.run is second
        second.wait(30)
    finally:
        sb.configure(task_seconds=0.3)
        client.close()


def test_parallel_runs_when_asked(client: Client, sb: sandbox.SandboxHandle) -> None:
    sb.configure(task_seconds=1.0)
    try:
        studio = form(client)
        studio.allow_parallel.value = True
        first = studio.generate()
        assert first is not None and not studio.generate_button.disabled
        second = studio.generate()
        assert second is not None and second is not first
        first.wait(30)
        second.wait(30)
    finally:
        sb.configure(task_seconds=0.3)


def test_retry_a_failed_cell(client: Client, sb: sandbox.SandboxHandle) -> None:
    sb.configure(failure_rate=1.0)
    try:
        studio = form(client)
        studio.prompt.value = "a\nb"
        run = studio.generate()
        assert run is not None
        run.wait(30)
        assert [r.ok for r in run.results] == [False, False]
        wait_for(lambda: not studio.retry_button.disabled, what="retry enabled")
        assert "(2)" in studio.retry_button.description
    finally:
        sb.configure(failure_rate=0.0)
    created = sb.tasks_created
    assert studio.retry(1)
    run.wait(30)
    assert sb.tasks_created - created == 1  # that one request, once
    assert [r.ok for r in run.results] == [False, True]
    assert not studio.retry(1)  # a done cell is not re-run
    assert isinstance(run.results[1].request, VideoRequest)
    wait_for(lambda: "(1)" in studio.retry_button.description, what="one left to retry")


def test_a_failed_grid_cell_has_retry(client: Client, sb: sandbox.SandboxHandle) -> None:
    studio = form(client)
    studio.prompt.value = "a\nb"
    run = studio.generate()
    assert run is not None
    run.wait(30)
    view = studio.run_view
    assert view is not None
    wait_for(lambda: view.grid is not None, what="grid")
    grid = view.grid
    assert grid is not None and grid.retry_enabled
    # A done cell has nothing to retry; the front end's message reaches the run.
    grid._handle_custom_msg({"type": "retry", "cell": 0}, [])
    assert "nothing to retry" in grid.message
    js = grid_js()
    assert 'model.send({ type: "retry", cell: cell.i })' in js
    # Make row 1 a failure by hand (as a failed task leaves it), then retry that cell.
    # (Its identical request is done in the journal, so the retry is served from there;
    # test_retry_a_failed_cell shows a real failure re-submitted.)
    run.rows[1].state = RowState.FAILED
    assert grid.retry(1)
    run.wait(30)
    assert run.results[1].ok and run.rows[1].state is RowState.DONE


def test_the_checkbox_picker_changes_the_requests(client: Client) -> None:
    """A click adds or removes one model (no Ctrl-click); every chosen model is named."""
    studio = Studio(client)
    studio.prompt.value = "a paper boat"
    names = [name for _label, name in studio.models.options]
    assert "acme-video-1" in names and "kling-v1" in names
    # What a click in the browser does: the checkbox's value changes.
    studio.models.checkbox("kling-v1").value = True
    assert studio.models.value == ("kling-v1",)
    assert [r.model for r in studio.check.requests] == ["kling-v1"]
    studio.models.checkbox("acme-video-1").value = True
    assert [r.model for r in studio.check.requests] == ["acme-video-1", "kling-v1"]
    assert "2 chosen: acme-video-1, kling-v1" in studio.models_info.value
    studio.models.checkbox("kling-v1").value = False  # one click removes one model
    assert [r.model for r in studio.check.requests] == ["acme-video-1"]
    assert "1 chosen: acme-video-1" in studio.models_info.value
    # Set from code, the boxes follow.
    studio.models.value = ("sora-2",)
    assert studio.models.checkbox("sora-2").value
    assert not studio.models.checkbox("acme-video-1").value
    studio.models.checkbox("sora-2").value = False
    assert studio.check.requests == () and "choose a model" in studio.count.value
    assert studio.generate_button.disabled
    with pytest.raises(traitlets.TraitError, match="not a model in the list"):
        studio.models.value = ("no-such-model",)


def test_the_price_line_on_a_known_price_table(client: Client) -> None:
    """Task count and the estimate before Generate, marked as an estimate; a model with no
    price is named and never counted as $0."""
    prices.set("acme-video-1", per_second=0.1, source="test table")
    prices.remove("kling-v1")
    try:
        studio = form(client)
        studio.prompt.value = "a boat\na kite"
        studio.duration.value = "5"
        assert "2 tasks will be launched" in studio.count.value
        # 2 tasks x 5 s x $0.10/s = $1.00, an estimate
        assert "estimated cost: ~$1.00 (price table" in studio.count.value
        studio.models.value = ("acme-video-1", "kling-v1")
        assert "4 tasks will be launched" in studio.count.value
        assert "estimated cost: ~$1.00" in studio.count.value
        assert "price unknown for 2 tasks (kling-v1), not counted" in studio.count.value
        studio.models.value = ("kling-v1",)
        assert "price unknown (no price for this model in vg.prices)" in studio.count.value
        assert "$0" not in studio.count.value
        # Lengths left open: the range from the model's shortest to its longest.
        prices.set("kling-v1", per_second=0.2, source="test table")
        studio.duration.value = ""
        assert "~$4.00, $2.00 to $4.00 by length" in studio.count.value  # 2 x (5..10 s)
        # The client's money limit shows against the estimate.
        client.max_cost = 1.0
        studio.prompt.value = "a boat"  # a change redraws the line
        assert "over the spending limit of $1.00" in studio.count.value
        assert "b00020" in studio.count.value
        client.max_cost = None
        # The confirmation asks with the estimate in it.
        studio.confirm_above.value = 0
        assert studio.generate() is None and studio.confirm_pending
        assert "estimated ~$2.00" in studio.confirm_message.value
    finally:
        prices.reset()
        client.max_cost = None
