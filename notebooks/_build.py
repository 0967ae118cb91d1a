"""Write the example notebooks from the text below: ``python notebooks/_build.py``.

The notebooks are generated so that they stay easy to edit and review (this file is the
source; the ``.ipynb`` files are its output, saved without outputs). Cell ids are derived
from the notebook name and position, so a rebuild without edits changes nothing.

Every notebook opens with the same set-up cell: a real gateway when ``VIDEOGEN_BASE_URL`` is
set, the offline sandbox otherwise. ``tests/test_notebooks.py`` executes them all.
"""

from __future__ import annotations

import pathlib
import sys

import nbformat

__all__ = ["NOTEBOOKS", "SETUP", "build", "main"]

HERE = pathlib.Path(__file__).resolve().parent

# The sandbox finishes a task in a couple of seconds so the notebooks run in seconds; a real
# gateway takes minutes, and the notebooks read the same either way.
SETUP = """\
import os, videogen_nb as vg
if os.environ.get("VIDEOGEN_BASE_URL"):
    client = vg.Client()          # a real gateway: VIDEOGEN_BASE_URL / VIDEOGEN_API_KEY
else:
    sandbox = vg.sandbox.start(task_seconds=2)  # offline: a local gateway that renders real MP4s
    client = vg.Client(sandbox.base_url, sandbox.api_key)
client"""

SETUP_NOTE = """\
**Set-up.** With `VIDEOGEN_BASE_URL` and `VIDEOGEN_API_KEY` set, this talks to your gateway
(and every task is billed by it). Without them it starts the **sandbox**: a local server on
127.0.0.1 that speaks the same API and renders real H.264 videos showing the prompt, the model
and the seed, so everything below runs offline, for free, in seconds."""

QUICKSTART = [
    ("md", """\
# videogen-nb: quickstart

Generate videos from text through the unified video API that multi-vendor gateways serve
(Kling, Veo, Sora, Runway... behind one endpoint), and compare models side by side.

A generation is **asynchronous**: the gateway answers the request with a *task id* at once,
works for seconds to minutes, and then serves the video. `videogen-nb` submits, polls and
downloads for you, and keeps the kernel free while it does."""),
    ("md", SETUP_NOTE),
    ("code", SETUP),
    ("md", """\
## One video

A `VideoRequest` holds everything the gateway is asked for; a bad value raises
`vg.ValidationError` naming the field before anything is sent. `client.generate` submits the
request, waits for the task and downloads the video; it returns a `Result` with the task and
the local `path`."""),
    ("code", """\
request = vg.VideoRequest(
    model="kling-v2-5-turbo",
    prompt="a paper boat drifting down a rainy street, golden hour",
    duration=5,
    aspect_ratio="16:9",
)
result = client.generate(request)
result"""),
    ("code", "vg.show(result)"),
    ("md", """\
## The journal, and the cache

Every request is written to a journal (`./videogen-runs/journal.sqlite`) *before* it is sent,
and the task id the gateway returns is recorded before `generate` goes on. A paid task is
never lost: after a crash or a kernel restart, `client.resume()` finishes it
(see `05_resume_after_restart.ipynb`).

The journal is also a cache: asking for the very same thing again is served from it at once,
without a new (paid) task. Pass `force=True` to generate it again anyway."""),
    ("code", """\
again = client.generate(request)
print("served from the journal:", again.cached, "| same file:", again.path == result.path)"""),
    ("md", """\
## The Studio

The same without code: pick models, write one prompt per line (several lines make a sweep),
set the size and length, and press **Generate**. Progress shows live below the form and the
videos fill a comparison grid as they arrive. A field with a problem says so next to it, and
nothing is launched."""),
    ("code", "studio = vg.Studio(client)\nstudio"),
    ("md", """\
## A comparison grid from code

`client.compare` starts every prompt x model combination at once and returns a `Run`
straight away. Shown as the last line of a cell, a run draws a live table of its tasks, then
a grid of the videos that play **in step** from one control bar (space plays, arrows step a
frame, a click enlarges a video)."""),
    ("code", """\
run = client.compare(
    prompt="a hot air balloon over snowy mountains",
    models=["kling-v2-5-turbo", "veo_3_1-fast"],
    aspect_ratio="16:9",
)
run"""),
    ("md", """\
`run.wait()` blocks until every task has finished (in a notebook `await run` does the same
without blocking the kernel). Each row of the run gives a `Result`."""),
    ("code", """\
run.wait()
for r in run.results:
    print(f"{r.request.model:18} {r.status:10} {r.path}")"""),
    ("md", """\
Next: `02_model_comparison.ipynb` (several models, blind voting, a report),
`03_prompt_sweep.ipynb`, `04_image_to_video.ipynb` and `05_resume_after_restart.ipynb`."""),
]

COMPARISON = [
    ("md", """\
# Comparing models

Three models, two prompts: six generations in flight at once, then a grid to judge them side
by side, a blind vote, an HTML report and a table of the numbers."""),
    ("md", SETUP_NOTE),
    ("code", SETUP),
    ("md", """\
## What it will cost

`dry_run=True` returns the plan and sends nothing: the task count, the estimated total and
its range (a request that leaves the length to the model may be billed for any length it
allows), per model. Estimates come from a price table of the vendors' published prices and
are marked `~`; a model it has no price for is named as "price unknown", never counted as 0.
Set your gateway's prices with `vg.prices.set("kling-v2-5-turbo", per_second=0.07)` or
`vg.prices.load("prices.toml")`, and cap a run with `max_cost=` (it is refused before
anything is sent when the estimate is over the limit)."""),
    ("code", """\
MODELS = ["kling-v2-5-turbo", "veo_3_1-fast", "sora-2"]
PROMPTS = [
    "a golden retriever running on grass, slow motion",
    "a paper boat in the rain, macro lens",
]
client.compare(prompt=PROMPTS, models=MODELS, aspect_ratio="16:9", dry_run=True)"""),
    ("md", """\
## A Run

`client.compare(prompt=..., models=...)` builds one request per prompt x model and starts them
all. It returns a `Run` at once: the work goes on in the background, within the gateway's
concurrency limits, and the kernel stays free. A `Run`

- shows itself live (a table of tasks, then the grid),
- is awaitable (`await run`), or `run.wait()` in a script,
- holds one `Result` per request in `run.results`, in request order,
- can `run.cancel()` what is still running."""),
    ("code", """\
run = client.compare(prompt=PROMPTS, models=MODELS, aspect_ratio="16:9", title="three models")
run"""),
    ("code", """\
await run      # the kernel stays free while it waits
print(run)"""),
    ("md", """\
## The synchronized grid

`vg.ComparisonGrid` lays the results out with prompts down and models across (`rows=` and
`cols=` take any request field). One control bar plays, pauses, seeks and loops every video
together; they stay aligned to one clock, so a difference you see is the models', not the
timing's. Space plays and pauses, the arrow keys step a frame, a click enlarges a video."""),
    ("code", """\
grid = vg.ComparisonGrid(run.results)
grid"""),
    ("md", """\
## Blind voting

Names bias judgement. With `blind=True` the columns lose their model names and are shuffled
(labelled A, B, C); press **Best** under the video you prefer in each row (or **Tie** /
**Skip**). Each vote is recorded in `blind.votes` and, with `journal=`, in the journal, where
the leaderboard counts it. **Reveal models** (or `blind.reveal()`) shows the names."""),
    ("code", """\
blind = vg.ComparisonGrid(run.results, blind=True, journal=client.journal, run_id=run.run_id)
blind"""),
    ("code", """\
print(blind.votes)      # one entry per judged row, with model names
blind.scores()          # win rate per model, from these votes"""),
    ("md", """\
## A report and a table

`run.to_html(path)` writes one self-contained HTML file with the grid and the videos embedded:
send it to someone without Jupyter. `run.to_dataframe()` gives one row per task (state, task
id, elapsed seconds, file, its cost and where that figure comes from: `reported` by the
gateway or `estimated` from the price table, None when nobody knows; and the measured size,
length and frame rate when PyAV is installed) for pandas."""),
    ("code", """\
report = run.to_html("report.html")
print("report:", report, f"({report.stat().st_size / 1024:.0f} KiB)")"""),
    ("code", """\
df = run.to_dataframe()
df[["model", "prompt", "state", "elapsed", "cost", "cost_source", "path"]]"""),
    ("md", """\
## The leaderboard

Across every run in the journal: per model, the success rate, failure reasons, latency,
whether the videos matched what was asked, and the blind-vote win rate
(`videogen-nb leaderboard` prints the same in a terminal)."""),
    ("code", """\
from videogen_nb.insight import leaderboard

leaderboard(client.journal, models=MODELS)"""),
]

SWEEP = [
    ("md", """\
# A prompt sweep with seeds

A *sweep* tries every combination: prompts x seeds x models. Fixing the seed makes a
generation repeatable on models that honour it, so varying it shows how much of a result is
the prompt and how much is luck."""),
    ("md", SETUP_NOTE),
    ("code", SETUP),
    ("md", """\
## The spending guard

On a real gateway each task costs money, and a sweep multiplies fast: 10 prompts x 5 seeds x 3
models is 150 tasks. So a run larger than `max_tasks` (50 unless you say otherwise) is refused
with `vg.SpendingGuardError` **before anything is sent**. Raise the limit for one run with
`max_tasks=...`, or for a client with `vg.Client(..., max_tasks=...)`."""),
    ("code", """\
prompts = [f"a lighthouse at dusk, shot {i}" for i in range(20)]
try:
    client.compare(prompt=prompts, models=["kling-v2-5-turbo", "veo_3_1-fast"], seed=[1, 2])
except vg.SpendingGuardError as exc:
    print("refused, nothing sent:", exc)"""),
    ("md", """\
## The sweep

Two prompts x three seeds on one model: six tasks. With several seeds the grid puts one row
per prompt and seed."""),
    ("code", """\
PROMPTS = ["a red fox in fresh snow", "neon rain on a city street at night"]
SEEDS = [1, 2, 3]
sweep = client.compare(prompt=PROMPTS, models="kling-v2-5-turbo", seed=SEEDS,
                       aspect_ratio="16:9", duration=5)
sweep"""),
    ("code", """\
await sweep
sweep.to_dataframe()[["prompt", "seed", "state", "elapsed", "cached"]]"""),
    ("md", """\
For full control build the requests yourself and pass them to `client.run`: any list of
`VideoRequest`s, mixing models, sizes and lengths. `rows=`/`cols=` choose the grid's axes."""),
    ("code", """\
requests = [
    vg.VideoRequest(model="veo_3_1-fast", prompt=PROMPTS[0], seed=seed, duration=length,
                    aspect_ratio="16:9")
    for seed in (1, 2)
    for length in (4, 8)
]
lengths = client.run(requests, rows="seed", cols="duration", title="seed x length")
lengths"""),
    ("md", """\
## Asking twice costs nothing

Every finished task is in the journal. Running the same sweep again serves each identical
request from it (`cached` is true), without a new task; `force=True` generates anew."""),
    ("code", """\
lengths.wait()
repeat = client.compare(prompt=PROMPTS, models="kling-v2-5-turbo", seed=SEEDS,
                        aspect_ratio="16:9", duration=5)
repeat.wait()
print("all served from the journal:", all(r.cached for r in repeat.results))"""),
]

IMAGE = [
    ("md", """\
# Image to video

Give a first frame (`image`) and the model animates it; some models (Kling's) also take a last
frame (`last_image`) and find a way between the two. A media field takes a URL, a data URI,
raw base64, a path of a local file, bytes, or a Pillow image."""),
    ("md", SETUP_NOTE),
    ("code", SETUP),
    ("md", """\
## Two frames, drawn here

No download needed: Pillow draws a dawn and a dusk."""),
    ("code", """\
from PIL import Image, ImageDraw

def scene(sky, sun, sun_y):
    img = Image.new("RGB", (640, 360), sky)
    draw = ImageDraw.Draw(img)
    draw.ellipse((280, sun_y, 360, sun_y + 80), fill=sun)
    draw.rectangle((0, 260, 640, 360), fill=(30, 60, 40))   # the hills
    return img

first = scene(sky=(255, 170, 110), sun=(255, 240, 180), sun_y=200)   # dawn
last = scene(sky=(40, 40, 90), sun=(250, 250, 250), sun_y=40)        # night, a moon
display(first, last)"""),
    ("md", """\
## First frame only, then first and last

Both requests go out together as one run."""),
    ("code", """\
PROMPT = "time lapse over the hills, clouds racing"
requests = [
    vg.VideoRequest(model="kling-v2-1-master", prompt=PROMPT, image=first,
                    duration=5, aspect_ratio="16:9"),
    vg.VideoRequest(model="kling-v2-1-master", prompt=PROMPT, image=first, last_image=last,
                    duration=5, aspect_ratio="16:9"),
]
run = client.run(requests, title="first frame / first + last")
run.wait()
for r in run.results:
    frames = "first + last" if r.request.last_image else "first only"
    print(f"{frames:13} {r.status:10} {r.path}")"""),
    ("code", "vg.show(run.results[1])"),
    ("md", """\
## Did the video start and end on our frames?

PyAV (installed with the sandbox extra) reads the video's first and last frames; put them next
to what we asked for. On a real model they are close, not identical."""),
    ("code", """\
import av
from PIL import ImageChops, ImageStat

def end_frames(path):
    with av.open(str(path)) as video:
        frames = [frame.to_image() for frame in video.decode(video=0)]
    return frames[0], frames[-1]

def distance(a, b):
    # the mean absolute difference of two images: 0 (the same) to 255
    a, b = a.convert("RGB").resize((64, 36)), b.convert("RGB").resize((64, 36))
    return sum(ImageStat.Stat(ImageChops.difference(a, b)).mean) / 3

start, end = end_frames(run.results[1].path)
print(f"first frame vs our first: {distance(start, first):5.1f}")
print(f"last frame  vs our last:  {distance(end, last):5.1f}   (vs our first: {distance(end, first):5.1f})")
display(start.resize((320, 180)), end.resize((320, 180)))"""),
]

RESUME = [
    ("md", """\
# Resume after a restart

A generation can take minutes and each one is paid for. If the kernel dies (a restart, a crash,
a closed laptop) while tasks are running, the tasks go on at the gateway, and the journal
knows each one: `client.resume()` in a new kernel polls them and downloads what finished.

Here we simulate it: start a run, drop the client while the tasks are still running, then
build a **new** client over the same journal, as a fresh kernel would."""),
    ("md", SETUP_NOTE),
    ("code", SETUP),
    ("code", """\
import time

JOURNAL = "videogen-runs/resume-demo.sqlite"

def new_client(**options):
    \"\"\"A new client for the same gateway: what a restarted kernel would build.\"\"\"
    if os.environ.get("VIDEOGEN_BASE_URL"):
        return vg.Client(**options)
    return vg.Client(sandbox.base_url, sandbox.api_key, **options)"""),
    ("md", """\
## Before the restart

Start three tasks and wait only until the gateway has accepted them (each has a task id,
recorded in the journal before `submit` returned). Then "crash": stop following the run
(`run.cancel()` stops the work *here*; the gateway goes on) and close the client."""),
    ("code", """\
before = new_client(journal=JOURNAL)
run = before.compare(
    prompt="a kite over the beach, windy",
    models=["kling-v2-5-turbo", "veo_3_1-fast", "sora-2"],
    aspect_ratio="16:9",
    force=True,  # new tasks even if the journal has these already
)
deadline = time.monotonic() + 60
while any(row.task is None for row in run.rows) and time.monotonic() < deadline:
    time.sleep(0.05)
print("accepted by the gateway:", [row.task.id for row in run.rows if row.task])

run.cancel()      # the kernel "dies": nothing here follows the tasks any more
before.close()
del before, run"""),
    ("md", """\
## After the restart

A new client over the same journal. `journal.unfinished()` lists what was in flight;
`client.resume()` picks all of it up as a new `Run`: it polls each task and downloads each
video, and a task that already finished meanwhile is simply downloaded."""),
    ("code", """\
after = new_client(journal=JOURNAL)
for entry in after.journal.unfinished(gateway=after.gateway):
    print(entry.id, entry.model, entry.state, entry.task_id)"""),
    ("code", """\
resumed = after.resume()
resumed"""),
    ("code", """\
await resumed
for r in resumed.results:
    print(f"{r.request.model:18} {r.status:10} {r.path}")"""),
    ("md", """\
## From a terminal

The same without a notebook: `videogen-nb runs` lists the journal, and `videogen-nb resume`
finishes every unfinished task it knows for a gateway (the key comes from
`VIDEOGEN_API_KEY`, never from the command line):

```bash
videogen-nb runs --journal videogen-runs/journal.sqlite
VIDEOGEN_API_KEY=... videogen-nb resume --base-url https://gateway.example/v1
```

A request whose submit was cut off mid-way (the gateway may or may not have created the task)
is reported, not resent; `videogen-nb resume --retry-unknown` (or
`client.resume(retry_unknown=True)`) resends it with its original `Idempotency-Key`, which a
gateway that honours it answers with the task it already made."""),
    ("code", """\
import sys
!{sys.executable} -m videogen_nb.cli runs --journal {JOURNAL} --limit 10"""),
]

NOTEBOOKS: dict[str, list[tuple[str, str]]] = {
    "01_quickstart.ipynb": QUICKSTART,
    "02_model_comparison.ipynb": COMPARISON,
    "03_prompt_sweep.ipynb": SWEEP,
    "04_image_to_video.ipynb": IMAGE,
    "05_resume_after_restart.ipynb": RESUME,
}


def build(name: str, cells: list[tuple[str, str]]) -> nbformat.NotebookNode:
    """One notebook, without outputs, with stable cell ids."""
    nb = nbformat.v4.new_notebook()
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    stem = name.split("_", 1)[0]
    for index, (kind, source) in enumerate(cells):
        make = nbformat.v4.new_markdown_cell if kind == "md" else nbformat.v4.new_code_cell
        cell = make(source)
        cell.id = f"nb{stem}-{index:02d}"
        nb.cells.append(cell)
    nbformat.validate(nb)
    return nb


def main(argv: list[str] | None = None) -> int:
    """Write every notebook next to this file (or into the directory given)."""
    args = sys.argv[1:] if argv is None else argv
    target = pathlib.Path(args[0]) if args else HERE
    target.mkdir(parents=True, exist_ok=True)
    for name, cells in NOTEBOOKS.items():
        nbformat.write(build(name, cells), target / name)
        print("wrote", target / name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
