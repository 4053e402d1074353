"""Synthetic card transactions with known fraud: the anchor's recipe (``seed``) or a ``rich`` variant."""

from fraudstream.generator.attacks import ATTACK_KINDS
from fraudstream.generator.config import PROFILES, GeneratorConfig
from fraudstream.generator.files import read_table, read_transactions, write_transactions
from fraudstream.generator.recipe import STEPS, generate, generate_table
from fraudstream.generator.table import COLUMNS, TRANSACTION_SCHEMA

__all__ = [
    "ATTACK_KINDS",
    "COLUMNS",
    "PROFILES",
    "STEPS",
    "TRANSACTION_SCHEMA",
    "GeneratorConfig",
    "generate",
    "generate_table",
    "read_table",
    "read_transactions",
    "write_transactions",
]
