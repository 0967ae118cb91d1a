"""Inline video display for notebooks: ``show()``, poster frames and ``Result`` HTML.

Saved notebooks stay small: a video is embedded (base64) only when it is small, when
``embed=True`` is asked for, or where the front end cannot reach the kernel's files (VS Code,
Colab, Voila: ``"embed"`` mode, bounded by ``vg.config(embed_limit=...)``); otherwise it is
linked by a path relative to the notebook's working directory, which Jupyter's file server
resolves. A video that cannot play where it is shown says why and how to see it, under its
first frame (``frontend`` picks the mode; ``vg.config(display=...)`` forces one). Everything
the gateway said (model names, prompts, errors) is escaped.

>>> import videogen_nb as vg                                   # doctest: +SKIP
>>> vg.show("videos/boat.mp4")                                 # doctest: +SKIP
"""

from __future__ import annotations

import functools
import os
import pathlib
import urllib.parse
from typing import TYPE_CHECKING, Any

from ..core.text import shorten
from ..core.urls import (
    ALLOW_PRIVATE_DOWNLOADS_ENV,
    allow_private_downloads_from_env,
    host_risk,
    is_loopback_host,
)
from ..insight.probe import poster_jpeg
from .frontend import display_mode, embed_limit, widget_video
from .html import data_uri, tag

if TYPE_CHECKING:
    from ..core.task import Result

__all__ = [
    "EMBED_LIMIT",
    "VideoDisplay",
    "caption_fields",
    "caption_text",
    "error_text",
    "poster_data_uri",
    "refused_src_reason",
    "relative_url",
    "result_html",
    "safe_url",
    "show",
    "video_mime",
]

#: Videos smaller than this are embedded by default: the notebook still opens anywhere.
EMBED_LIMIT = 256 * 1024
_VIDEO_STYLE = "max-width:100%;display:block"

_MIME_BY_SUFFIX = {
    ".mp4": "video/mp4",
    ".m4v": "video/mp4",
    ".webm": "video/webm",
    ".mov": "video/quicktime",
    ".ogv": "video/ogg",
    ".gif": "image/gif",
}


def video_mime(path: os.PathLike[str] | str) -> str:
    """The MIME type browsers expect for ``path`` (by suffix; MP4 when unknown)."""
    return _MIME_BY_SUFFIX.get(pathlib.Path(path).suffix.lower(), "video/mp4")


def safe_url(url: object) -> str | None:
    """``url`` when it may be a ``src`` on a page, else None: an http(s) URL (other schemes
    never reach a page) that :func:`refused_src_reason` does not refuse."""
    found = _http_url(url)
    if found is None or refused_src_reason(found) is not None:
        return None
    return found


def _http_url(url: object) -> str | None:
    """``url`` when it is an http(s) URL with a host, else None."""
    if not isinstance(url, str):
        return None
    parsed = urllib.parse.urlsplit(url.strip())
    if parsed.scheme.lower() in ("http", "https") and parsed.netloc:
        return url.strip()
    return None


def refused_src_reason(url: str) -> str | None:
    """Why ``url`` must not become a ``<video src>`` (None when it may).

    The page does not know the gateway, and resolving names here would block the notebook,
    so this judges the host as written: a link-local or metadata host is never shown; a
    private-network address only with ``VIDEOGEN_ALLOW_PRIVATE_DOWNLOADS=1``; loopback (a
    local sandbox) is shown.

    >>> refused_src_reason("http://169.254.169.254/latest/meta-data/")[:40]
    'not shown: the video URL points at 169.2'
    """
    host = urllib.parse.urlsplit(url.strip()).hostname
    risk = host_risk(host)
    if risk is None or is_loopback_host(host):
        return None
    if risk == "private" and allow_private_downloads_from_env():
        return None
    if risk == "link-local":
        return (
            f"not shown: the video URL points at {host}, a link-local address (the range "
            "of cloud metadata services)"
        )
    return (
        f"not shown: the video URL points at {host}, on a private network; set "
        f"{ALLOW_PRIVATE_DOWNLOADS_ENV}=1 to show it"
    )


def relative_url(
    path: os.PathLike[str] | str, base: os.PathLike[str] | str | None = None
) -> str | None:
    """``path`` as a URL-quoted relative reference from ``base`` (default: the working
    directory) when it lies under ``base``; None otherwise."""
    target = pathlib.Path(path).resolve()
    root = pathlib.Path(base if base is not None else os.getcwd()).resolve()
    try:
        rel = target.relative_to(root)
    except ValueError:
        return None
    return urllib.parse.quote(rel.as_posix())


def poster_data_uri(path: os.PathLike[str] | str, *, max_width: int = 320) -> str | None:
    """The first frame of ``path`` as a small JPEG ``data:`` URI, or None.

    None when PyAV is not installed or the file cannot be decoded: a missing poster is
    never an error.
    """
    p = pathlib.Path(path)
    try:
        st = p.stat()
    except OSError:
        return None
    return _poster_cached(str(p.resolve()), st.st_mtime_ns, st.st_size, max_width)


@functools.lru_cache(maxsize=256)
def _poster_cached(path: str, mtime_ns: int, size: int, max_width: int) -> str | None:
    # mtime and size are part of the cache key so a rewritten file gets a new poster.
    jpeg = poster_jpeg(path, max_width=max_width)
    return data_uri("image/jpeg", jpeg) if jpeg else None


def _fmt_seconds(value: object) -> str | None:
    if value is None:
        return None
    try:
        return f"{float(value):.1f} s"  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return str(value)


def spec_findings(result: Result) -> list[str]:
    """The spec check's findings for ``result`` ("asked 10 s, got 5.0 s", ...); empty when it
    matched its request or was not checked. ``Result.spec`` is the check's dict (or report)."""
    spec = result.spec
    if spec is None:
        return []
    findings = spec.get("findings") if isinstance(spec, dict) else getattr(spec, "findings", None)
    return [str(finding) for finding in findings or ()]


def caption_fields(result: Result) -> dict[str, str]:
    """The caption of one result as short strings: model, seed, duration, time, status, and
    ``spec`` (the mismatches between the video and its request, when there are any).

    Keys that have no value are left out; the values are plain text (escape before use in
    HTML, or use ``textContent`` in JS).
    """
    req = result.request
    out: dict[str, str] = {"model": str(req.model)}
    if req.seed is not None:
        out["seed"] = f"seed {req.seed}"
    duration = req.duration if req.duration is not None else req.seconds
    if duration is not None:
        out["duration"] = f"{duration} s video"
    if result.elapsed is not None:
        out["time"] = f"made in {_fmt_seconds(result.elapsed)}"
    status = result.status
    if result.cached:
        status += " (cached)"
    task = result.task
    if task is not None and not task.status.is_terminal and task.progress is not None:
        status += f" {task.progress}%"
    out["status"] = status
    findings = spec_findings(result)
    if findings:
        out["spec"] = "⚠ " + "; ".join(findings)
    return out


def caption_text(result: Result, *, hide_model: bool = False) -> str:
    """The caption as one line of plain text (``" · "``-separated)."""
    fields = caption_fields(result)
    if hide_model:
        fields.pop("model", None)
    return " · ".join(fields.values())


def error_text(result: Result) -> str | None:
    """What went wrong, in the gateway's words when it gave any (plain text, not escaped)."""
    if result.error is not None:
        text = str(result.error) or type(result.error).__name__
        return shorten(text, 2000)
    task = result.task
    if task is not None and task.error:
        return shorten(task.error, 2000)
    return None


class VideoDisplay:
    """A displayable video, like ``IPython.display.Video``, that keeps notebooks small.

    ``embed=None`` (default) embeds files under ``EMBED_LIMIT`` bytes and links larger ones
    by a path relative to the working directory; ``embed=True`` always embeds; ``embed=False``
    never does. A poster frame is added when PyAV is installed. The HTML is built when the
    object is displayed.
    """

    def __init__(
        self,
        source: Result | os.PathLike[str] | str,
        *,
        embed: bool | None = None,
        width: int | None = None,
        base_dir: os.PathLike[str] | str | None = None,
    ) -> None:
        self.source = source
        self.embed = embed
        self.width = width
        self.base_dir = base_dir

    def _repr_html_(self) -> str:
        from ..core.task import Result

        if isinstance(self.source, Result):
            return result_html(
                self.source, embed=self.embed, width=self.width, base_dir=self.base_dir
            )
        return _video_html(self.source, embed=self.embed, width=self.width, base_dir=self.base_dir)

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        html = self._repr_html_()
        bundle: dict[str, Any] = {}
        widget = self._widget() if self.embed is None and display_mode() == "widget" else None
        if widget is not None:
            # The widget streams the bytes while the kernel lives; the HTML beside it is what
            # a saved notebook or a static export shows.
            view = widget._repr_mimebundle_(**kwargs) or {}
            # anywidget answers (data, metadata); ipywidgets a dict
            bundle.update(view[0] if isinstance(view, tuple) else view)
        bundle.update({"text/html": html, "text/plain": repr(self)})
        return bundle

    def _widget(self) -> Any | None:
        from ..core.task import Result

        return widget_video(self.source) if isinstance(self.source, Result) else None

    def __repr__(self) -> str:
        return f"VideoDisplay({self.source!r}, embed={self.embed!r})"


def show(
    result_or_path: Result | os.PathLike[str] | str,
    *,
    embed: bool | None = None,
    width: int | None = None,
) -> VideoDisplay:
    """Display one video (a ``Result``, a local path or an http(s) URL) inline.

    Returns a ``VideoDisplay``; as the last expression of a cell it renders itself, inside a
    loop use ``display(vg.show(r))``. See ``VideoDisplay`` for the embedding rule.

    >>> vg.show(result)                   # doctest: +SKIP
    >>> vg.show("out/boat.mp4", embed=True)  # doctest: +SKIP
    """
    return VideoDisplay(result_or_path, embed=embed, width=width)


def _video_html(
    source: os.PathLike[str] | str,
    *,
    embed: bool | None,
    width: int | None,
    base_dir: os.PathLike[str] | str | None,
) -> str:
    url = _http_url(source) if isinstance(source, str) else None
    refused = refused_src_reason(url) if url is not None else None
    if refused is not None:
        return tag("div", refused, class_="vg-video-refused")
    if url is not None:
        return _player(url, None, width)
    path = pathlib.Path(source)
    try:
        size = path.stat().st_size
    except OSError as exc:
        return tag("div", f"video not found: {path} ({exc.strerror})", class_="vg-video-missing")
    mode = "link" if embed is not None else display_mode()
    poster = poster_data_uri(path)
    if embed or (embed is None and size < EMBED_LIMIT):
        return _player(data_uri(video_mime(path), path.read_bytes()), poster, width)
    if mode in ("embed", "widget"):
        limit = embed_limit()
        if size <= limit:
            return _player(data_uri(video_mime(path), path.read_bytes()), poster, width)
        return _unplayable(poster, width, _over_limit_note(path, size, limit))
    rel = relative_url(path, base_dir)
    if rel is None:
        note = (
            f"{path} ({size / 1e6:.1f} MB) lies outside the notebook's folder, so the "
            "notebook cannot link it: use show(..., embed=True) to embed it, or "
            "vg.ComparisonGrid([...]) to stream it."
        )
        return _unplayable(poster, width, note)
    return _linked_player(rel, path, poster, width)


def _player(src: str, poster: str | None, width: int | None, onerror: str | None = None) -> str:
    return tag(
        "video",
        "",
        src=src,
        poster=poster,
        controls=True,
        preload="metadata",
        width=width,
        style=_VIDEO_STYLE,
        onerror=onerror,
    )


def _unplayable(poster: str | None, width: int | None, note: str) -> str:
    """The first frame (when there is one) and a line saying why the video does not play
    here and how to see it: never an empty player."""
    img = (
        tag("img", "", src=poster, alt="first frame", width=width, style=_VIDEO_STYLE)
        if poster
        else ""
    )
    return tag("div", raw=img + tag("div", note, class_="vg-note"), class_="vg-video-unlinked")


def _over_limit_note(path: pathlib.Path, size: int, limit: int) -> str:
    return (
        f"{path.name} ({size / 1e6:.1f} MB) is over the {limit / 1e6:.1f} MB embed limit, so "
        "it is not put into the notebook: vg.config(embed_limit=...) raises the limit, "
        "vg.config(display='widget') streams it through the kernel, or open the file "
        f"{path}."
    )


def _linked_player(rel: str, path: pathlib.Path, poster: str | None, width: int | None) -> str:
    """A player that links ``rel``; if the page cannot load it (a front end with no file
    server: VS Code, Colab, a static export), a line below says so and how to see it."""
    note = (
        f"This page cannot load {rel}: it is linked, and only a Jupyter server serves it. "
        "Run vg.config(display='embed') and show it again to embed it, or open the file "
        f"{path}."
    )
    # The note is hidden until the player reports that its source failed; where scripts are
    # stripped the poster still shows the first frame.
    player = _player(
        rel, poster, width, onerror="var n=this.nextElementSibling;if(n)n.hidden=false"
    )
    return tag(
        "div",
        raw=player + tag("div", note, class_="vg-note vg-link-failed", hidden=True),
        class_="vg-video-linked",
    )


def _caption_html(result: Result) -> str:
    parts = [
        tag("span", value, class_=f"vg-cap-{key}") for key, value in caption_fields(result).items()
    ]
    return tag(
        "div",
        raw=" · ".join(parts),
        class_="vg-caption",
        style="font:12px sans-serif;color:#555;margin-top:2px",
    )


def result_html(
    result: Result,
    *,
    embed: bool | None = None,
    width: int | None = None,
    base_dir: os.PathLike[str] | str | None = None,
) -> str:
    """HTML for one ``Result``: its video and caption, or its status and error message.

    Used as ``Result._repr_html_``. Failed and pending results show their status and the
    gateway's message, escaped.
    """
    caption = _caption_html(result)
    prompt = result.request.prompt
    prompt_html = (
        tag(
            "div",
            shorten(prompt, 300, one_line=True),
            class_="vg-prompt",
            style="font:12px sans-serif;color:#333;margin-top:2px",
        )
        if prompt
        else ""
    )
    if result.path is not None and result.error is None:
        body = _video_html(result.path, embed=embed, width=width, base_dir=base_dir)
    elif result.error is None and result.task is not None and _http_url(result.task.video_url):
        body = _video_html(str(result.task.video_url), embed=False, width=width, base_dir=base_dir)
    else:
        message = error_text(result)
        status = result.status
        headline = tag("strong", status)
        detail = tag("pre", message, style="white-space:pre-wrap;margin:4px 0") if message else ""
        kind = (
            "vg-failed"
            if result.error is not None or status in ("failed", "cancelled")
            else "vg-pending"
        )
        body = tag(
            "div",
            raw=headline + detail,
            class_=f"vg-status {kind}",
            style="font:13px sans-serif;padding:6px;border:1px solid #ccc;border-radius:4px",
        )
    return tag("div", raw=body + caption + prompt_html, class_="vg-result")
