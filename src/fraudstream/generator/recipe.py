"""``generate``: the whole recipe, vectorised with numpy; Faker is used only for card numbers.

Each ingredient draws from its own child of one ``SeedSequence``, so the same seed gives the
same rows (and, through ``write_transactions``, the same bytes).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pyarrow as pa

from fraudstream.generator.attacks import ATTACK_KINDS, FraudRows, rich_attacks, seed_attacks
from fraudstream.generator.cards import card_numbers
from fraudstream.generator.compromise import Compromised, compromise
from fraudstream.generator.config import GeneratorConfig
from fraudstream.generator.geography import Geography, draw_geography, merchant_ids
from fraudstream.generator.labels import labelled_at_ms
from fraudstream.generator.profiles import NormalRows, draw_profiles, rich_normal_rows, seed_normal_rows
from fraudstream.generator.table import build_table, to_pandas
from fraudstream.generator.tids import unique_tids

Progress = Callable[[str], None]
"""Called with the name of each step as it starts (drives the CLI progress bar)."""

STEPS: tuple[str, ...] = (
    "card numbers",
    "legitimate traffic",
    "attacks",
    "ordering by time",
    "transaction ids",
    "table",
)


def _streams(config: GeneratorConfig) -> list[np.random.Generator]:
    """One generator per ingredient; the seed profile uses the first four (spawning more leaves them as they were)."""
    return [np.random.default_rng(s) for s in np.random.SeedSequence(config.seed).spawn(8)]


def geography_of(config: GeneratorConfig) -> Geography:
    """The rich profile's card homes and merchants for ``config`` (what ``generate`` uses)."""
    return draw_geography(_streams(config)[4], config.cards, config.merchants, config.merchant_radius)


def generate_table(config: GeneratorConfig, progress: Progress | None = None) -> pa.Table:
    """The generated transactions as an Arrow table sorted by ``trans_time``."""
    if config.profile == "rich":
        return _rich_table(config, progress)
    step = progress or (lambda _name: None)
    normal_rng, fraud_rng, tid_rng, _profile_rng = _streams(config)[:4]

    step(STEPS[0])
    cards = card_numbers(config.cards, config.seed)

    step(STEPS[1])
    n_fraud = config.fraud_rows
    n_normal = config.transactions - n_fraud
    start_ms, end_ms = config.start_ms, config.end_ms
    normal = seed_normal_rows(normal_rng, n_normal, config.cards, start_ms, end_ms)

    step(STEPS[2])
    fraud = seed_attacks(fraud_rng, n_fraud, config.cards, start_ms, end_ms)

    step(STEPS[3])
    times, card_idx, cents, attack_id, attack_kind = _merge_by_time(normal, fraud)

    step(STEPS[4])
    tids = unique_tids(tid_rng, times.size)

    step(STEPS[5])
    return build_table(tids, times, cards[card_idx], cents, attack_id, attack_kind)


def _rich_table(config: GeneratorConfig, progress: Progress | None) -> pa.Table:
    """Rich profile: card habits, merchants near each card, compromises and chains, label delay."""
    step = progress or (lambda _name: None)
    normal_rng, fraud_rng, tid_rng, profile_rng, geo_rng, shop_rng, compromise_rng, label_rng = _streams(config)

    step(STEPS[0])
    cards = card_numbers(config.cards, config.seed)

    step(STEPS[1])
    merchant_budget, card_budget, chain_rows = config.rich_budgets
    start_ms, end_ms = config.start_ms, config.end_ms
    profiles = draw_profiles(profile_rng, config.cards)
    n_normal = config.transactions - chain_rows
    normal = rich_normal_rows(normal_rng, n_normal, profiles, start_ms, end_ms)
    geography = draw_geography(geo_rng, config.cards, config.merchants, config.merchant_radius)
    shops = geography.pick(shop_rng, normal.card_idx)

    step(STEPS[2])
    hit = compromise(
        compromise_rng,
        normal.times_ms,
        normal.card_idx,
        shops,
        normal.cents,
        (merchant_budget, card_budget),
        (ATTACK_KINDS.index("merchant_compromise"), ATTACK_KINDS.index("card_compromise")),
        (start_ms, end_ms),
    )
    fraud = rich_attacks(fraud_rng, chain_rows, profiles, start_ms, end_ms)
    anywhere = shop_rng.integers(0, config.merchants, size=fraud.count).astype(np.int32)  # stolen details: any shop

    step(STEPS[3])
    chains = int(fraud.chain.max()) + 1 if fraud.count else 0
    normal = NormalRows(normal.times_ms, normal.card_idx, hit.cents)
    times, card_idx, cents, attack_id, attack_kind, rows = _merge_by_time(normal, fraud, _offset(hit, chains))
    shop = np.insert(shops, rows, anywhere)
    known = labelled_at_ms(
        label_rng, times, attack_id >= 0, config.fraud_label_delay_days, config.legit_label_delay_days
    )

    step(STEPS[4])
    tids = unique_tids(tid_rng, times.size)

    step(STEPS[5])
    ids = merchant_ids(config.merchants)
    return build_table(tids, times, cards[card_idx], cents, attack_id, attack_kind, ids[shop], known)


def _offset(hit: Compromised, chains: int) -> tuple[np.ndarray, np.ndarray]:
    """Compromise attack ids numbered after the chains' (0..chains-1), so every attack id is unique."""
    return np.where(hit.attack >= 0, hit.attack + chains, -1).astype(np.int32), hit.kind


def generate(config: GeneratorConfig | None = None, progress: Progress | None = None) -> pd.DataFrame:
    """The generated transactions as a DataFrame (columns in ``fraudstream.generator.COLUMNS``)."""
    return to_pandas(generate_table(config or GeneratorConfig(), progress))


def _merge_by_time(normal: NormalRows, fraud: FraudRows, attacks: tuple[np.ndarray, np.ndarray] | None = None) -> tuple:
    """All rows ordered by time: chain rows inserted into the (already sorted) other ones.

    Inserting 0.25% of rows is far cheaper than sorting 5.4M; a chain row goes after other rows
    with the same millisecond, deterministically. ``attacks`` = (attack id, kind) of the other
    rows (-1: legitimate; default all -1). With ``attacks`` given, the insert positions (in
    chain time order) are returned too, to place the chain rows' other columns the same way.
    """
    order = np.argsort(fraud.times_ms, kind="stable")
    at = np.searchsorted(normal.times_ms, fraud.times_ms[order], side="right")
    if attacks is None:
        none = np.full(normal.times_ms.size, -1)
        ids, kinds = none.astype(np.int32), none.astype(np.int8)
    else:
        ids, kinds = attacks
    merged = (
        np.insert(normal.times_ms, at, fraud.times_ms[order]),
        np.insert(normal.card_idx, at, fraud.card_idx[order]),
        np.insert(normal.cents, at, fraud.cents[order]),
        np.insert(ids, at, fraud.chain[order]),
        np.insert(kinds, at, fraud.kind[order]),
    )
    return merged if attacks is None else (*merged, at)
