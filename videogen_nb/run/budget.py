"""The money guard: ``max_cost`` per run and per client.

Before launch, ``check_launch`` refuses a plan whose estimate is over what is left of the
limit (nothing is sent). While a run works, ``RunBudget`` counts what each accepted task
costs (the gateway's reported cost once it says, the estimate until then) and refuses the
next submit that would pass the limit; tasks already accepted are followed and downloaded
as usual, since they are paid for anyway.

A task whose price is unknown counts only once its gateway reports a cost: the guard cannot
count what nobody knows, and the plan says how many such tasks a run has.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from typing import Protocol

from ..core.cost import Cost, format_cost
from ..core.errors import BudgetExceededError, SubmitOutcomeUnknownError, ValidationError
from ..core.request import VideoRequest
from ..core.task import Task
from ..store.changes import Since
from ..store.journal import Journal
from ..store.prices import PriceTable
from ..store.query import journal_spent
from .plan import RunPlan, estimate_request

__all__ = [
    "Limit",
    "RunBudget",
    "SpendingSource",
    "check_launch",
    "check_max_cost",
    "client_spent",
    "effective_limit",
]

#: below this, two sums of money are the same (float sums of cents)
_EPSILON = 1e-9


def _money(amount: float, currency: str) -> str:
    return format_cost(
        Cost(amount=max(0.0, amount), currency=currency, source="reported", basis="")
    )


def check_max_cost(value: float | None, name: str = "max_cost") -> float | None:
    """``value`` as a limit in money, or a ``ValidationError`` naming ``name``."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValidationError(name, f"must be an amount of money such as 5.0, got {value!r}")
    if value < 0:
        raise ValidationError(name, f"must be 0 or more, got {value!r}")
    return float(value)


class Limit:
    """The limit that applies to one run: the money it may still spend and why.

    ``run_max_cost`` is the run's own ``max_cost``; ``client_max_cost`` the client's, of
    which ``spent`` is already spent (the journal's reported costs plus estimates).
    """

    def __init__(
        self, *, run_max_cost: float | None, client_max_cost: float | None, spent: float
    ) -> None:
        self.run_max_cost = run_max_cost
        self.client_max_cost = client_max_cost
        self.spent = spent
        left = None if client_max_cost is None else max(0.0, client_max_cost - spent)
        if run_max_cost is not None and (left is None or run_max_cost <= left):
            self.amount: float | None = run_max_cost
            self.by_client = False
        else:
            self.amount = left
            self.by_client = left is not None

    def source(self, currency: str) -> str | None:
        """Which ``max_cost`` set the limit, in words."""
        if self.amount is None:
            return None
        if self.by_client:
            assert self.client_max_cost is not None
            return (
                f"left of the client's max_cost={self.client_max_cost:g}, "
                f"{_money(self.spent, currency)} already spent"
            )
        return f"this run's max_cost={self.run_max_cost:g}"

    def how_to_raise(self, needed: float) -> str:
        """What to pass to allow ``needed`` more."""
        if self.by_client:
            assert self.client_max_cost is not None
            wanted = self.spent + needed
            return f"raise the client's limit: client.max_cost = {_round_up(wanted):g} (or more)"
        return f"pass max_cost={_round_up(needed):g} (or more) to allow it"


def _round_up(amount: float) -> float:
    return math.ceil(amount * 100 - _EPSILON) / 100


def effective_limit(
    *, run_max_cost: float | None, client_max_cost: float | None, spent: float
) -> Limit:
    """The limit a run works under (see ``Limit``)."""
    return Limit(run_max_cost=run_max_cost, client_max_cost=client_max_cost, spent=spent)


def client_spent(journal: Journal | None, *, gateway: str, since: Since) -> float:
    """What a client has spent at ``gateway`` since ``since``: the journal's reported costs
    plus estimates for sent tasks that reported nothing (0 without a journal)."""
    if journal is None:
        return 0.0
    return journal_spent(journal, gateway=gateway, since=since).total


def check_launch(plan: RunPlan, limit: Limit) -> None:
    """Refuse (``BudgetExceededError``) a plan whose estimate is over the limit."""
    if limit.amount is None or plan.total is None or plan.total <= limit.amount + _EPSILON:
        return
    currency = plan.currency
    spread = ""
    if plan.low is not None and plan.high is not None and plan.high - plan.low > _EPSILON:
        spread = f" (range {_money(plan.low, currency)}-{_money(plan.high, currency)})"
    unknown = f"; {plan.unknown} more with unknown price" if plan.unknown else ""
    raise BudgetExceededError(
        f"this run of {plan.tasks} tasks is estimated at "
        f"{format_cost(Cost(amount=plan.total, currency=currency, source='estimated', basis=''))}"
        f"{spread}{unknown}, more than the limit of {_money(limit.amount, currency)} "
        f"({limit.source(currency)}); nothing was sent. {limit.how_to_raise(plan.total)}",
        estimate=plan.total,
        limit=limit.amount,
        spent=limit.spent,
        currency=currency,
    )


class SpendingSource(Protocol):
    """What the guard reads from a client: its ``max_cost`` (settable, read at each submit)
    and what it has ``spent`` so far (from the journal)."""

    @property
    def max_cost(self) -> float | None: ...

    @property
    def spent(self) -> float: ...


def _over(spent: float, amount: float | None, limit: float) -> bool:
    """True when ``limit`` is reached, or ``amount`` more would pass it."""
    return spent >= limit - _EPSILON or spent + (amount or 0.0) > limit + _EPSILON


class RunBudget:
    """The money guard of one run, asked before each submit (on the run's loop).

    Two limits apply: the run's ``max_cost`` against what this run has committed (each
    accepted task's reported cost, its estimate until the gateway reports one), and the
    client's ``max_cost`` against what the client has spent (its journal, where every run of
    the client records its tasks, so runs started side by side share one limit). A journal
    disabled (``journal=None``) leaves only this run's own count.
    """

    def __init__(
        self,
        *,
        run_max_cost: float | None,
        client: SpendingSource | None = None,
        currency: str = "USD",
        table: PriceTable | None = None,
        journal: bool = True,
    ) -> None:
        #: this run's own limit (None: none); may be raised while the run works
        self.run_max_cost = run_max_cost
        self.currency = currency
        self._client = client
        self._table = table
        self._journal = journal
        #: row index -> the money counted for it (reported cost, else the estimate)
        self._committed: dict[int, float] = {}

    @property
    def committed(self) -> float:
        """The money this run has committed so far (reported costs plus estimates)."""
        return sum(self._committed.values())

    def _refusal(self, amount: float | None) -> BudgetExceededError | None:
        """The error refusing a task of ``amount`` more, or None when it may go."""
        committed = self.committed
        if self.run_max_cost is not None and _over(committed, amount, self.run_max_cost):
            limit = Limit(run_max_cost=self.run_max_cost, client_max_cost=None, spent=0.0)
            return self._error(limit, committed, amount, "this run has committed")
        client_max = self._client.max_cost if self._client is not None else None
        if client_max is None:
            return None
        spent = self._client.spent if self._client is not None and self._journal else committed
        if _over(spent, amount, client_max):
            limit = Limit(run_max_cost=None, client_max_cost=client_max, spent=spent)
            return self._error(limit, spent, amount, "the client has spent")
        return None

    def _error(
        self, limit: Limit, spent: float, amount: float | None, what: str
    ) -> BudgetExceededError:
        currency = self.currency
        cap = limit.client_max_cost if limit.by_client else limit.run_max_cost
        assert cap is not None
        next_cost = "price unknown" if amount is None else f"~{_money(amount, currency)}"
        which = "the client's" if limit.by_client else "this run's"
        needed = _round_up(spent + (amount or 0.0))
        raise_it = (
            f"raise the limit (client.max_cost = {needed:g} or more)"
            if limit.by_client
            else f"raise the limit (run.budget.run_max_cost = {needed:g} or more)"
        )
        return BudgetExceededError(
            f"not sent: {what} {_money(spent, currency)} (reported costs plus estimates) of "
            f"{which} max_cost={cap:g}; this task ({next_cost}) would pass it. Tasks already "
            f"accepted are still followed and downloaded. To go on, {raise_it} and "
            "run.retry(i) the rows stopped.",
            estimate=amount,
            limit=cap,
            spent=spent,
            currency=currency,
        )

    def admit(self, index: int, request: VideoRequest) -> None:
        """Count row ``index`` as committed at its estimate, or refuse it
        (``BudgetExceededError``) when a limit is reached or it would pass one."""
        self._committed.pop(index, None)
        cost = estimate_request(request, self._table).cost
        amount = cost.amount if cost is not None and cost.currency == self.currency else None
        error = self._refusal(amount)
        if error is not None:
            raise error
        self._committed[index] = amount or 0.0

    @contextlib.contextmanager
    def sending(self, index: int, request: VideoRequest) -> Iterator[None]:
        """Hold row ``index``'s place in the budget while its POST is sent: given back when
        the gateway refused it (nothing was made), kept when it was accepted or when the
        outcome is unknown (it may have been made, and billed)."""
        self.admit(index, request)
        try:
            yield
        except SubmitOutcomeUnknownError:
            raise
        except BaseException:
            self._committed.pop(index, None)
            raise

    def observe(self, index: int, task: Task) -> None:
        """Count the cost the gateway reported for row ``index``'s task, once it does."""
        cost = task.cost
        if cost is None or index not in self._committed or cost.currency != self.currency:
            return
        self._committed[index] = cost.amount
