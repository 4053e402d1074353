"""Attack scenarios as data: cards, their 1-week history, transactions at relative times, labels.

A scenario is independent of wall-clock time: every transaction carries ``at``, its offset from
the scenario start. The runner re-bases the offsets to now (or ``--at TIME``). Scenarios load
from JSON or YAML files and are validated by pydantic so a typo gives a message naming the field.

Cards are named by an ``alias``. A card without an explicit ``cc_num`` gets a fresh 16-digit
number for every run, so that re-running a scenario never finds the previous run's transactions
in the card's 10-minute window (which would shift every count).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from fraudstream.messages import CC_NUM_RULE

MAX_AMOUNT = 1_000_000.0
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")


class ScenarioError(ValueError):
    """A scenario that cannot be used, with a message that says where and why."""


def parse_offset(value: Any) -> float:
    """Seconds from a number or a duration string such as ``"90s"``, ``"2m30s"``, ``"1h"``, ``"500ms"``."""
    if isinstance(value, bool):
        raise ValueError("a time offset must be a number of seconds or a duration like '2m30s'")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        text = value.strip().replace(" ", "")
        try:
            return float(text)
        except ValueError:
            pass
        parts = _DURATION_PART.findall(text)
        if not parts or "".join(n + u for n, u in parts) != text:
            raise ValueError(f"cannot read {value!r} as a duration (examples: 1.5, '90s', '2m30s', '1h', '500ms')")
        scale = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
        return sum(float(n) * scale[u] for n, u in parts)
    raise ValueError(f"cannot read {value!r} as a time offset")


class ScenarioCard(BaseModel):
    """A card of the scenario and the 1-week history the online store should hold for it."""

    model_config = ConfigDict(extra="forbid")

    alias: Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_.-]+$")]
    cc_num: str | None = None
    num_trans_last_1w: Annotated[int, Field(ge=1)] | None = None
    avg_amt_last_1w: Annotated[float, Field(gt=0, le=MAX_AMOUNT)] | None = None
    description: str = ""

    @field_validator("cc_num")
    @classmethod
    def _sixteen_digits(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(CC_NUM_RULE.pattern or "", value):
            raise ValueError(f"cc_num must be {CC_NUM_RULE.expected}: {CC_NUM_RULE.pattern_message(value)}")
        return value

    @model_validator(mode="after")
    def _history_both_or_neither(self) -> ScenarioCard:
        if (self.num_trans_last_1w is None) != (self.avg_amt_last_1w is None):
            raise ValueError(
                f"card {self.alias!r}: give both num_trans_last_1w and avg_amt_last_1w (a week of history) or neither"
            )
        return self

    @property
    def has_history(self) -> bool:
        return self.num_trans_last_1w is not None


class ScenarioTransaction(BaseModel):
    """One transaction: which card, how much, when (seconds after the start) and its true label."""

    model_config = ConfigDict(extra="forbid")

    card: str
    amount: Annotated[float, Field(gt=0, le=MAX_AMOUNT)]
    at: float
    is_fraud: bool = False
    note: str = ""

    @field_validator("at", mode="before")
    @classmethod
    def _offset(cls, value: Any) -> float:
        seconds = parse_offset(value)
        if seconds < 0:
            raise ValueError(f"a time offset cannot be negative, got {value!r}")
        return seconds

    @field_validator("amount")
    @classmethod
    def _cents(cls, value: float) -> float:
        return round(value, 2)


class Scenario(BaseModel):
    """A named sequence of transactions on a few cards, with labels saying which are the attack."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=60)]
    description: str = ""
    cards: Annotated[list[ScenarioCard], Field(min_length=1)]
    transactions: Annotated[list[ScenarioTransaction], Field(min_length=1)]

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        aliases = [c.alias for c in self.cards]
        duplicates = sorted({a for a in aliases if aliases.count(a) > 1})
        if duplicates:
            raise ValueError(f"card aliases must be unique; repeated: {duplicates}")
        numbers = [c.cc_num for c in self.cards if c.cc_num]
        if len(numbers) != len(set(numbers)):
            raise ValueError("two cards share the same cc_num")
        known = set(aliases)
        for i, tx in enumerate(self.transactions):
            if tx.card not in known:
                raise ValueError(f"transactions[{i}] uses card {tx.card!r}, which is not declared (cards: {aliases})")
        # keep the declared order for equal offsets; the runner sends in time order
        self.transactions = sorted(self.transactions, key=lambda t: t.at)
        return self

    @property
    def duration_s(self) -> float:
        return self.transactions[-1].at

    @property
    def attack_count(self) -> int:
        return sum(1 for t in self.transactions if t.is_fraud)

    def card(self, alias: str) -> ScenarioCard:
        return next(c for c in self.cards if c.alias == alias)


def _format_validation_error(source: str, error: ValidationError) -> str:
    lines = [f"invalid scenario {source}:"]
    for item in error.errors():
        where = ".".join(str(p) for p in item["loc"]) or "(top level)"
        lines.append(f"  - {where}: {item['msg']}")
    return "\n".join(lines)


def scenario_from_dict(data: Any, source: str = "<dict>") -> Scenario:
    """Validate a parsed document; raises ``ScenarioError`` listing every problem with its location."""
    if not isinstance(data, dict):
        raise ScenarioError(f"invalid scenario {source}: the top level must be a mapping, got {type(data).__name__}")
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(_format_validation_error(source, exc)) from None


def load_scenario_file(path: str | Path) -> Scenario:
    """Read a JSON (``.json``) or YAML (``.yaml``/``.yml``, or anything else) scenario file."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise ScenarioError(f"scenario file not found: {path}")
    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise ScenarioError(f"cannot parse scenario file {path}: {exc}") from None
    return scenario_from_dict(data, str(path))


def scenario_to_dict(scenario: Scenario) -> dict[str, Any]:
    """The JSON/YAML document form of a scenario (what ``load_scenario_file`` reads back)."""
    return scenario.model_dump(mode="json", exclude_defaults=True)
