"""Turn a scenario (relative times, card aliases) into concrete transactions to send.

A plan fixes everything the runner needs: each transaction's ``tid``, card number, event time
and the wall-clock offset at which to send it. Event times are the wall clock shifted
to the scenario's start; scenario cards are fresh, so no card of a replay has earlier history on
the stream, and per-card lateness cannot touch them.
"""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

from fraudstream.replay.scenario_file import Scenario
from fraudstream.replay.scenarios import expected_window_counts
from fraudstream.tokenise import tokenise

Role = Literal["normal", "attack"]
Pacing = Literal["realtime", "asap"]

SCENARIO_CARD_PREFIX = "4000"
"""Scenario cards start with 4000 (a Visa test range), so they are easy to spot in the store."""


@dataclass(frozen=True)
class PlannedTransaction:
    """One transaction to send: identity, event time, when to send it, and what it is."""

    index: int
    tid: str
    cc_num: str
    card: str  # alias (scenario) or card number (live traffic)
    amount: float
    event_time: datetime
    send_offset_s: float  # wall seconds after the replay's start
    role: Role
    expected_count: int | None = None
    note: str = ""

    def __post_init__(self) -> None:
        """The edge: a planned card number is sent (and reported) as its token when tokenisation
        is on; live traffic names its card by number, so that name is tokenised too."""
        token = tokenise(self.cc_num)
        if self.card == self.cc_num:
            object.__setattr__(self, "card", token)
        object.__setattr__(self, "cc_num", token)


@dataclass(frozen=True)
class CardHistory:
    """1-week features to seed into ``cc-agg-batch-fg`` for a scenario card."""

    cc_num: str
    alias: str
    num_trans_last_1w: int
    avg_amt_last_1w: float


@dataclass
class ReplayPlan:
    """Everything to send for one replay, plus the histories to seed first."""

    name: str
    run_id: str
    transactions: list[PlannedTransaction]
    histories: list[CardHistory] = field(default_factory=list)
    card_numbers: dict[str, str] = field(default_factory=dict)

    @property
    def duration_s(self) -> float:
        return max((t.send_offset_s for t in self.transactions), default=0.0)


def new_run_id() -> str:
    """Short unique id of one replay run (part of every tid it sends)."""
    return datetime.now(UTC).strftime("%H%M%S") + secrets.token_hex(3)


def fresh_card_number(rng: random.Random) -> str:
    """A new 16-digit card number in the scenario range (``4000`` + 12 random digits)."""
    return SCENARIO_CARD_PREFIX + f"{rng.randrange(10**12):012d}"


def plan_scenario(
    scenario: Scenario,
    base_time: datetime,
    pacing: Pacing = "realtime",
    run_id: str | None = None,
    rng: random.Random | None = None,
) -> ReplayPlan:
    """Concrete transactions of ``scenario`` with event times ``base_time + at``.

    ``realtime`` sends each transaction ``at`` seconds after the start (event time follows the
    wall clock); ``asap`` sends them back to back (for ``--at`` in the past, or long scenarios).
    """
    run_id = run_id or new_run_id()
    rng = rng or random.Random()
    base_time = base_time.astimezone(UTC)
    numbers: dict[str, str] = {}
    for card in scenario.cards:
        numbers[card.alias] = card.cc_num or fresh_card_number(rng)
        while card.cc_num is None and list(numbers.values()).count(numbers[card.alias]) > 1:
            numbers[card.alias] = fresh_card_number(rng)
    numbers = {alias: tokenise(number) for alias, number in numbers.items()}  # histories and sends agree
    expected = expected_window_counts(scenario)
    txs = [
        PlannedTransaction(
            index=i,
            tid=f"rp-{scenario.name}-{run_id}-{i:03d}",
            cc_num=numbers[tx.card],
            card=tx.card,
            amount=tx.amount,
            event_time=base_time + timedelta(seconds=tx.at),
            send_offset_s=tx.at if pacing == "realtime" else 0.0,
            role="attack" if tx.is_fraud else "normal",
            expected_count=expected[i],
            note=tx.note,
        )
        for i, tx in enumerate(scenario.transactions)
    ]
    histories = [
        CardHistory(numbers[c.alias], c.alias, c.num_trans_last_1w, c.avg_amt_last_1w)
        for c in scenario.cards
        if c.num_trans_last_1w is not None and c.avg_amt_last_1w is not None
    ]
    return ReplayPlan(scenario.name, run_id, txs, histories, numbers)
