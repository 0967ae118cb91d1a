"""Result's HTML form comes from the display layer through IPython's formatters."""

from __future__ import annotations

from IPython.core.interactiveshell import InteractiveShell

from videogen_nb.display.formatters import register_formatters
from videogen_nb.errors import TaskFailedError
from videogen_nb.request import VideoRequest
from videogen_nb.task import Result, Task, TaskStatus


def test_result_html_is_registered_and_escaped():
    shell = InteractiveShell.instance()
    try:
        assert register_formatters() is True
        task = Task(id="t1", status=TaskStatus.FAILED, error="<script>alert(1)</script>")
        result = Result(
            request=VideoRequest(model="kling-v1", prompt="<img src=x onerror=alert(1)>"),
            task=task,
            error=TaskFailedError(task),
        )
        data, _ = shell.display_formatter.format(result)
        html = data["text/html"]
        assert "&lt;script&gt;" in html and "<script>" not in html
        assert "<img src=x" not in html
        assert "Result(" in data["text/plain"]
    finally:
        InteractiveShell.clear_instance()


def test_no_ipython_means_no_registration():
    InteractiveShell.clear_instance()
    assert register_formatters() is False
