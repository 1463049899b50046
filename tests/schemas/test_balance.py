"""balance params (schemas/balance.py): sampling_strategy checked against the sampler kind."""

from __future__ import annotations

from pathlib import Path

import pytest

from schemas import ParamsError, load_params, validate_params

INGEST = {"sources": {"s": {"path": "data/raw/x.csv", "format": "csv"}}}


def check(balance: dict) -> None:
    validate_params({"ingest": INGEST, "balance": balance})


def test_committed_params_write_every_balance_field() -> None:
    import yaml

    params = load_params("params.yaml")
    written = yaml.safe_load(Path("params.yaml").read_text())["balance"]
    assert set(written) == set(type(params.balance).model_fields)
    assert set(written["features"]) == set(type(params.balance.features).model_fields)
    assert set(written["synthetic"]) == set(type(params.balance.synthetic).model_fields)


@pytest.mark.parametrize(
    "balance",
    [
        {},
        {"strategy": "random_over", "sampling_strategy": 0.5},
        {"strategy": "random_over", "sampling_strategy": "not majority"},
        {"strategy": "random_under", "sampling_strategy": {"ham": 100}},
        {"strategy": "tomek_links", "sampling_strategy": ["ham"]},
        {"strategy": "class_weights", "class_weights": "balanced"},
        {"strategy": "class_weights", "class_weights": {"ham": 1.0, "spam": 3.0}},
        {"strategy": "synthetic", "synthetic": {"operations": [{"kind": "char_noise"}]}},
    ],
)
def test_valid_balance_params(balance: dict) -> None:
    check(balance)


@pytest.mark.parametrize(
    ("balance", "message"),
    [
        ({"strategy": "tomek_links", "sampling_strategy": 0.5},
         r"balance.sampling_strategy: a float does not apply to cleaning sampler 'tomek_links'; give a list"),
        ({"strategy": "random_over", "sampling_strategy": 1.5},
         r"balance.sampling_strategy: a float is the minority/majority ratio wanted .*, in \(0, 1\]; got 1.5"),
        ({"strategy": "random_under", "sampling_strategy": "minority"},
         r"balance.sampling_strategy: 'minority' is not valid for under-sampler 'random_under'; use one of \['auto', "),
        ({"strategy": "edited_nearest_neighbours", "sampling_strategy": {"ham": 3}},
         r"balance.sampling_strategy: a dict does not apply to cleaning sampler"),
        ({"strategy": "random_over", "sampling_strategy": ["spam"]},
         r"balance.sampling_strategy: a list applies only to cleaning samplers, not 'random_over'"),
        ({"strategy": "none", "sampling_strategy": "minority"},
         r"balance.sampling_strategy: applies only to resampling strategies, not 'none'"),
        ({"strategy": "class_weights"}, r"balance: strategy 'class_weights' needs class_weights set"),
        ({"class_weights": {"ham": 0.0}}, r"balance.class_weights: weights must be > 0"),
        ({"strategy": "synthetic"}, r"strategy 'synthetic' needs balance.synthetic.operations"),
        ({"strategy": "smote"}, r"balance.strategy: Input should be 'none', 'class_weights'"),
        ({"strategy": "random_over", "sampling_strategy": {"ham": -1}}, r"counts must be >= 0"),
    ],
)  # fmt: skip
def test_bad_balance_params_say_the_fix(balance: dict, message: str) -> None:
    with pytest.raises(ParamsError, match=message):
        check(balance)
