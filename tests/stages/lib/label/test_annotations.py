"""Annotation readers on broken exports: a malformed record is one reject, a broken file one clear error."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from schemas.label import LabelImport
from stages.lib.core.errors import StageError
from stages.lib.label.annotations import read_import


def read(tmp_path: Path, fmt: str, content: str | bytes, name: str = "export.json", **kw: Any):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    imp = LabelImport(name="imp", path=name, format=fmt, **kw)
    return list(read_import(imp, tmp_path))


def problems(annotations) -> list[tuple[str | None, list[str]]]:
    return [(a.problem, a.labels) for a in annotations]


def ls_task(result: Any, text: str = "hello") -> dict[str, Any]:
    return {"id": 1, "data": {"text": text}, "annotations": [{"completed_by": 1, "result": result}]}


@pytest.mark.parametrize(
    "result",
    [
        "spam",  # `result` a bare string
        ["spam"],  # a result item that is not an object
        [{"type": "choices", "from_name": "label", "value": "spam"}],  # `value` a bare string
        [{"type": "choices", "from_name": "label", "value": {"choices": "spam"}}],  # a string where a list belongs
    ],
    ids=["result-string", "result-item-string", "value-string", "choices-string"],
)
def test_label_studio_bare_strings_are_malformed_rejects(tmp_path, result):
    good = ls_task([{"type": "choices", "from_name": "label", "value": {"choices": ["ham"]}}], "fine")
    out = read(tmp_path, "label_studio", json.dumps([ls_task(result), good]))
    assert problems(out) == [("malformed", []), (None, ["ham"])]
    assert out[0].detail and "must be" in out[0].detail


def test_label_studio_annotations_that_are_not_a_list(tmp_path):
    out = read(tmp_path, "label_studio", json.dumps([{"data": {"text": "x"}, "annotations": "oops"}]))
    assert problems(out) == [("malformed", [])]


@pytest.mark.parametrize(
    "record",
    [
        {"id": "a", "fields": {"text": "x"}, "responses": "spam"},
        {"id": "a", "fields": {"text": "x"}, "responses": {"label": "spam"}},
        {"id": "a", "fields": {"text": "x"}, "responses": {"label": ["spam"]}},
        {"id": "a", "fields": "x", "responses": {"label": [{"value": "spam", "user_id": "u"}]}},
    ],
    ids=["responses-string", "question-string", "response-string", "fields-string"],
)
def test_argilla_bare_strings_are_malformed_rejects(tmp_path, record):
    good = {"id": "b", "fields": {"text": "y"}, "responses": {"label": [{"value": "ham", "user_id": "u"}]}}
    out = read(tmp_path, "argilla", json.dumps([record, good]), question="label")
    assert problems(out) == [("malformed", []), (None, ["ham"])]


def test_argilla_datasets_response_string_is_not_read_letter_by_letter(tmp_path):
    rows = [{"text": "x", "label.responses": "spam"}, {"text": "y", "label.responses": ["ham"]}]
    out = read(tmp_path, "argilla_datasets", "\n".join(json.dumps(r) for r in rows), name="rows.jsonl")
    assert problems(out) == [("malformed", []), (None, ["ham"])]


def test_doccano_label_string_and_undecodable_byte_are_malformed_rejects(tmp_path):
    lines = [
        b'{"text": "a", "label": "spam"}',
        b'{"text": "b\xff", "label": ["spam"]}',
        b'{"text": "c", "label": ["ham"]}',
    ]
    out = read(tmp_path, "doccano", b"\n".join(lines) + b"\n", name="alice.jsonl")
    assert problems(out) == [("malformed", []), ("malformed", []), (None, ["ham"])]
    assert "\\xff" in out[1].raw


def test_prodigy_choice_accept_string_is_malformed(tmp_path):
    lines = [
        {"text": "a", "options": [{"id": "spam"}], "accept": "spam", "answer": "accept"},
        {"text": "b", "options": [{"id": "ham"}], "accept": ["ham"], "answer": "accept"},
    ]
    out = read(tmp_path, "prodigy", "\n".join(json.dumps(x) for x in lines), name="db.jsonl")
    assert problems(out) == [("malformed", []), (None, ["ham"])]


def test_labels_share_ingest_normalisation(tmp_path):
    """1.0 is class '1' and NaN a missing label, exactly as ingest reads them."""
    lines = ['{"text": "a", "label": 1.0}', '{"text": "b", "label": NaN}', '{"text": "c", "label": true}']
    out = read(tmp_path, "jsonl", "\n".join(lines), name="plain.jsonl")
    assert problems(out) == [(None, ["1"]), ("no_label", []), (None, ["true"])]


def test_plain_csv_bad_byte_and_oversized_field_are_one_reject_each(tmp_path):
    content = b"text,label\nok,spam\nbad\xff,ham\n" + b"x" * 200_000 + b",ham\nfine,ham\n"
    out = read(tmp_path, "csv", content, name="plain.csv")
    assert problems(out) == [(None, ["spam"]), ("malformed", []), ("malformed", []), (None, ["ham"])]


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("\ufeff".encode("utf-16-le") + json.dumps([ls_task([])]).encode("utf-16-le"), "looks like UTF-16"),
        (b'[{"data": {"text": "\xff"}}]', "is not valid UTF-8"),
        (b"[" * 100_000 + b"]" * 100_000, "is not valid JSON"),
    ],
    ids=["utf16", "bad-byte", "too-deep"],
)
def test_broken_json_export_is_one_stage_error(tmp_path, content, match):
    with pytest.raises(StageError, match=match):
        read(tmp_path, "label_studio", content)


def test_csv_export_with_a_repeated_column_name_fails_naming_it(tmp_path):
    with pytest.raises(StageError, match=r"repeats column name\(s\) \['label'\]"):
        read(tmp_path, "csv", "text,label,label\nhello,spam,ham\n", name="plain.csv")
