"""SteadyTraffic, the chaos runs' sender, on a real broker: every row it records is on the topic, keyed by
its card, at about the rate asked, with nothing left unflushed."""

from __future__ import annotations

import random

import pytest

from fraudstream.settings import Settings
from fraudstream.streaming.testkit import consume, end_offsets
from fraudstream.testing.chaos import SteadyTraffic, fresh_cards

pytestmark = pytest.mark.integration


def test_every_row_sent_is_on_the_topic(isolated_topics: Settings) -> None:
    settings = isolated_topics
    cards = fresh_cards(5, random.Random(1))
    traffic = SteadyTraffic(settings, cards, rate=100, n=60, prefix="st", seed=2)
    traffic.start()
    traffic.join(timeout=60)
    assert not traffic.is_alive() and traffic.unflushed == 0
    assert [r.tid for r in traffic.rows] == traffic.tids == [f"st-{i:07d}" for i in range(60)]
    assert {r.cc_num for r in traffic.rows} <= set(cards)
    assert sum(end_offsets(settings, settings.topic_transactions).values()) == 60
    on_topic = consume(settings, settings.topic_transactions, lambda records: len(records) >= 60, timeout=60)
    assert {(r["key"], r["value"]["tid"]) for r in on_topic} == {(r.cc_num, r.tid) for r in traffic.rows}
    span = max(traffic.sent_at.values()) - min(traffic.sent_at.values())
    assert span >= 59 / 100 * 0.9  # paced, not a burst
