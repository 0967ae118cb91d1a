"""The Studio's model picker: one checkbox per model, every choice visible at once.

A ``SelectMultiple`` list needed Ctrl-click to pick a second model and scrolled a chosen
one out of sight. Here each model is a checkbox (a click adds or removes it) laid out in
columns, and the line above the list names every chosen model. The checkboxes share one
layout and one style model, so a catalog of a dozen models adds a dozen small models to the
saved notebook, not three dozen.

``ModelPicker`` is plain traitlets (no widget of its own): ``value`` is the chosen names in
the list's order, ``options`` the ``(label, name)`` pairs; ``observe(..., names="value")``
works as on a widget.
"""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets
import traitlets
from ipywidgets.widgets.widget_bool import CheckboxStyle

from .studio_inputs import classed

__all__ = ["ModelPicker"]


class ModelPicker(traitlets.HasTraits):
    """Checkboxes for ``options``; ``value`` holds the ticked names.

    Setting ``value`` to a name that is not an option raises ``TraitError`` (as a
    ``SelectMultiple`` does); names keep the order they are given in, and a click keeps
    the list's order.
    """

    value = traitlets.Tuple()
    options: traitlets.List[tuple[str, str]] = traitlets.List()

    def __init__(self, *, layout: widgets.Layout, style: CheckboxStyle) -> None:
        super().__init__()
        self._layout = layout
        self._style = style
        self._boxes: dict[str, widgets.Checkbox] = {}
        self._syncing = False
        self.widget = classed(widgets.Box([], layout=layout), "vg-studio-models")

    @traitlets.validate("value")
    def _valid_value(self, proposal: dict[str, Any]) -> tuple[str, ...]:
        names = tuple(dict.fromkeys(proposal["value"]))
        known = {name for _label, name in self.options}
        unknown = [n for n in names if n not in known]
        if unknown:
            raise traitlets.TraitError(f"not a model in the list: {', '.join(unknown)}")
        return names

    @traitlets.observe("options")
    def _options_changed(self, change: dict[str, Any]) -> None:
        names = [name for _label, name in change["new"]]
        kept = tuple(n for n in self.value if n in names)
        boxes = {}
        for label, name in change["new"]:
            box = self._boxes.pop(name, None)
            if box is None:
                box = self._checkbox(name)
            box.description = label
            boxes[name] = box
        for gone in self._boxes.values():  # models no longer listed: free their models
            gone.close()
        self._boxes = boxes
        self.widget.children = tuple(boxes.values())
        self.value = kept
        self._show_value()

    @traitlets.observe("value")
    def _value_changed(self, _change: dict[str, Any]) -> None:
        self._show_value()

    def _checkbox(self, name: str) -> widgets.Checkbox:
        box = widgets.Checkbox(
            value=False, indent=False, description=name, layout=self._layout, style=self._style
        )
        box.observe(lambda c, name=name: self._ticked(name, c["new"]), names="value")
        return box

    def _ticked(self, name: str, ticked: bool) -> None:
        if self._syncing:
            return
        chosen = set(self.value) | {name} if ticked else set(self.value) - {name}
        self.value = tuple(n for _label, n in self.options if n in chosen)

    def _show_value(self) -> None:
        chosen = set(self.value)
        self._syncing = True
        try:
            for name, box in self._boxes.items():
                if box.value != (name in chosen):
                    box.value = name in chosen
        finally:
            self._syncing = False

    def checkbox(self, name: str) -> widgets.Checkbox:
        """The checkbox of model ``name`` (what a click in the browser changes)."""
        return self._boxes[name]

    def summary(self) -> str:
        """The chosen models in words, for the line above the list."""
        if not self.value:
            return "no model chosen: tick one or more"
        return f"{len(self.value)} chosen: {', '.join(self.value)}"
