"""Small helpers that build HTML safely from untrusted text.

Everything a gateway returns (prompts echoed back, error messages, model names, URLs) is
untrusted: these helpers are the one place where text becomes markup, so escaping cannot be
forgotten at a call site.

>>> escape('<img src=x onerror=alert(1)>')
'&lt;img src=x onerror=alert(1)&gt;'
>>> tag("span", "a<b", class_="cap")
'<span class="cap">a&lt;b</span>'
"""

from __future__ import annotations

import base64
import json
from html import escape as _escape
from typing import Any

__all__ = ["attrs_html", "data_uri", "escape", "json_for_script", "tag"]


def escape(value: object) -> str:
    """``value`` as text that is safe both between tags and inside quoted attributes."""
    return _escape("" if value is None else str(value), quote=True)


def attrs_html(**attributes: object) -> str:
    """Render keyword arguments as ` name="value"` pairs, escaped.

    A trailing underscore is dropped (``class_`` gives ``class``), other underscores become
    dashes (``data_cell`` gives ``data-cell``); ``None``/``False`` values are left out and
    ``True`` renders a bare attribute.
    """
    out = []
    for name, value in attributes.items():
        if value is None or value is False:
            continue
        key = name.rstrip("_").replace("_", "-")
        out.append(f" {key}" if value is True else f' {key}="{escape(value)}"')
    return "".join(out)


def tag(name: str, text: object = "", /, *, raw: str | None = None, **attributes: object) -> str:
    """One element: ``text`` is escaped; ``raw`` is trusted markup built by these helpers."""
    inner = raw if raw is not None else escape(text)
    return f"<{name}{attrs_html(**attributes)}>{inner}</{name}>"


def data_uri(mime: str, data: bytes) -> str:
    """A ``data:`` URI with ``data`` base64-encoded."""
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def json_for_script(value: Any) -> str:
    """JSON that is safe inside ``<script type="application/json">``.

    ``<``, ``>`` and ``&`` become ``\\u003c``-style escapes, so no string in the data (a
    prompt of ``</script><script>...``) can close the element or open a comment; JSON parsers
    read them back as the same characters. U+2028/2029 are escaped for older JS parsers.
    """
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )
