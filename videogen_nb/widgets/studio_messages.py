"""The Studio's message areas: one HTML widget per group of fields, not one per field.

Each widget model costs the saved notebook about a kilobyte (its layout and style models
as much again), so the Studio writes every message of a group (the gateway, the models,
the prompt, the settings, the launch) into one ``HTML`` widget. Inside it each field keeps
its own element with a stable class (``vg-studio-error-<field>``, empty when the field is
fine), so browser tests and custom CSS still find the message of one field.

>>> area = MessageArea(("size", "duration"))
>>> area.set("size", "not a size")
>>> area.fields["size"].value
'<span class="vg-studio-err" style="color:var(--vg-studio-error,#b00020)">not a size</span>'
>>> area.set("size", None); area.fields["size"].value
''
"""

from __future__ import annotations

from collections.abc import Iterable

import ipywidgets as widgets

from ..display.html import tag

__all__ = ["ERROR_COLOR", "MUTED_COLOR", "OK_COLOR", "FieldMessage", "MessageArea"]

# The Studio's text colours are CSS variables that its <style> (``studio_looks``) sets from
# JupyterLab's theme: a dark red and green on light themes, light ones on dark themes, each
# at least 4.5:1 (WCAG AA) against the page. A fixed red readable on white is 2.6:1 on
# JupyterLab Dark. The fallbacks serve pages without that style (a static export).
#: the colour of an error
ERROR_COLOR = "var(--vg-studio-error,#b00020)"
#: the colour of a good note ("connected", "valid JSON")
OK_COLOR = "var(--vg-studio-ok,#1a7f37)"
#: the colour of a quiet line (the task count while the form is incomplete, hints)
MUTED_COLOR = "var(--vg-studio-muted,#666)"


class FieldMessage:
    """What one field shows in its group's area: ``value`` is its HTML ('' when none),
    ``text`` the plain message."""

    def __init__(self, field: str) -> None:
        self.field = field
        self.text = ""
        self.value = ""

    def set(self, message: str | None, *, html: str | None = None) -> None:
        """Show ``message`` as an error, or ``html`` as it is (a note such as "✓ valid")."""
        self.text = message or ""
        if html is not None:
            self.value = html
        else:
            self.value = (
                tag("span", message, class_="vg-studio-err", style=f"color:{ERROR_COLOR}")
                if message
                else ""
            )

    def render(self) -> str:
        css = f"vg-studio-error-{self.field.replace('_', '-')}"
        return f'<div class="{css}">{self.value}</div>'


class MessageArea:
    """The messages of a group of fields, rendered into one HTML widget (``widget``),
    after an optional ``head`` (a status line, the task count, the models' limits).

    The widget is attached later (``attach``) for groups whose panel is built only when
    opened: the messages are kept and shown once it exists.
    """

    def __init__(self, fields: Iterable[str]) -> None:
        self.fields = {name: FieldMessage(name) for name in fields}
        self.head = ""
        self.widget: widgets.HTML | None = None

    def attach(self, widget: widgets.HTML) -> None:
        """Render into ``widget`` (an ``ipywidgets.HTML``) from now on."""
        self.widget = widget
        self.render()

    def set(self, field: str, message: str | None, *, html: str | None = None) -> None:
        """Set the message of ``field`` (None clears it) and redraw the area."""
        self.fields[field].set(message, html=html)
        self.render()

    def set_head(self, html: str) -> None:
        """Set the line shown above the field messages and redraw the area."""
        self.head = html
        self.render()

    def html(self) -> str:
        """The area's HTML: the head, then one element per field."""
        return self.head + "".join(f.render() for f in self.fields.values())

    def render(self) -> None:
        if self.widget is not None:
            new = self.html()
            if self.widget.value != new:  # no message to the front end when nothing changed
                self.widget.value = new
