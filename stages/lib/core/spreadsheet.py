"""Spreadsheet-safe CSV cells: the one neutralisation of formula injection, and its exact inverse.

A spreadsheet (Excel, LibreOffice Calc, Google Sheets) runs a CSV cell that
begins with `=`, `+`, `-`, `@`, TAB or CR as a formula (OWASP "CSV
Injection"; ASVS 1.2.10 adds NUL): `=HYPERLINK(...)` or `=cmd|' /C calc'!A0`
in a text that came from untrusted data runs on the annotator's machine.
As OWASP recommends, such a cell is written with a single quote in front,
which spreadsheets read as "this is text" and do not show. The full-width
forms (`＝＋－＠`) are treated the same, since some locales turn them into
formulas too. A plain number (`-1`, `+0.5`, `1e-3`) cannot run and stays as
is, so numeric labels remain readable.

The quote is reversible: a cell that already begins with quotes followed by a
trigger character gets one more quote, so `restore(neutralise(s)) == s` for
every string, and `restore` on a cell a spreadsheet saved back without the
quote (`=x` shown as text and written out as `=x`) leaves it unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

TRIGGERS = "=+-@\t\r\0＝＋－＠"
# Cells that need (or, with one quote more, carry) the text marker: quotes, then a trigger character.
_ESCAPED = re.compile("'+[" + re.escape(TRIGGERS) + "]")
_NEEDS = re.compile("'*[" + re.escape(TRIGGERS) + "]")
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def neutralise(cell: Any) -> Any:
    """The cell as a spreadsheet shows it as text: a leading `'` where it would otherwise be a formula.

    Non-strings (numbers, None) are returned unchanged.
    """
    if not isinstance(cell, str) or not _NEEDS.match(cell) or _NUMBER.fullmatch(cell):
        return cell
    return "'" + cell


def restore(cell: Any) -> Any:
    """The text `neutralise` was given: one leading `'` removed where it guards a trigger character."""
    if isinstance(cell, str) and _ESCAPED.match(cell):
        return cell[1:]
    return cell


def neutralise_row(cells: Iterable[Any]) -> list[Any]:
    """Every cell of a CSV row through `neutralise`."""
    return [neutralise(c) for c in cells]


def neutralise_table(table: Any) -> Any:
    """A pyarrow Table with every string column's cells through `neutralise` (for `pyarrow.csv.write_csv`)."""
    import pyarrow as pa

    columns = []
    for column in table.columns:
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            column = pa.array([neutralise(v) for v in column.to_pylist()], type=column.type)
        columns.append(column)
    return pa.Table.from_arrays(columns, schema=table.schema)
