"""What to generate: the anchor's recipe parameters, validated once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Literal

Profile = Literal["seed", "rich"]
PROFILES: tuple[str, ...] = ("seed", "rich")

MIN_CHAIN, MAX_CHAIN = 3, 10
"""Every attack is a chain of 3-10 transactions on one card."""


def as_utc(value: datetime | date | str) -> datetime:
    """A date, datetime or ISO text as an aware UTC datetime (dates mean midnight UTC)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value.strip())
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclass(frozen=True)
class GeneratorConfig:
    """Defaults reproduce the anchor: 10,000 cards, 5.4M transactions over 2020-01..05, 0.25% fraud."""

    cards: int = 10_000
    transactions: int = 5_400_000
    start: datetime | date | str = datetime(2020, 1, 1, tzinfo=UTC)
    end: datetime | date | str = datetime(2020, 6, 1, tzinfo=UTC)
    fraud_ratio: float = 0.0025
    seed: int = 123
    profile: Profile = "seed"

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", as_utc(self.start))
        object.__setattr__(self, "end", as_utc(self.end))
        if self.cards < 1:
            raise ValueError(f"cards must be at least 1, got {self.cards}")
        if self.transactions < 1:
            raise ValueError(f"transactions must be at least 1, got {self.transactions}")
        if self.end <= self.start:
            raise ValueError(f"end {self.end:%Y-%m-%d} must be after start {self.start:%Y-%m-%d}")
        if not 0.0 <= self.fraud_ratio < 1.0:
            raise ValueError(f"fraud ratio must be in [0, 1), got {self.fraud_ratio}")
        if self.profile not in PROFILES:
            raise ValueError(f"profile must be one of {PROFILES}, got {self.profile!r}")
        if self.seed < 0:
            raise ValueError(f"seed must be non-negative, got {self.seed}")
        n_fraud = self.fraud_rows
        if 0 < n_fraud < MIN_CHAIN:
            raise ValueError(
                f"fraud ratio {self.fraud_ratio} gives {n_fraud} fraud rows; an attack needs at least {MIN_CHAIN}"
            )

    @property
    def fraud_rows(self) -> int:
        """Number of fraud rows: the requested share of all rows, rounded."""
        return round(self.transactions * self.fraud_ratio)

    @property
    def start_ms(self) -> int:
        return _epoch_ms(self.start)  # type: ignore[arg-type]

    @property
    def end_ms(self) -> int:
        return _epoch_ms(self.end)  # type: ignore[arg-type]


def _epoch_ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)
