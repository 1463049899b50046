"""compare's params: the baseline's settings, the gate's range, and what the classes rule out, before any work."""

from __future__ import annotations

import pytest

from schemas import ParamsError, validate_params


def params_with(params_data: dict, **sections) -> dict:
    return params_data | {k: params_data.get(k, {}) | v for k, v in sections.items()}


def test_a_two_class_only_solver_with_three_declared_classes_fails_at_load(params_data):
    data = params_with(params_data, label={"classes": ["negative", "neutral", "positive"]})
    data["compare"]["baseline"]["classifier"]["solver"] = "liblinear"
    data["audit"]["classifier"]["solver"] = "liblinear"
    with pytest.raises(ParamsError) as err:
        validate_params(data)
    assert "compare.baseline.classifier.solver: 'liblinear' fits two classes only, and there are 3" in str(err.value)
    assert "audit.classifier.solver: 'liblinear' fits two classes only" in str(err.value)
    assert "use lbfgs or saga" in str(err.value)


def test_liblinear_is_fine_with_two_classes(params_data):
    data = params_with(params_data)
    data["compare"]["baseline"]["classifier"]["solver"] = "liblinear"
    assert validate_params(data).compare.baseline.classifier.solver == "liblinear"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"gate": {"metric": "macro_f1", "minimum": 1.5}}, r"compare\.gate\.minimum: macro_f1 lies between 0 and 1"),
        ({"gate": {"metric": "mcc", "minimum": -2}}, r"compare\.gate\.minimum: mcc lies between -1 and 1"),
        (
            {"baseline": {"classifier": {"solver": "newton-cholesky"}}},
            r"compare\.baseline\.classifier\.solver: Input should be 'lbfgs', 'saga', 'sag', 'newton-cg' or 'lib",
        ),
        (
            {"baseline": {"features": {"word_ngrams": None, "char_ngrams": None}}},
            r"compare\.baseline\.features: word_ngrams and char_ngrams are both null",
        ),
        ({"baseline": {"features": {"char_ngrams": [5, 2]}}}, r"char_ngrams must be \[min, max\] with 1 <= min <= max"),
        ({"baseline": {"features": {"token_pattern": "(a)(b)"}}}, r"token_pattern: may hold at most one capturing"),
        ({"baseline": {"features": {"token_pattern": "(["}}}, r"token_pattern: '\(\[' is not a valid regular"),
        ({"baseline": {"classifier": {"c": 0}}}, r"compare\.baseline\.classifier\.c: Input should be greater than 0"),
    ],
)
def test_bad_compare_settings_fail_at_load_naming_the_key(params_data, change, message):
    with pytest.raises(ParamsError, match=message):
        validate_params(params_data | {"compare": change})


def test_a_gate_within_range_is_accepted(params_data):
    params = validate_params(params_data | {"compare": {"gate": {"metric": "mcc", "minimum": -0.5}}})
    assert params.compare.gate.minimum == -0.5
