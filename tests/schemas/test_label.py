"""label params: defaults validate, every cross-field mistake is reported by dotted path with its fix."""

from __future__ import annotations

import pytest

from schemas import ParamsError, load_params, validate_params

INGEST = {"sources": {"s": {"path": "data/raw/x.csv", "format": "csv"}}}


def params(label: dict) -> dict:
    return {"ingest": INGEST, "label": label}


def test_committed_params_and_defaults_validate():
    p = load_params("params.yaml")
    assert p.label.classes == ["ham", "spam"] and p.label.imports == []
    assert validate_params({"ingest": INGEST}).label.source_labels == "annotator"


def test_alias_to_unknown_class_is_reported():
    with pytest.raises(
        ParamsError,
        match=r"label: aliases must map to one of classes \['ham', 'spam'\]; "
        r"not a class: \['1 -> spma'\]",
    ):
        validate_params(params({"classes": ["ham", "spam"], "aliases": {"0": "ham", "1": "spma"}}))


def test_repeated_classes_and_import_names():
    with pytest.raises(ParamsError, match=r"label.classes: .*classes must be unique; repeated: \['ham'\]"):
        validate_params(params({"classes": ["ham", "ham", "spam"]}))
    imp = {"name": "a", "path": "data/annotations/a.json", "format": "label_studio"}
    with pytest.raises(ParamsError, match=r"import names must be unique; repeated: \['a'\]"):
        validate_params(params({"classes": ["x", "y"], "imports": [imp, imp]}))


def test_import_checks_name_the_fix():
    def bad(**kw):
        imp = {"name": "a", "path": "data/annotations/a.json", "format": "label_studio", **kw}
        with pytest.raises(ParamsError) as err:
            validate_params(params({"classes": ["x", "y"], "imports": [imp]}))
        return str(err.value)

    assert "label.imports[0]: join: field needs both `key`" in bad(join="field")
    assert "`reject_label` only applies to format prodigy" in bad(reject_label="x")
    assert "`annotator_field` only applies to formats csv and jsonl" in bad(annotator_field="who")
    assert "label.imports[0].path: escapes the repository; put exports in data/annotations/" in bad(
        path="../elsewhere/a.json"
    )
    assert "label.imports[0].format: Input should be 'label_studio'" in bad(format="labelstudio")
    assert "set `question` (e.g. sentiment)" in bad(format="label_studio_csv")
    assert "unknown key; did you mean 'join'?" in bad(joins="id")


def test_tie_break_class_order_needs_classes():
    with pytest.raises(ParamsError, match="tie_break: class_order needs `classes`"):
        validate_params(params({"tie_break": "class_order"}))


def test_enums_and_ranges():
    with pytest.raises(ParamsError) as err:
        validate_params(params({"aggregation": "vote", "source_labels": "only", "max_reject_fraction": 2}))
    text = str(err.value)
    assert "3 problems" in text and "label.aggregation" in text and "label.source_labels" in text
    assert "label.max_reject_fraction" in text
