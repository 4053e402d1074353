"""Card numbers: distinct 16-digit Visa numbers from a seeded Faker (the only Faker use; it is slow)."""

from __future__ import annotations

import numpy as np
from faker import Faker

CC_NUM_WIDTH = 16


def card_numbers(count: int, seed: int) -> np.ndarray:
    """``count`` distinct Visa numbers as a fixed-width bytes array (dtype ``S16``), in draw order."""
    faker = Faker()
    faker.seed_instance(seed)
    seen: set[str] = set()
    numbers: list[str] = []
    attempts = 0
    while len(numbers) < count:
        attempts += 1
        if attempts > 20 * count + 1000:
            raise RuntimeError(f"could not draw {count} distinct card numbers")
        number = faker.credit_card_number(card_type="visa16")
        if number not in seen:
            seen.add(number)
            numbers.append(number)
    return np.array(numbers, dtype=f"S{CC_NUM_WIDTH}")
