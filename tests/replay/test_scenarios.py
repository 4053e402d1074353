"""The built-in scenarios, the scenario file format and its validation errors."""

from __future__ import annotations

import json

import pytest
import yaml

from fraudstream.replay.scenario_file import ScenarioError, load_scenario_file, parse_offset, scenario_to_dict
from fraudstream.replay.scenarios import BUILTIN_SCENARIOS, builtin_scenario, expected_window_counts


def test_every_builtin_scenario_is_valid_and_has_an_attack() -> None:
    for name in ("seed-article", "card-testing", "burst", "slow-drip"):
        scenario = builtin_scenario(name)
        assert scenario.name == name
        assert scenario.attack_count > 0
        assert all(card.has_history for card in scenario.cards), "every scenario card needs a week of history"


def test_seed_article_matches_the_article() -> None:
    scenario = builtin_scenario("seed-article")
    normal = [t for t in scenario.transactions if not t.is_fraud]
    attack = [t for t in scenario.transactions if t.is_fraud]
    assert len(normal) == 3 and len({t.card for t in normal}) == 3
    assert len(attack) == 10 and {t.card for t in attack} == {"victim"}
    assert max(t.at for t in normal) < min(t.at for t in attack), "the ordinary transactions come first"
    gaps = [b.at - a.at for a, b in zip(attack, attack[1:], strict=False)]
    assert all(1.0 <= g <= 2.0 for g in gaps)
    counts = expected_window_counts(scenario)
    assert [c for c, t in zip(counts, scenario.transactions, strict=True) if t.is_fraud] == list(range(1, 11))
    assert [c for c, t in zip(counts, scenario.transactions, strict=True) if not t.is_fraud] == [1, 1, 1]


def test_slow_drip_stays_under_the_window_and_burst_does_not() -> None:
    assert set(expected_window_counts(builtin_scenario("slow-drip"))) == {1}
    burst = builtin_scenario("burst")
    counts = [c for c, t in zip(expected_window_counts(burst), burst.transactions, strict=True) if t.is_fraud]
    assert counts == list(range(1, 9))


def test_card_testing_probes_then_large_amounts() -> None:
    attack = [t for t in builtin_scenario("card-testing").transactions if t.is_fraud]
    probes, large = attack[:3], attack[3:]
    assert all(t.amount < 1.01 for t in probes) and all(t.amount > 1000 for t in large)


def test_unknown_builtin_names_the_valid_ones() -> None:
    with pytest.raises(KeyError, match="seed-article"):
        builtin_scenario("nope")


def test_window_counts_include_equal_times_and_the_edge() -> None:
    from fraudstream.replay.scenario_file import scenario_from_dict

    doc = {
        "name": "edges",
        "cards": [{"alias": "a"}],
        "transactions": [
            {"card": "a", "amount": 1, "at": 0},
            {"card": "a", "amount": 1, "at": "10m"},  # exactly 10 minutes later: still in the window
            {"card": "a", "amount": 1, "at": 600.001},  # 1 ms past the first one's window edge
        ],
    }
    assert expected_window_counts(scenario_from_dict(doc)) == [1, 2, 2]


@pytest.mark.parametrize(
    ("text", "seconds"), [(3, 3.0), (1.5, 1.5), ("90s", 90.0), ("2m30s", 150.0), ("1h", 3600.0), ("500ms", 0.5)]
)
def test_parse_offset(text: object, seconds: float) -> None:
    assert parse_offset(text) == pytest.approx(seconds)


@pytest.mark.parametrize("bad", ["soon", "2x", True, None])
def test_parse_offset_rejects(bad: object) -> None:
    with pytest.raises(ValueError):
        parse_offset(bad)


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_file_round_trip(tmp_path, suffix: str) -> None:
    original = builtin_scenario("card-testing")
    doc = scenario_to_dict(original)
    path = tmp_path / f"s{suffix}"
    path.write_text(json.dumps(doc) if suffix == ".json" else yaml.safe_dump(doc))
    loaded = load_scenario_file(path)
    assert loaded == original


def _write(tmp_path, doc: dict) -> object:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


BASE = {"name": "x", "cards": [{"alias": "a", "num_trans_last_1w": 10, "avg_amt_last_1w": 50.0}]}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"transactions": [{"card": "b", "amount": 5, "at": 0}]}, "card 'b', which is not declared"),
        ({"transactions": [{"card": "a", "amount": -5, "at": 0}]}, "transactions.0.amount"),
        ({"transactions": [{"card": "a", "amount": 5, "at": -1}]}, "cannot be negative"),
        ({"transactions": [{"card": "a", "amount": 5, "at": "later"}]}, "cannot read 'later' as a duration"),
        ({"transactions": [{"card": "a", "amount": 5, "at": 0, "colour": "red"}]}, "transactions.0.colour"),
        ({"cards": [{"alias": "a", "cc_num": "1234"}], "transactions": [{"card": "a", "amount": 1, "at": 0}]},
         "16-digit"),
        ({"cards": [{"alias": "a", "num_trans_last_1w": 3}], "transactions": [{"card": "a", "amount": 1, "at": 0}]},
         "both num_trans_last_1w and avg_amt_last_1w"),
        ({"cards": [{"alias": "a"}, {"alias": "a"}], "transactions": [{"card": "a", "amount": 1, "at": 0}]},
         "repeated"),
        ({"transactions": []}, "transactions"),
    ],
)  # fmt: skip
def test_bad_files_say_where_and_why(tmp_path, change: dict, message: str) -> None:
    path = _write(tmp_path, {**BASE, **change})
    with pytest.raises(ScenarioError) as err:
        load_scenario_file(path)
    assert message in str(err.value)
    assert str(path) in str(err.value)


def test_unparseable_and_missing_files(tmp_path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(ScenarioError, match="cannot parse"):
        load_scenario_file(broken)
    with pytest.raises(ScenarioError, match="not found"):
        load_scenario_file(tmp_path / "absent.yaml")
    listed = tmp_path / "list.yaml"
    listed.write_text("- 1\n- 2\n")
    with pytest.raises(ScenarioError, match="must be a mapping"):
        load_scenario_file(listed)


def test_library_names_are_the_cli_names() -> None:
    assert set(BUILTIN_SCENARIOS) >= {"seed-article", "card-testing", "burst", "slow-drip"}


def test_example_scenario_file_in_the_repo_loads() -> None:
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "data" / "scenarios" / "example-attack.yaml"
    scenario = load_scenario_file(path)
    assert scenario.attack_count == 5 and len(scenario.cards) == 2
