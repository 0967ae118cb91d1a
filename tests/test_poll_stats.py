"""``run.poll_stats()`` explains the polls of a real run, and what one client learned
reaches the next through the journal (issue 13)."""

from __future__ import annotations

from tests.support import small


async def test_poll_stats_show_gets_lag_and_reasons(make_sandbox, make_client):
    sandbox = make_sandbox(task_seconds=0.4)
    client = make_client(sandbox)
    run = client.run([small(f"stats {i}") for i in range(3)])
    await run
    assert run.counts["done"] == 3
    stats = run.poll_stats()
    assert [s["task_id"] for s in stats] == [row.task.id for row in run.rows]
    gets = sandbox.stats(include_tasks=False)["requests"]
    served = sum(v for k, v in gets.items() if k.startswith("GET ") and "{task_id}" in k)
    assert sum(s["gets"] for s in stats) == served
    for s in stats:
        assert s["gets"] >= 1
        assert (s["lag_bound_s"] is not None and s["lag_bound_s"] >= 0) or s["gets"] == 1
        assert sum(s["reasons"].values()) == len(s["decisions"]) >= 1
        assert all(isinstance(reason, str) and reason for reason in s["reasons"])


async def test_durations_learned_in_one_client_time_the_next(make_sandbox, make_client):
    sandbox = make_sandbox(task_seconds=0.3)
    first = make_client(sandbox)
    await first.run([small(f"teach {i}") for i in range(4)])
    assert first.scheduler.pace("kling-v1").samples >= 4  # the batch learned as it went
    second = make_client(sandbox)  # a new kernel on the same journal
    pace = second.scheduler.pace("kling-v1")
    assert pace.samples >= 4
    assert pace.quantile(0.5) is not None and 0.2 <= pace.quantile(0.5) <= 5.0
