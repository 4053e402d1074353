"""Optional tokenisation of card numbers at the edge, with a keyed HMAC (issue 19).

For users who feed real card numbers: with ``FRAUDSTREAM_CC_TOKEN_KEY`` (or
``FRAUDSTREAM_CC_TOKEN_KEY_FILE``) set, every place where a card number *enters* the system replaces
it with ``token(cc_num) = HMAC-SHA256(key, cc_num)`` rendered as 16 digits. The card number is then
never in a topic, a dead letter, a table key, a log line or a training set; only the token is.
Unset (the default), :func:`tokenise` returns its input, so nothing changes.

Why it still joins: the token is deterministic for a key, so the streaming job's per-card window,
the online feature groups, the nightly batch features and the training set all see the same
identifier for the same card, as long as *every* entry point applies the same setting. Hence one
function and one setting, read the same way by every component.

Format-preserving on purpose: a token is a 16-digit string like the ``cc_num`` of the contract
(DESIGN.md), so schemas, validation and partitioning are unchanged. A token always *fails* the
Luhn check, which real card numbers pass: a token can never be mistaken for a card number by a
scanner, and tokenising a token returns it unchanged (idempotent), so a record that crosses two
edges (a replay of produced data, say) is not tokenised twice. Consequently a 16-digit input that
already fails Luhn (not a real card number) passes through unchanged.

Collisions: tokens carry log10(9e15) ~ 15.95 digits, so n cards collide with probability about
n^2 / 1.8e16 (1e-4 at one million cards, 0.5 % at ten million). A collision merges two cards'
features; the key must be at least 32 random bytes and is a secret: whoever holds it can test
guesses of card numbers against tokens.

At the edge (:meth:`Tokeniser.at_edge`, used by the producer, the replay, the batch reader and
``featurestore get``), a value that is *not* a 16-digit card number is not passed through either:
it is replaced by a keyed digest (``redacted:<16 hex>``) that still fails validation. The record is
rejected exactly as it would be without a key (so every entry point agrees on what is valid), but
the dead letter never carries a malformed card number (``4111-1111-...``) in clear.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from fraudstream.messages import CC_NUM_RULE

if TYPE_CHECKING:
    import pyarrow as pa

KEY_ENV = "FRAUDSTREAM_CC_TOKEN_KEY"
KEY_FILE_ENV = "FRAUDSTREAM_CC_TOKEN_KEY_FILE"
MIN_KEY_BYTES = 32
_DOMAIN = b"fraudstream/cc-token/v1\x00"  # versioned: a new scheme never reproduces old tokens
_REDACT_DOMAIN = b"fraudstream/cc-redacted/v1\x00"  # malformed values: a different digest, never a token
REDACTED_PREFIX = "redacted:"
MEMO_LIMIT = 1_000_000  # remembered tokens per process (cards repeat: 10,000 cards, 5.4M transactions)
CARD_NUMBER = re.compile(CC_NUM_RULE.pattern or "")  # the contract's card-number rule (messages)
DIGIT_RUN = re.compile(r"(?<![0-9])[0-9]{12,19}(?![0-9])")


class TokeniseSettings(BaseSettings):
    """The tokenisation setting: a hex key, or a file that holds one (e.g. a mounted secret)."""

    model_config = SettingsConfigDict(env_prefix="FRAUDSTREAM_", extra="ignore")

    cc_token_key: SecretStr | None = None
    cc_token_key_file: Path | None = None

    def key(self) -> bytes | None:
        """The key bytes, or None when tokenisation is off; ValueError for a malformed key."""
        if self.cc_token_key is not None and self.cc_token_key_file is not None:
            raise ValueError(f"set {KEY_ENV} or {KEY_FILE_ENV}, not both")
        if self.cc_token_key_file is not None:
            text = self.cc_token_key_file.read_text().strip()
        elif self.cc_token_key is not None:
            text = self.cc_token_key.get_secret_value().strip()
        else:
            return None
        if not text:
            return None
        try:
            key = bytes.fromhex(text)
        except ValueError as exc:
            raise ValueError(f"{KEY_ENV} must be hex (e.g. `openssl rand -hex 32`)") from exc
        if len(key) < MIN_KEY_BYTES:
            raise ValueError(f"{KEY_ENV} must hold at least {MIN_KEY_BYTES} bytes ({2 * MIN_KEY_BYTES} hex digits)")
        return key


def luhn_check_digit(digits: str) -> int:
    """The Luhn check digit that makes ``digits + check`` valid."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 0:  # doubled: these are the odd positions once the check digit is appended
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return (10 - total % 10) % 10


def luhn_valid(number: str) -> bool:
    return len(number) > 1 and number.isdigit() and luhn_check_digit(number[:-1]) == int(number[-1])


def is_token(value: str) -> bool:
    """A 16-digit string that fails Luhn: a token (or anyway not a real card number)."""
    return len(value) == 16 and value.isdigit() and not luhn_valid(value)


def token_for(cc_num: str, key: bytes) -> str:
    """The token of one card number under ``key`` (pure; no pass-through rules)."""
    if not (cc_num.isdigit() and 12 <= len(cc_num) <= 19):
        raise ValueError(f"not a card number (12-19 digits): {len(cc_num)} characters")
    digest = hmac.new(key, _DOMAIN + cc_num.encode(), hashlib.sha256).digest()
    body = f"{int.from_bytes(digest[:16], 'big') % 10**15:015d}"
    valid = luhn_check_digit(body)
    wrong = [d for d in range(10) if d != valid]  # nine check digits that make the token fail Luhn
    return body + str(wrong[int.from_bytes(digest[16:24], "big") % 9])


class Tokeniser:
    """``tokeniser(cc_num)`` -> the token (or ``cc_num`` itself when tokenisation is off)."""

    def __init__(self, key: bytes | None) -> None:
        if key is not None and len(key) < MIN_KEY_BYTES:
            raise ValueError(f"tokenisation key must hold at least {MIN_KEY_BYTES} bytes")
        self._key = key
        self._memo: dict[str, str] = {}

    @property
    def enabled(self) -> bool:
        return self._key is not None

    def __call__(self, cc_num: str) -> str:
        if self._key is None or is_token(cc_num):
            return cc_num
        token = self._memo.get(cc_num)
        if token is None:
            if len(self._memo) >= MEMO_LIMIT:
                self._memo.clear()
            token = self._memo[cc_num] = token_for(cc_num, self._key)
        return token

    def many(self, values: Iterable[str]) -> list[str]:
        """Vectorised form for columns (Arrow/pandas/Spark UDF batches)."""
        if self._key is None:
            return list(values)
        return [self(value) for value in values]

    def at_edge(self, value: Any) -> Any:
        """What enters the system in place of a ``cc_num`` value: the token of a 16-digit number,
        a redacted digest of anything else (still invalid, so still rejected), None as None.
        Off: the value itself."""
        if self._key is None or value is None:
            return value
        if isinstance(value, str) and CARD_NUMBER.fullmatch(value):
            return self(value)
        text = str(value)  # a number or anything else is not a cc_num: rejected, so redacted
        digest = hmac.new(self._key, _REDACT_DOMAIN + text.encode(), hashlib.sha256).hexdigest()
        return REDACTED_PREFIX + digest[:16]

    def many_at_edge(self, values: Iterable[Any]) -> list[Any]:
        """:meth:`at_edge` of each value (a column)."""
        if self._key is None:
            return list(values)
        return [self.at_edge(value) for value in values]

    def json_line(self, text: str) -> str:
        """A JSON-lines record with its ``cc_num`` at the edge form. A line that is not a JSON
        object with a ``cc_num`` (it will be rejected) has its card-like digit runs (12-19
        digits that pass Luhn) tokenised instead, so its dead letter carries no card number."""
        if self._key is None:
            return text
        try:
            record = json.loads(text)
        except ValueError:
            record = None
        if isinstance(record, dict) and "cc_num" in record:
            record["cc_num"] = self.at_edge(record["cc_num"])
            return json.dumps(record)
        return DIGIT_RUN.sub(lambda m: self.at_edge(m[0]) if luhn_valid(m[0]) else m[0], text)


@lru_cache(maxsize=1)
def get_tokeniser() -> Tokeniser:
    """The process-wide tokeniser, from the environment (read once, like ``get_settings``)."""
    return Tokeniser(TokeniseSettings().key())


def tokenise(cc_num: str) -> str:
    """Apply the configured tokenisation to one card number (identity when it is off)."""
    return get_tokeniser()(cc_num)


def tokenise_many(values: Iterable[str]) -> list[str]:
    """Apply the configured tokenisation to a column of card numbers."""
    return get_tokeniser().many(values)


def tokenise_column(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """An Arrow column of card numbers at the edge form (unchanged when tokenisation is off).

    Each distinct value is tokenised once (a batch holds far fewer cards than rows)."""
    tokeniser = get_tokeniser()
    if not tokeniser.enabled:
        return values
    import pyarrow as pa
    import pyarrow.compute as pc

    values = values.cast(pa.string())
    distinct = pc.unique(values)
    edge = pa.array(tokeniser.many_at_edge(distinct.to_pylist()), pa.string())
    return pc.take(edge, pc.index_in(values, value_set=distinct))


def tokenise_table(table: pa.Table, column: str = "cc_num") -> pa.Table:
    """``table`` with its card-number column at the edge form (the same table when off)."""
    if not get_tokeniser().enabled:
        return table
    index = table.schema.get_field_index(column)
    return table.set_column(index, column, tokenise_column(table[column]))


def tokenise_json_line(text: str) -> str:
    """One JSON-lines record at the edge form (see :meth:`Tokeniser.json_line`)."""
    return get_tokeniser().json_line(text)
