"""Sandbox render speed (issue 16.10): a 5 s text-to-video clip must render well under 1 s.

    python benchmarks/sandbox_render.py            # writes results/sandbox-render.{json,md}

For each sandbox look (one model per look, and a blind render) and a few prompts, renders
a 640x360, 12 fps, 5 s clip (the sandbox's default) ``--repeat`` times and keeps the best
wall time: frames alone (the scene) and the whole MP4 (scene + H.264 encode). Best-of-n,
because the machine is shared: the minimum is the render's own cost.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import time

from videogen_nb.sandbox.render import RenderSpec, _frames, render_mp4

MODELS = ("kling-v2-5-turbo", "veo_3_1-fast", "sora-2", "runway-gen4", "wan-2.2", "(blind)")
PROMPTS = (
    "a paper boat drifting down a rainy street, golden hour",
    "a hot air balloon over snowy mountains",
    "a neon city at midnight, cars racing",
)
RESULTS = pathlib.Path(__file__).parent / "results"


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rows = []
    for model in MODELS:
        for prompt in PROMPTS:
            spec = RenderSpec(
                prompt=prompt,
                model="kling-v1" if model == "(blind)" else model,
                seed=7,
                marks=model != "(blind)",
            )
            scene = best(lambda s=spec: sum(1 for _ in _frames(s)), args.repeat)
            whole = best(lambda s=spec: render_mp4(s), args.repeat)
            rows.append({"model": model, "prompt": prompt, "frames_s": scene, "mp4_s": whole})
            print(f"{model:18} {scene:6.3f} s frames {whole:6.3f} s mp4  {prompt[:40]}")
    slowest = max(r["mp4_s"] for r in rows)
    RESULTS.mkdir(exist_ok=True)
    meta = {
        # the 1-minute load average: on a shared machine, read the figures with it
        "load": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "repeat": args.repeat,
    }
    (RESULTS / "sandbox-render.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    lines = [
        "# Sandbox render speed: 640x360, 12 fps, 5 s (60 frames), best of "
        f"{args.repeat}, {meta['machine']} x{meta['cpus']} (load {meta['load']}), "
        f"Python {meta['python']}",
        "",
        "| look (model) | prompt | scene frames | whole MP4 |",
        "|---|---|---|---|",
        *(
            f"| {r['model']} | {r['prompt'][:40]} | {r['frames_s']:.3f} s | {r['mp4_s']:.3f} s |"
            for r in rows
        ),
        "",
        f"Slowest whole MP4: {slowest:.3f} s.",
    ]
    (RESULTS / "sandbox-render.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
