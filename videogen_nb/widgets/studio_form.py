"""What the Studio form means, without any widget: parsing, choices and the sweep.

Kept apart from ``studio.py`` so that the rules (what counts as a prompt, which lengths a
set of models accepts, how a form becomes requests) read and test as plain functions.
Every parse error is a ``ValidationError`` whose ``field`` names the form field to mark.

>>> parse_seeds("1, 2,3")
[1, 2, 3]
>>> duration_choices(["sora-2"]).options
('4', '8', '12')
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from ..core.errors import ValidationError
from ..core.request import VideoRequest
from ..run.sweep import build_sweep
from ..store.catalog import ModelInfo, get_model, known_models

__all__ = [
    "COMMON_DURATIONS",
    "COMMON_SIZES",
    "Choices",
    "FormValues",
    "build_requests",
    "count_text",
    "counting_values",
    "duration_choices",
    "form_field",
    "is_ratio",
    "merge_models",
    "parse_duration",
    "parse_metadata",
    "parse_prompts",
    "parse_seeds",
    "shared_fields",
    "size_choices",
    "task_count",
]

#: lengths suggested when no chosen model documents its own
COMMON_DURATIONS: tuple[str, ...] = ("4", "5", "6", "8", "10")
#: sizes and aspect ratios suggested when no chosen model documents its own
COMMON_SIZES: tuple[str, ...] = (
    "16:9",
    "9:16",
    "1:1",
    "1280x720",
    "720x1280",
    "1920x1080",
    "1080x1920",
)

_SIZE_RE = re.compile(r"^\s*(\d+)\s*[xX]\s*(\d+)\s*$")
_RATIO_RE = re.compile(r"^\s*(\d+)\s*:\s*(\d+)\s*$")

# Request fields (as a ValidationError names them) -> the form field that shows the error.
_FIELD_OF = {
    "prompt": "prompt",
    "model": "models",
    "models": "models",
    "seed": "seeds",
    "image": "image",
    "images": "image",
    "input_reference": "image",
    "last_image": "last_frame",
    "size": "size",
    "aspect_ratio": "size",
    "width": "size",
    "height": "size",
    "duration": "duration",
    "seconds": "duration",
    "quality": "quality",
    "fps": "fps",
    "n": "n",
    "metadata": "metadata",
}


def is_ratio(value: str) -> bool:
    """True for an aspect ratio such as ``16:9`` (sent as ``aspect_ratio``, not ``size``)."""
    return bool(_RATIO_RE.match(value))


def form_field(request_field: str) -> str:
    """The form field that shows an error about ``request_field`` (``"general"`` if none).

    >>> form_field("metadata['a'][0]"), form_field("last_image"), form_field("user")
    ('metadata', 'last_frame', 'general')
    """
    base = re.split(r"[\[.]", request_field, maxsplit=1)[0]
    return _FIELD_OF.get(base, "general")


def parse_prompts(text: str) -> list[str]:
    """One prompt per non-blank line (a sweep); raises when there is none."""
    prompts = [line.strip() for line in (text or "").splitlines() if line.strip()]
    if not prompts:
        raise ValidationError("prompt", "write a prompt (one per line to compare several)")
    return prompts


def parse_seeds(text: str) -> list[int] | None:
    """``"1, 2, 3"`` -> ``[1, 2, 3]``; blank -> None (the gateway picks)."""
    parts = [p.strip() for p in re.split(r"[,\s]+", text or "") if p.strip()]
    if not parts:
        return None
    seeds = []
    for part in parts:
        try:
            seeds.append(int(part))
        except ValueError:
            raise ValidationError(
                "seed", f"{part!r} is not a whole number; write seeds like 1, 2, 3"
            ) from None
    return list(dict.fromkeys(seeds))


def parse_metadata(text: str) -> dict[str, Any] | None:
    """The metadata box as a JSON object; blank -> None. Says where JSON goes wrong."""
    if not (text or "").strip():
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationError(
            "metadata", f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None
    if not isinstance(value, dict):
        raise ValidationError(
            "metadata", f'must be a JSON object like {{"key": "value"}}, got {type(value).__name__}'
        )
    return value


def merge_models(gateway_models: Sequence[str] | None) -> list[tuple[str, str]]:
    """Options for the model picker: the gateway's models and the catalog's, as
    ``(label, name)``; names only the gateway lists are marked, since their limits are
    unknown here."""
    names = list(dict.fromkeys([*(gateway_models or []), *known_models()]))
    catalog = set(known_models())
    listed = set(gateway_models or [])
    options = []
    for name in sorted(names, key=str.lower):
        label = name
        if name not in catalog:
            label = f"{name} (not in catalog)"
        elif gateway_models is not None and name not in listed:
            label = f"{name} (not listed by the gateway)"
        options.append((label, name))
    return options


@attrs.define(frozen=True, kw_only=True)
class Choices:
    """What a form field offers for the chosen models.

    ``restricted`` means every chosen model documents its limits, so only ``options`` are
    valid; otherwise ``options`` are suggestions and any value goes. ``note`` says why.
    """

    options: tuple[str, ...]
    restricted: bool
    note: str = ""

    def check(self, value: str, field: str) -> None:
        """Raise ``ValidationError`` when ``value`` is not allowed."""
        if value and self.restricted and value not in self.options:
            allowed = ", ".join(self.options) or "nothing"
            raise ValidationError(
                field, f"{value} does not suit the chosen models; pick one of {allowed}"
            )


def _infos(models: Sequence[str]) -> list[ModelInfo | None]:
    return [get_model(m) for m in models]


def duration_choices(models: Sequence[str]) -> Choices:
    """Lengths (seconds, as text) that every chosen model accepts, from the catalog."""
    infos = _infos(models)
    if not models or any(i is None or i.durations is None for i in infos):
        known = sorted({d for i in infos if i and i.durations for d in i.durations})
        options = tuple(str(d) for d in known) or COMMON_DURATIONS
        unknown = [
            m for m, i in zip(models, infos, strict=True) if i is None or i.durations is None
        ]
        note = (
            f"{', '.join(unknown)}: lengths not in the catalog, any value goes" if unknown else ""
        )
        return Choices(options=options, restricted=False, note=note)
    sets = [set(i.durations) for i in infos if i is not None and i.durations is not None]
    common = set.intersection(*sets)
    if common:
        return Choices(options=tuple(str(d) for d in sorted(common)), restricted=True)
    union = sorted(set.union(*sets))
    each = "; ".join(f"{i.name}: {i.describe_durations()}" for i in infos if i is not None)
    return Choices(
        options=tuple(str(d) for d in union),
        restricted=True,
        note=f"no length suits every chosen model ({each}); some tasks may be rejected",
    )


def _shape(value: str) -> float | None:
    match = _SIZE_RE.match(value) or _RATIO_RE.match(value)
    if not match or not int(match.group(2)):
        return None
    return int(match.group(1)) / int(match.group(2))


def _accepts_size(info: ModelInfo, value: str) -> bool | None:
    shape = _shape(value)
    if _RATIO_RE.match(value):
        if info.aspect_ratios:
            return value in info.aspect_ratios
        if info.sizes and shape is not None:
            return any(abs((_shape(s) or 0) / shape - 1) <= 0.02 for s in info.sizes)
        return None
    if info.sizes:
        return value in info.sizes
    if info.aspect_ratios and shape is not None:
        # Within 2%: 854x480 is a 16:9 frame though it does not reduce to 16:9 exactly.
        return any(abs(shape / (_shape(r) or shape) - 1) <= 0.02 for r in info.aspect_ratios)
    return None


def size_choices(models: Sequence[str]) -> Choices:
    """Sizes (``1280x720``) and aspect ratios (``16:9``) every chosen model accepts."""
    infos = _infos(models)
    documented = [i for i in infos if i is not None and (i.sizes or i.aspect_ratios)]
    candidates = list(
        dict.fromkeys(
            [v for i in documented for v in (*(i.aspect_ratios or ()), *(i.sizes or ()))]
            + list(COMMON_SIZES)
        )
    )
    if not models or len(documented) < len(models):
        unknown = [m for m, i in zip(models, infos, strict=True) if i not in documented]
        note = f"{', '.join(unknown)}: sizes not in the catalog, any value goes" if unknown else ""
        return Choices(options=tuple(candidates), restricted=False, note=note)
    fitting = tuple(c for c in candidates if all(_accepts_size(i, c) for i in documented))
    if fitting:
        return Choices(options=fitting, restricted=True)
    return Choices(
        options=tuple(candidates),
        restricted=True,
        note="no size suits every chosen model; some tasks may be rejected",
    )


@attrs.define(frozen=True, kw_only=True)
class FormValues:
    """The Studio form, read: prompts x seeds x models and the fields every request shares."""

    prompts: tuple[str, ...]
    models: tuple[str, ...]
    seeds: tuple[int, ...] | None = None
    negative_prompt: str = ""
    #: a data URI (or anything ``VideoRequest`` takes as media)
    image: str | bytes | None = None
    last_image: str | bytes | None = None
    size: str = ""
    duration: str = ""
    quality: str = ""
    fps: int = 0
    n: int = 1
    metadata: Mapping[str, Any] | None = None


def task_count(values: FormValues) -> int:
    """How many tasks the form launches: prompts x seeds x models."""
    return len(values.prompts) * len(values.seeds or (None,)) * len(values.models)


def counting_values(prompt_text: str, seeds_text: str, models: Sequence[str]) -> FormValues:
    """Just the parts of the form that set the task count; raises ``ValidationError``."""
    seeds = parse_seeds(seeds_text)
    return FormValues(
        prompts=tuple(parse_prompts(prompt_text)),
        models=tuple(models),
        seeds=tuple(seeds) if seeds else None,
    )


def count_text(
    prompt_text: str, seeds_text: str, models: Sequence[str], confirm_above: int
) -> tuple[str, bool]:
    """The line beside Generate, and whether the form is complete enough to launch.

    >>> count_text("a\\nb", "1, 2", ["m"], 8)
    ('4 tasks will be launched', True)
    >>> count_text("", "x", [], 8)
    ('0 tasks: write a prompt, fix the seeds, choose a model', False)
    """
    problems = []
    for field_text, parse, problem in (
        (prompt_text, parse_prompts, "write a prompt"),
        (seeds_text, parse_seeds, "fix the seeds"),
    ):
        try:
            parse(field_text)
        except ValidationError:
            problems.append(problem)
    if not models:
        problems.append("choose a model")
    if problems:
        return f"0 tasks: {', '.join(problems)}", False
    n = task_count(counting_values(prompt_text, seeds_text, models))
    text = f"{n} task{'s' if n != 1 else ''} will be launched"
    if n > confirm_above:
        text += f" (asks to confirm: more than {confirm_above})"
    return text, True


def build_requests(values: FormValues) -> list[VideoRequest]:
    """The sweep as requests, prompts outermost and models innermost (the grid's order).

    The negative prompt goes into ``metadata["negative_prompt"]``; a size written as
    ``16:9`` is sent as ``aspect_ratio``. Raises ``ValidationError`` from ``VideoRequest``.
    """
    if not values.models:
        raise ValidationError("models", "choose at least one model")
    if not values.prompts:
        raise ValidationError("prompt", "write a prompt (one per line to compare several)")
    return build_sweep(
        prompt=list(values.prompts),
        models=list(values.models),
        seed=list(values.seeds) if values.seeds else None,
        **shared_fields(values),
    )


def shared_fields(values: FormValues) -> dict[str, Any]:
    """The request fields every task of the sweep shares; blank form fields are left out.

    >>> shared_fields(FormValues(prompts=("p",), models=("m",), size="16:9", duration="5.0"))
    {'aspect_ratio': '16:9', 'duration': 5}
    """
    fields: dict[str, Any] = {}
    metadata = dict(values.metadata or {})
    if values.negative_prompt.strip():
        metadata["negative_prompt"] = values.negative_prompt.strip()
    if metadata:
        fields["metadata"] = metadata
    if size := values.size.strip():
        fields["aspect_ratio" if _RATIO_RE.match(size) else "size"] = size
    if duration := values.duration.strip():
        fields["duration"] = parse_duration(duration)
    optional = {
        "quality": values.quality.strip() or None,
        "fps": values.fps or None,
        "n": values.n if values.n and values.n != 1 else None,
        "image": values.image,
        "last_image": values.last_image,
    }
    fields.update({name: value for name, value in optional.items() if value is not None})
    return fields


def parse_duration(text: str) -> int | float:
    """Seconds as the form's text gives them: a whole number stays an ``int``.

    >>> parse_duration("8"), parse_duration("2.5")
    (8, 2.5)
    """
    try:
        seconds = float(text)
    except ValueError:
        raise ValidationError("duration", f"{text!r} is not a number of seconds") from None
    return int(seconds) if seconds.is_integer() else seconds
