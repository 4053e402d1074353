"""Kafka's murmur2 partitioner, checked against the vectors of Kafka's own UtilsTest."""

import pytest

from fraudstream.stack.partitioning import murmur2, partition_for_key


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("21", -973932308),
        ("foobar", -790332482),
        ("a-little-bit-long-string", -985981536),
        ("a-little-bit-longer-string", -1486304829),
        ("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971),
        ("abc", 479470107),
    ],
)
def test_murmur2_matches_java(text: str, expected: int) -> None:
    assert murmur2(text.encode()) == expected


def test_partition_is_in_range_and_stable() -> None:
    keys = [f"4{i:015d}" for i in range(200)]
    parts = [partition_for_key(k, 4) for k in keys]
    assert all(0 <= p < 4 for p in parts)
    assert set(parts) == {0, 1, 2, 3}  # 200 keys spread over every partition
    assert parts == [partition_for_key(k.encode(), 4) for k in keys]
