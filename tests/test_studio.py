"""The Studio driven as a user drives it (set values, click buttons) against a real sandbox."""

from __future__ import annotations

import asyncio
import io
import json
import pathlib
import threading
from collections.abc import Iterator
from typing import Any

import comm
import ipywidgets
import pytest
from comm.base_comm import BaseComm
from ipywidgets.widgets import widget as widget_mod
from PIL import Image

from tests.support import wait_for_sync as wait_for
from videogen_nb import sandbox
from videogen_nb.client.async_client import AsyncClient
from videogen_nb.client.sync_client import Client
from videogen_nb.core.errors import ValidationError
from videogen_nb.tasks.polling import PollPolicy
from videogen_nb.widgets.studio import Studio
from videogen_nb.widgets.studio_form import (
    FormValues,
    build_requests,
    count_text,
    duration_choices,
    form_field,
    merge_models,
    parse_duration,
    parse_metadata,
    parse_seeds,
    shared_fields,
    size_choices,
    task_count,
)

SENTINEL_KEY = "sk-SENTINEL-7f3a9c-never-in-state"
HOSTILE = "<img src=x onerror=alert(1)>"
FAST_POLL = PollPolicy(min_delay=0.05, max_delay=0.2, fine_interval=0.05, floor=0.02)


class RecordingComm(BaseComm):
    """Keeps every message the kernel would send to the front end."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.published: list[Any] = []
        super().__init__(*args, **kwargs)

    def publish_msg(
        self,
        msg_type: str,
        data: Any = None,
        metadata: Any = None,
        buffers: Any = None,
        **keys: Any,
    ) -> None:
        self.published.append((msg_type, data))


@pytest.fixture
def comms(monkeypatch: pytest.MonkeyPatch) -> list[RecordingComm]:
    made: list[RecordingComm] = []

    def create_comm(*args: Any, **kwargs: Any) -> RecordingComm:
        c = RecordingComm(*args, **kwargs)
        made.append(c)
        return c

    monkeypatch.setattr(comm, "create_comm", create_comm)
    return made


@pytest.fixture(scope="module")
def sb() -> Iterator[sandbox.SandboxHandle]:
    handle = sandbox.start(task_seconds=0.3, api_key=SENTINEL_KEY, models=["acme-video-1"])
    yield handle
    handle.stop()


@pytest.fixture
def options(tmp_path: pathlib.Path) -> dict[str, Any]:
    return {
        "journal": tmp_path / "journal.db",
        "output_dir": tmp_path / "videos",
        "poll": FAST_POLL,
    }


@pytest.fixture
def client(sb: sandbox.SandboxHandle, options: dict[str, Any]) -> Iterator[Client]:
    c = Client(sb.base_url, sb.api_key, **options)
    yield c
    c.close()


def fill(studio: Studio, *, prompt: str, models: tuple[str, ...], seeds: str = "") -> None:
    studio.models.value = models
    studio.prompt.value = prompt
    studio.seeds.value = seeds


def png_bytes(color: tuple[int, int, int] = (200, 30, 30), size: int = 300) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (size, size // 2), color).save(out, "PNG")
    return out.getvalue()


def choose_file(upload: ipywidgets.FileUpload, data: bytes, name: str) -> None:
    # The state the browser syncs for one chosen file, through the widget's deserializer.
    upload.set_state(
        {
            "value": [
                {
                    "name": name,
                    "type": "image/png",
                    "size": len(data),
                    "content": memoryview(data),
                    "last_modified": 1_700_000_000_000,
                }
            ]
        }
    )


def test_sweep_generates_runs_live_and_fills_the_grid(
    client: Client, sb: sandbox.SandboxHandle
) -> None:
    studio = Studio(client)
    labels = dict(studio.models.options)
    # The gateway's models merged with the catalog; a gateway-only model is marked.
    assert labels["acme-video-1 (not in catalog)"] == "acme-video-1"
    assert "sora-2" in labels.values() and "kling-v1" in labels.values()
    fill(
        studio,
        prompt="a paper boat\n\na red kite\n",
        models=("kling-v1", "veo_3_1-fast"),
        seeds="1, 2",
    )
    assert "8 tasks will be launched" in studio.count.value
    assert studio.task_count == 8
    before = sb.tasks_created
    studio.generate_button.click()
    run = studio.run
    assert run is not None, studio.errors["general"].value
    assert not studio.confirm_pending  # 8 is not above the default 8
    run.wait(60)
    assert sb.tasks_created - before == 8
    assert [r.request.model for r in run.results[:2]] == ["kling-v1", "veo_3_1-fast"]
    assert {r.request.prompt for r in run.results} == {"a paper boat", "a red kite"}
    assert {r.request.seed for r in run.results} == {1, 2}
    assert run.grid_rows == ("prompt", "seed")
    view = studio.run_view
    assert view is not None and view.table is not None
    assert studio.output.children == (view.widget,)
    wait_for(lambda: "8 done" in view.table.html, what="table shows 8 done")
    assert view.table.html.count('<tr class="s-done">') == 8
    wait_for(
        lambda: studio.grid is not None and all(r.ok for r in studio.grid.results),
        what="grid with 8 videos",
    )
    assert len(studio.grid.grid_layout.rows) == 4 and len(studio.grid.grid_layout.cols) == 2


def test_empty_prompt_and_bad_metadata_launch_nothing(
    client: Client, sb: sandbox.SandboxHandle
) -> None:
    studio = Studio(client)
    fill(studio, prompt="  \n  ", models=("kling-v1",))
    assert "0 tasks: write a prompt" in studio.count.value
    before = sb.tasks_created
    studio.generate_button.click()
    assert studio.run is None
    assert "write a prompt" in studio.error("prompt")
    assert studio.task_count == 0

    studio.prompt.value = "a dog"
    studio.metadata.value = '{"cfg_scale": 0.5,'  # typed, not yet valid
    assert "not valid JSON" in studio.error("metadata")  # shown as you type
    studio.generate_button.click()
    assert studio.run is None
    assert "not valid JSON" in studio.error("metadata")
    assert studio.error("prompt") == ""

    studio.metadata.value = "[1, 2]"
    assert "must be a JSON object" in studio.error("metadata")
    studio.generate_button.click()
    assert studio.run is None

    studio.seeds.value = "1, two"
    studio.metadata.value = ""
    studio.generate_button.click()
    assert studio.run is None
    assert "'two' is not a whole number" in studio.error("seeds")

    studio.seeds.value = ""
    studio.models.value = ()
    studio.generate_button.click()
    assert studio.run is None and "choose at least one model" in studio.error("models")
    assert sb.tasks_created == before


def test_limits_follow_the_chosen_models(client: Client, sb: sandbox.SandboxHandle) -> None:
    studio = Studio(client)
    fill(studio, prompt="a boat", models=("sora-2",))
    assert studio.duration.options == ("4", "8", "12") and studio.choices["duration"].restricted
    assert "1280x720" in studio.size.options and studio.choices["size"].restricted
    assert "1920x1080" not in studio.size.options
    studio.duration.value = "5"  # the front end would refuse it; the kernel checks too
    before = sb.tasks_created
    studio.generate_button.click()
    assert studio.run is None and "pick one of 4, 8, 12" in studio.error("duration")
    # An unknown model: free choice.
    studio.models.value = ("sora-2", "acme-video-1")
    assert not studio.choices["duration"].restricted and not studio.choices["size"].restricted
    assert "acme-video-1" in studio.limits.value
    studio.models.value = ("kling-v1", "veo_3_1-fast")
    assert studio.size.options[:2] == ("16:9", "9:16") and studio.choices["size"].restricted
    # kling-v1 takes 5 or 10 s, veo 4, 6 or 8: nothing fits both, so say so.
    assert studio.duration.options == ("4", "5", "6", "8", "10")
    assert "no length suits every chosen model" in studio.limits.value
    assert sb.tasks_created == before


def test_negative_prompt_image_and_options_reach_the_requests(
    client: Client, sb: sandbox.SandboxHandle
) -> None:
    studio = Studio(client)
    fill(studio, prompt="a lighthouse at dusk", models=("kling-v3-std-silent",))
    studio.negative.value = "blur, text"
    studio.metadata.value = '{"cfg_scale": 0.5}'
    assert studio.error("metadata") == "" and "valid JSON" in studio.errors["metadata"].value
    studio.size.value = "9:16"
    studio.duration.value = "5"
    studio.fps.value = 24
    first, last = png_bytes(), png_bytes((20, 20, 200))
    choose_file(studio.image.button, first, "first.png")
    choose_file(studio.last_frame.button, last, "last.png")
    # The bytes left the widget state; a small thumbnail and the name show instead.
    assert studio.image.button.value == ()
    assert studio.image.label.value == "Start image: first.png"
    with Image.open(io.BytesIO(studio.image.thumb.value)) as thumb:
        assert max(thumb.size) <= 96
    before = sb.tasks_created
    studio.generate_button.click()
    run = studio.run
    assert run is not None, studio.errors["general"].value
    req = run.requests[0]
    assert dict(req.metadata) == {"cfg_scale": 0.5, "negative_prompt": "blur, text"}
    assert req.aspect_ratio == "9:16" and req.duration == 5 and req.fps == 24
    assert req.image is not None and req.image.startswith("data:image/png;base64,")
    assert req.last_image is not None and req.last_image != req.image
    run.wait(30)
    assert sb.tasks_created - before == 1
    assert run.results[0].ok, run.results[0]

    # Something that is not an image is refused next to its field.
    choose_file(studio.image.button, b"not an image at all", "notes.txt")
    assert studio.error("image") != ""
    studio.image.clear()
    assert studio.image.data_uri is None and studio.error("image") == ""


def test_cost_guard_asks_before_a_big_sweep(client: Client, sb: sandbox.SandboxHandle) -> None:
    studio = Studio(client, confirm_above=2)
    fill(studio, prompt="a\nb\nc", models=("kling-v1",))
    assert "3 tasks will be launched" in studio.count.value and "confirm" in studio.count.value
    before = sb.tasks_created
    studio.generate_button.click()
    assert studio.run is None and studio.confirm_pending
    assert "3 tasks" in studio.confirm_message.value
    assert sb.tasks_created == before
    # Changing the form withdraws the question.
    studio.prompt.value = "a\nb\nc\nd"
    assert not studio.confirm_pending
    studio.generate_button.click()
    assert studio.confirm_pending and "4 tasks" in studio.confirm_message.value
    studio.cancel_button.click()
    assert not studio.confirm_pending and studio.run is None
    studio.generate_button.click()
    studio.confirm_button.click()
    run = studio.run
    assert run is not None and not studio.confirm_pending
    run.wait(30)
    assert sb.tasks_created - before == 4
    # Raising the threshold makes the same sweep launch at once.
    studio.confirm_above.value = 10
    studio.generate_button.click()
    assert studio.run is not run and not studio.confirm_pending
    studio.run.wait(30)
    assert studio.launched == 2


def test_typed_key_is_never_in_widget_state(
    comms: list[RecordingComm],
    sb: sandbox.SandboxHandle,
    options: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("VIDEOGEN_API_KEY", raising=False)
    monkeypatch.delenv("VIDEOGEN_BASE_URL", raising=False)
    studio = Studio(None, client_options=options)
    assert studio.client is None and "not connected" in studio.status.value
    fill(studio, prompt=HOSTILE, models=("kling-v1",))
    studio.generate_button.click()
    assert studio.run is None and "connect to a gateway first" in studio.error("url")
    studio.url.value = sb.base_url
    studio.key.set_state({"value": SENTINEL_KEY})  # the browser syncs the typed key
    assert studio.key.value == SENTINEL_KEY
    before = sb.tasks_created
    studio.generate_button.click()  # connects with the typed key, then launches
    run = studio.run
    assert run is not None, (studio.error("url"), studio.error("general"))
    assert studio.key.value == ""
    run.wait(30)
    assert run.results[0].ok  # the key worked: the sandbox accepts only it
    assert sb.tasks_created - before == 1
    view = studio.run_view
    assert view is not None and view.table is not None
    wait_for(lambda: "1 done" in view.table.html, what="final table")
    # The hostile prompt is escaped in the table.
    assert (
        HOSTILE not in view.table.html and "&lt;img src=x onerror=alert(1)&gt;" in view.table.html
    )
    wait_for(lambda: studio.grid is not None, what="grid")

    def dump(value: Any) -> str:
        return json.dumps(
            value,
            default=lambda v: (
                bytes(v).decode("latin-1") if isinstance(v, (bytes, memoryview)) else str(v)
            ),
        )

    states = [dump(w.get_state()) for w in list(widget_mod._instances.values())]
    assert len(states) > 30
    assert not any(SENTINEL_KEY in s for s in states)
    assert SENTINEL_KEY not in dump(studio.get_state())
    # Nor in anything sent to the front end, nor in a repr.
    sent = [dump(m) for c in comms for m in c.published]
    assert sent and not any(SENTINEL_KEY in s for s in sent)
    assert SENTINEL_KEY not in repr(studio) + repr(studio.client) + repr(run)
    # A bad URL is reported next to the gateway box.
    studio.url.value = ""
    assert not studio.connect()
    assert "no gateway given" in studio.error("url")


async def test_async_client_schedules_on_the_running_loop(
    sb: sandbox.SandboxHandle, options: dict[str, Any]
) -> None:
    async with AsyncClient(sb.base_url, sb.api_key, **options) as client:
        studio = Studio(client)
        task = studio._models_task
        assert task is not None
        await task
        assert "acme-video-1" in dict(studio.models.options).values()
        fill(studio, prompt="a paper boat\na kite", models=("kling-v1",))
        before = sb.tasks_created
        studio.generate_button.click()  # the click arrives on the loop's thread
        run = studio.run
        assert run is not None, studio.error("general")
        await run
        assert sb.tasks_created - before == 2
        assert all(r.ok for r in run.results)
        view = studio.run_view
        assert view is not None and view.table is not None
        for _ in range(200):
            if "2 done" in view.table.html:
                break
            await __import__("asyncio").sleep(0.02)
        assert "2 done" in view.table.html


def test_form_helpers() -> None:
    assert parse_seeds(" ") is None
    assert parse_seeds("3 3, 4") == [3, 4]
    with pytest.raises(ValidationError) as err:
        parse_metadata('{"a": }')
    assert err.value.field == "metadata" and "line 1" in err.value.message
    assert form_field("metadata['a'][0]") == "metadata"
    assert form_field("seconds") == "duration"
    assert duration_choices(["sora-2", "kling-v1"]).note.startswith("no length suits")
    assert duration_choices(["kling-v1", "gen-3-alpha"]).options == ("5", "10")
    assert size_choices(["sora-2", "kling-v1"]).options  # 1280x720 is 16:9 for kling too
    assert "1280x720" in size_choices(["sora-2", "kling-v1"]).options
    assert ("sora-2", "sora-2") in merge_models(None)
    values = FormValues(prompts=("a", "b"), models=("m1", "m2", "m3"), seeds=(1, 2))
    assert task_count(values) == 12
    requests = build_requests(values)
    assert [(r.prompt, r.seed, r.model) for r in requests[:4]] == [
        ("a", 1, "m1"),
        ("a", 1, "m2"),
        ("a", 1, "m3"),
        ("a", 2, "m1"),
    ]
    with pytest.raises(ValidationError):
        build_requests(FormValues(prompts=("a",), models=("m",), fps=-3))
    assert isinstance(Studio(None, load_models=False), ipywidgets.VBox)


def test_shared_fields_and_the_count_line() -> None:
    values = FormValues(
        prompts=("a",),
        models=("m",),
        size="1280x720",
        duration="8",
        quality=" high ",
        fps=24,
        n=2,
        negative_prompt=" blur ",
        metadata={"cfg": 1},
        image="https://example.com/i.png",
    )
    assert shared_fields(values) == {
        "size": "1280x720",
        "duration": 8,
        "quality": "high",
        "fps": 24,
        "n": 2,
        "metadata": {"cfg": 1, "negative_prompt": "blur"},
        "image": "https://example.com/i.png",
    }
    # blank fields (and n=1, fps=0) are left for the gateway's defaults
    assert shared_fields(FormValues(prompts=("a",), models=("m",))) == {}
    assert shared_fields(FormValues(prompts=("a",), models=("m",), size="9:16")) == {
        "aspect_ratio": "9:16"
    }
    assert parse_duration("2.5") == 2.5 and isinstance(parse_duration("10.0"), int)
    with pytest.raises(ValidationError) as err:
        parse_duration("ten")
    assert err.value.field == "duration"
    assert count_text("a", "", ["m"], 8) == ("1 task will be launched", True)
    assert count_text("a\nb", "1 2 3", ["m1", "m2"], 8) == (
        "12 tasks will be launched (asks to confirm: more than 8)",
        True,
    )
    assert count_text(" ", "", ["m"], 8) == ("0 tasks: write a prompt", False)


@pytest.fixture
def loop_thread() -> Iterator[asyncio.AbstractEventLoop]:
    """An event loop running on its own thread (as a kernel's loop is, seen from a worker)."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield loop
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.close()


def test_async_client_on_another_thread_gets_the_work_handed_over(
    sb: sandbox.SandboxHandle, options: dict[str, Any], loop_thread: asyncio.AbstractEventLoop
) -> None:
    async def build() -> AsyncClient:
        return AsyncClient(sb.base_url, sb.api_key, **options)

    client = asyncio.run_coroutine_threadsafe(build(), loop_thread).result(10)
    assert client.loop is loop_thread
    try:
        studio = Studio(client)  # built off the client's loop: models are fetched there
        assert studio._models_task is None
        assert "acme-video-1" in dict(studio.models.options).values()
        fill(studio, prompt="a kite", models=("kling-v1",))
        before = sb.tasks_created
        run = studio.generate()
        assert run is not None, studio.error("general")

        async def finish() -> None:
            await run

        asyncio.run_coroutine_threadsafe(finish(), loop_thread).result(30)
        assert sb.tasks_created - before == 1 and run.results[0].ok
    finally:
        asyncio.run_coroutine_threadsafe(client.aclose(), loop_thread).result(10)


def test_async_client_without_a_running_loop_says_so(
    sb: sandbox.SandboxHandle, options: dict[str, Any]
) -> None:
    client = AsyncClient(sb.base_url, sb.api_key, **options)
    try:
        studio = Studio(client)
        assert "no running loop" in studio.error("models")
        fill(studio, prompt="a kite", models=("kling-v1",))
        before = sb.tasks_created
        assert studio.generate() is None
        assert "needs its event loop running" in studio.error("general")
        assert sb.tasks_created == before
        # Connecting again from the gateway box keeps the kind of client the Studio was given.
        assert studio.connect() and type(studio.client) is AsyncClient
        assert studio.client is not client
    finally:
        asyncio.run(client.aclose())
        if studio.client is not None and studio.client is not client:
            asyncio.run(studio.client.aclose())
