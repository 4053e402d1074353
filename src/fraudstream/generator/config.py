"""What to generate: the anchor's recipe parameters, validated once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Literal

Profile = Literal["seed", "rich"]
PROFILES: tuple[str, ...] = ("seed", "rich")

MIN_CHAIN, MAX_CHAIN = 3, 10
"""Every chain attack is 3-10 transactions on one card."""
GRID = 100.0
"""Side of the square grid that card homes and merchants are placed on (rich profile)."""
MAX_MERCHANTS = 999_999
"""Merchant ids are ``m-`` and six digits."""


def as_utc(value: datetime | date | str) -> datetime:
    """A date, datetime or ISO text as an aware UTC datetime (dates mean midnight UTC)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value.strip())
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclass(frozen=True)
class GeneratorConfig:
    """Defaults reproduce the anchor: 10,000 cards, 5.4M transactions over 2020-01..05, 0.25% fraud.

    The fields after ``profile`` shape the rich profile only (the seed profile ignores them):
    merchants on a grid and the card's reach, the mix of fraud rows by attack family (the rest
    of ``fraud_rows`` are chains) and the label delay that sets ``labelled_at``.
    """

    cards: int = 10_000
    transactions: int = 5_400_000
    start: datetime | date | str = datetime(2020, 1, 1, tzinfo=UTC)
    end: datetime | date | str = datetime(2020, 6, 1, tzinfo=UTC)
    fraud_ratio: float = 0.0025
    seed: int = 123
    profile: Profile = "seed"
    merchants: int = 10_000
    merchant_radius: float = 5.0
    merchant_compromise_share: float = 0.6
    card_compromise_share: float = 0.2
    fraud_label_delay_days: tuple[float, float] = (1.0, 14.0)
    legit_label_delay_days: float = 7.0

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
        self._check_rich()
        n_fraud = self.fraud_rows
        if 0 < n_fraud < MIN_CHAIN:
            raise ValueError(
                f"fraud ratio {self.fraud_ratio} gives {n_fraud} fraud rows; an attack needs at least {MIN_CHAIN}"
            )

    def _check_rich(self) -> None:
        if not 1 <= self.merchants <= MAX_MERCHANTS:
            raise ValueError(f"merchants must be in [1, {MAX_MERCHANTS:,}], got {self.merchants}")
        if not 0 < self.merchant_radius <= GRID * 1.5:
            raise ValueError(f"merchant radius must be in (0, {GRID * 1.5:g}] grid units, got {self.merchant_radius}")
        shares = (self.merchant_compromise_share, self.card_compromise_share)
        if min(shares) < 0 or sum(shares) > 1:
            raise ValueError(f"compromise shares must be non-negative and sum to at most 1, got {shares}")
        delay = tuple(self.fraud_label_delay_days)
        if len(delay) != 2 or not 0 <= delay[0] <= delay[1]:
            raise ValueError(f"fraud label delay must be (min, max) days with 0 <= min <= max, got {delay}")
        object.__setattr__(self, "fraud_label_delay_days", (float(delay[0]), float(delay[1])))
        if self.legit_label_delay_days < 0:
            raise ValueError(f"legit label delay must be non-negative days, got {self.legit_label_delay_days}")

    @property
    def fraud_rows(self) -> int:
        """Number of fraud rows: the requested share of all rows, rounded."""
        return round(self.transactions * self.fraud_ratio)

    @property
    def rich_budgets(self) -> tuple[int, int, int]:
        """Fraud rows by family in the rich profile: (merchant compromise, card compromise, chains).

        Chains need 0 or at least 3 rows; 1-2 left-over rows go to merchant compromise.
        """
        total = self.fraud_rows
        card = round(total * self.card_compromise_share)
        merchant = min(round(total * self.merchant_compromise_share), total - card)
        chains = total - merchant - card
        if 0 < chains < MIN_CHAIN:
            merchant, chains = merchant + chains, 0
        return merchant, card, chains

    @property
    def start_ms(self) -> int:
        return _epoch_ms(self.start)  # type: ignore[arg-type]

    @property
    def end_ms(self) -> int:
        return _epoch_ms(self.end)  # type: ignore[arg-type]


def _epoch_ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)
