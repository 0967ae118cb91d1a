"""The ``videogen-nb`` command line, run as a real subprocess."""

from __future__ import annotations

import subprocess
import sys

import pytest

import videogen_nb as vg


def cli(*args: str, cwd=None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "videogen_nb.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )


@pytest.fixture(scope="module")
def filled_journal(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cli")
    journal = tmp / "journal.sqlite"
    with (
        vg.sandbox.start(task_seconds=0.2) as sandbox,
        vg.Client(
            sandbox.base_url, sandbox.api_key, journal=journal, output_dir=tmp / "videos"
        ) as client,
    ):
        result = client.generate(
            vg.VideoRequest(model="kling-v1", prompt="a paper boat", duration=1, size="160x90")
        )
    return journal, result


def test_runs_lists_the_journal(filled_journal):
    journal, result = filled_journal
    done = cli("runs", "--journal", str(journal))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split()[:4] == ["id", "when", "model", "state"]
    assert "kling-v1" in lines[1] and "downloaded" in lines[1]
    assert str(result.path) in lines[1]


def test_runs_filters_by_entry_state(filled_journal):
    journal, _ = filled_journal
    done = cli("runs", "--journal", str(journal), "--state", "downloaded", "--state", "sending")
    assert done.returncode == 0, done.stderr
    assert "downloaded" in done.stdout.splitlines()[1]
    pending = cli("runs", "--journal", str(journal), "--state", "submit_unknown")
    assert pending.returncode == 0 and len(pending.stdout.splitlines()) == 1  # header only
    # a state that does not exist is an error naming the real ones, not an empty list
    bad = cli("runs", "--journal", str(journal), "--state", "done")
    assert bad.returncode == 2
    assert "invalid choice: 'done'" in bad.stderr and "timed_out" in bad.stderr


def test_runs_without_a_journal_says_so(tmp_path):
    done = cli("runs", "--journal", str(tmp_path / "missing.sqlite"))
    assert done.returncode == 1
    assert "no journal" in done.stderr


def test_runs_cost_sums_reported_costs_and_says_when_a_price_is_unknown(filled_journal, tmp_path):
    # the default sandbox reports no charge and kling-v1 has no test price: unknown, not $0
    journal, _ = filled_journal
    unknown = cli("runs", "--cost", "--journal", str(journal))
    assert unknown.returncode == 0, unknown.stderr
    assert "price unknown" in unknown.stdout and "$0" not in unknown.stdout
    # a gateway that reports a top-level cost: the figure is reported, per day and model
    path = tmp_path / "paid.sqlite"
    with (
        vg.sandbox.start(task_seconds=0.2, report_cost="cost") as sandbox,
        vg.Client(sandbox.base_url, sandbox.api_key, journal=path, output_dir=tmp_path) as client,
    ):
        result = client.generate(
            vg.VideoRequest(model="kling-v1", prompt="a paper boat", duration=1, size="160x90")
        )
    assert result.task is not None and result.task.cost is not None
    paid = f"${result.task.cost.amount:.2f}"
    done = cli("runs", "--cost", "--journal", str(path))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == [
        "day",
        "model",
        "tasks",
        "reported",
        "estimated",
        "total",
        "price",
        "unknown",
    ]
    assert lines[2].split()[1:] == ["kling-v1", "1", paid, "–", paid, "0"]
    assert lines[4].split() == ["total", "1", paid, "–", paid, "0"]


def test_leaderboard_reads_the_same_journal(filled_journal):
    journal, _ = filled_journal
    done = cli("leaderboard", "--journal", str(journal))
    assert done.returncode == 0, done.stderr
    assert "kling-v1" in done.stdout


def test_resume_with_nothing_unfinished(filled_journal):
    journal, _ = filled_journal
    # the gateway of this journal is gone; nothing is unfinished, so nothing is contacted
    done = cli("resume", "--journal", str(journal), "--base-url", "http://127.0.0.1:9")
    assert done.returncode == 0, done.stderr
    assert "nothing to resume" in done.stdout


def test_sandbox_help_lists_fault_knobs():
    done = cli("sandbox", "--help")
    assert done.returncode == 0
    assert "--task-seconds" in done.stdout


def test_demo_refuses_missing_notebook_dir_cleanly(tmp_path, monkeypatch):
    from videogen_nb import cli as cli_module

    monkeypatch.setattr(cli_module, "NOTEBOOK_DIRS", (tmp_path / "none", tmp_path / "gone"))
    assert cli_module.main(["demo", "--workdir", str(tmp_path / "w"), "--execute"]) == 1


def test_demo_finds_the_notebooks_in_the_package_first(tmp_path, monkeypatch):
    from videogen_nb import cli as cli_module

    installed, checkout = tmp_path / "site" / "notebooks", tmp_path / "repo" / "notebooks"
    for directory in (installed, checkout):
        directory.mkdir(parents=True)
    (checkout / cli_module.QUICKSTART).write_text("{}")
    monkeypatch.setattr(cli_module, "NOTEBOOK_DIRS", (installed, checkout))
    assert cli_module.find_notebook(cli_module.QUICKSTART) == checkout / cli_module.QUICKSTART
    (installed / cli_module.QUICKSTART).write_text("{}")
    assert cli_module.find_notebook(cli_module.QUICKSTART) == installed / cli_module.QUICKSTART
