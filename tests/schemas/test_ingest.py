"""ingest.sources: a mapping keyed by name, format defaults, options checked against the format, and the
cross-section checks (class names, data folders)."""

from __future__ import annotations

import subprocess
import sys
import warnings

import pytest
import yaml

from schemas import ParamsError, validate_params
from schemas.ingest import IngestParams, ParamsWarning

from ..conftest import REPO


def test_a_csv_source_needs_only_its_fields():
    cfg = IngestParams.model_validate(
        {"sources": {"tickets": {"path": "data/raw/t.csv", "format": "csv", "text_field": "body", "label_field": "y"}}}
    )
    source = cfg.sources["tickets"]
    assert source.name == "tickets"  # from the key
    assert (source.delimiter, source.quoting, source.header, source.pattern) == (",", "minimal", True, None)
    tsv = IngestParams.model_validate({"sources": {"s": {"path": "data/raw/t.tsv", "format": "tsv"}}}).sources["s"]
    assert tsv.delimiter == "\t"


def test_an_option_the_format_does_not_read_is_an_error(params_data):
    params_data["ingest"]["sources"]["sms_spam"]["pattern"] = "*.txt"
    with pytest.raises(ParamsError, match=r"ingest\.sources\.sms_spam: format tsv does not read `pattern` "):
        validate_params(params_data)


def test_the_old_list_layout_says_how_to_rewrite_it(params_data):
    params_data["ingest"]["sources"] = [{"name": "sms", "path": "data/raw/x.csv", "format": "csv"}]
    with pytest.raises(ParamsError, match=r"ingest\.sources is a mapping from a name to a source, not a list"):
        validate_params(params_data)


def test_text_field_may_list_several_columns(params_data):
    params_data["ingest"]["sources"]["sms_spam"]["text_field"] = ["label", "text"]
    assert validate_params(params_data).ingest.sources["sms_spam"].text_fields == ["label", "text"]
    params_data["ingest"]["sources"]["sms_spam"]["text_field"] = ["text", "subject"]
    with pytest.raises(ParamsError, match=r"text_field \['subject'\] not in columns"):
        validate_params(params_data)


def test_class_names_outside_label_classes_are_rejected(params_data):
    params_data["label"]["classes"] = ["billing", "bug", "other"]
    params_data["augment"]["per_class"] = {"spam": 1.0}
    params_data["balance"]["class_weights"] = {"billing": 1.0, "bugs": 2.0}
    with pytest.raises(ParamsError) as info:
        validate_params(params_data)
    assert info.value.problems == [
        "augment.per_class.spam: 'spam' is not one of label.classes ['billing', 'bug', 'other']; fix the name or "
        "add the class",
        "balance.class_weights.bugs: 'bugs' is not one of label.classes ['billing', 'bug', 'other']; fix the name "
        "or add the class",
    ]


def test_a_source_outside_the_data_folders_is_rejected(params_data):
    params_data["ingest"]["sources"]["mine"] = {"path": "exports/tickets.csv", "format": "csv"}
    with pytest.raises(ParamsError, match=r"ingest\.sources\.mine\.path: exports/tickets\.csv is outside data/raw"):
        validate_params(params_data)


def test_a_delimiter_contradicting_the_format_warns(params_data, tmp_path):
    params_data["ingest"]["sources"]["sms_spam"]["format"] = "csv"  # delimiter stays TAB
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        validate_params(params_data)
    assert any(issubclass(w.category, ParamsWarning) and "did you mean format tsv" in str(w.message) for w in caught)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params_data, sort_keys=False))
    done = subprocess.run([sys.executable, "-m", "schemas", str(path)], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0
    assert "warning: ingest.sources.sms_spam.delimiter: '\\t' with format csv; did you mean format tsv" in done.stderr
