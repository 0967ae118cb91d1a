"""``Result._repr_html_`` renders through the display layer, escaped."""

from __future__ import annotations

from IPython.core.interactiveshell import InteractiveShell

import videogen_nb  # noqa: F401  (installs the renderer)
from videogen_nb.core.errors import TaskFailedError
from videogen_nb.core.request import VideoRequest
from videogen_nb.core.task import Result, Task, TaskStatus, set_result_html_renderer


def failed_result() -> Result:
    task = Task(id="t1", status=TaskStatus.FAILED, error="<script>alert(1)</script>")
    return Result(
        request=VideoRequest(model="kling-v1", prompt="<img src=x onerror=alert(1)>"),
        task=task,
        error=TaskFailedError(task),
    )


def test_repr_html_is_the_display_layers_and_escaped():
    html = failed_result()._repr_html_()
    assert html is not None
    assert "&lt;script&gt;" in html and "<script>" not in html
    assert "<img src=x" not in html


def test_ipython_uses_it():
    shell = InteractiveShell.instance()
    try:
        data, _ = shell.display_formatter.format(failed_result())
        assert "&lt;script&gt;" in data["text/html"]
        assert "Result(" in data["text/plain"]
    finally:
        InteractiveShell.clear_instance()


def test_without_a_renderer_there_is_no_html():
    from videogen_nb.display.video import result_html

    set_result_html_renderer(None)
    try:
        assert failed_result()._repr_html_() is None
    finally:
        set_result_html_renderer(result_html)
