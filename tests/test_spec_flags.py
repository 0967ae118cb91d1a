"""A video that does not match its request is flagged wherever the run is shown (issue 7)."""

from __future__ import annotations

import pytest

from tests.support import small
from videogen_nb.display.report import render_report
from videogen_nb.display.table import table_html
from videogen_nb.display.video import result_html
from videogen_nb.insight import spec_check_available
from videogen_nb.widgets import ComparisonGrid

pytestmark = pytest.mark.skipif(not spec_check_available(), reason="needs PyAV")


async def test_mismatch_is_flagged_in_table_grid_report_and_dataframe(
    make_sandbox, make_client, tmp_path
):
    # the sandbox renders half the asked duration on purpose, so the mismatch is real
    sandbox = make_sandbox(wrong_duration=True)
    client = make_client(sandbox)
    run = client.run([small(duration=2), small(prompt="<b>bold</b>", duration=2)])
    await run

    result = run.results[0]
    findings = result.spec["findings"]
    assert any("asked 2 s, got 1.0 s" in f for f in findings), findings

    assert "⚠" in table_html(run) and "asked 2 s, got 1.0 s" in table_html(run)

    grid = ComparisonGrid(run.results)
    captions = [dict(cell["caption"]) for cell in grid.cells]
    assert all("asked 2 s, got 1.0 s" in caption["spec"] for caption in captions)

    assert "asked 2 s, got 1.0 s" in result_html(result)
    assert "asked 2 s, got 1.0 s" in render_report(run.results, embed=False, base_dir=tmp_path)

    frame = run.to_dataframe()
    assert list(frame["spec_ok"]) == [False, False]
    assert frame["measured_duration"].tolist() == pytest.approx([1.0, 1.0], abs=0.15)


async def test_matching_video_has_no_flag(make_sandbox, make_client):
    client = make_client(make_sandbox())
    run = client.run([small(duration=1)])
    await run
    assert run.results[0].spec["findings"] == []
    assert "⚠" not in table_html(run)
    assert "spec" not in dict(ComparisonGrid(run.results).cells[0]["caption"])
