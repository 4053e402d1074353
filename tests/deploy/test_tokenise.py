"""Keyed-HMAC tokenisation of card numbers (fraudstream.tokenise, issue 19): deterministic per key,
format-preserving (16 digits), never a valid card number, idempotent, off by default."""

from __future__ import annotations

import pytest

from fraudstream import tokenise as tk

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))
CARDS = ["4111111111111111", "5555555555554444", "4000056655665556", "6011111111111117"]


def test_cards_of_the_fixture_are_valid_card_numbers():
    assert all(tk.luhn_valid(card) for card in CARDS)
    assert tk.luhn_valid("79927398713") and not tk.luhn_valid("79927398710")


def test_token_is_deterministic_sixteen_digits_and_fails_luhn():
    tokeniser = tk.Tokeniser(KEY)
    for card in CARDS:
        token = tokeniser(card)
        assert token == tokeniser(card) == tk.token_for(card, KEY)
        assert len(token) == 16 and token.isdigit() and token != card
        assert not tk.luhn_valid(token) and tk.is_token(token)


def test_tokenising_a_token_returns_it_unchanged():
    tokeniser = tk.Tokeniser(KEY)
    tokens = tokeniser.many(CARDS)
    assert tokeniser.many(tokens) == tokens


def test_the_key_decides_the_token():
    assert tk.Tokeniser(KEY).many(CARDS) != tk.Tokeniser(OTHER_KEY).many(CARDS)


def test_no_collisions_on_twenty_thousand_cards():
    cards = [f"4000{i:011d}" for i in range(20_000)]
    cards = [c + str(tk.luhn_check_digit(c)) for c in cards]  # valid card numbers
    assert len(set(tk.Tokeniser(KEY).many(cards))) == len(cards)


def test_off_is_the_identity():
    off = tk.Tokeniser(None)
    assert not off.enabled
    assert off.many(CARDS) == CARDS


def test_settings_from_the_environment(monkeypatch, tmp_path):
    tk.get_tokeniser.cache_clear()
    monkeypatch.delenv(tk.KEY_ENV, raising=False)
    monkeypatch.delenv(tk.KEY_FILE_ENV, raising=False)
    try:
        assert tk.tokenise(CARDS[0]) == CARDS[0]
        tk.get_tokeniser.cache_clear()
        monkeypatch.setenv(tk.KEY_ENV, KEY.hex())
        assert tk.tokenise(CARDS[0]) == tk.token_for(CARDS[0], KEY)
        assert tk.tokenise_many(CARDS) == tk.Tokeniser(KEY).many(CARDS)
        tk.get_tokeniser.cache_clear()
        monkeypatch.delenv(tk.KEY_ENV)
        key_file = tmp_path / "key"
        key_file.write_text(OTHER_KEY.hex() + "\n")
        monkeypatch.setenv(tk.KEY_FILE_ENV, str(key_file))
        assert tk.tokenise(CARDS[0]) == tk.token_for(CARDS[0], OTHER_KEY)
    finally:
        tk.get_tokeniser.cache_clear()


@pytest.mark.parametrize("value", ["00" * 16 + "zz", "abcd", "00" * 8])
def test_malformed_or_short_keys_are_refused(value):
    with pytest.raises(ValueError):
        tk.TokeniseSettings(cc_token_key=value).key()


def test_non_card_input_is_an_error_not_a_leak():
    with pytest.raises(ValueError):
        tk.Tokeniser(KEY)("4111-1111-1111-1111")
