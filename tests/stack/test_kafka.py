"""A keyed record goes through the real broker and lands on the partition its key maps to."""

import pytest

from fraudstream.kafka_clients import consumer_config, producer_config
from fraudstream.settings import Settings
from fraudstream.stack.partitioning import partition_for_key

pytestmark = pytest.mark.integration


def test_keyed_records_land_on_murmur2_partition(isolated_topics: Settings) -> None:
    from confluent_kafka import Consumer, Producer

    settings = isolated_topics
    topic = settings.topic_transactions
    cards = [f"4{n:015d}" for n in (11, 2222, 333333, 44444444, 5555555555, 666666666666)]
    producer = Producer(producer_config(settings))
    delivered: dict[str, int] = {}

    def on_delivery(err, msg) -> None:
        assert err is None, err
        delivered[msg.key().decode()] = msg.partition()

    for cc_num in cards:
        producer.produce(topic, key=cc_num, value=f'{{"cc_num": "{cc_num}"}}', on_delivery=on_delivery)
    assert producer.flush(30) == 0

    expected = {cc: partition_for_key(cc, settings.partitions) for cc in cards}
    assert delivered == expected
    assert len(set(expected.values())) > 1  # the keys really spread over partitions

    consumer = Consumer(consumer_config("stack-test", settings))
    consumer.subscribe([topic])
    received: dict[str, tuple[int, str]] = {}
    try:
        for _ in range(120):
            msg = consumer.poll(0.5)
            if msg is None:
                if len(received) == len(cards):
                    break
                continue
            assert msg.error() is None, msg.error()
            received[msg.key().decode()] = (msg.partition(), msg.value().decode())
            if len(received) == len(cards):
                break
    finally:
        consumer.close()
    assert {cc: part for cc, (part, _) in received.items()} == expected
    assert received[cards[0]][1] == f'{{"cc_num": "{cards[0]}"}}'
