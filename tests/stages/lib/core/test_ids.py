"""Row-id keys and the sorted-id check: each defined once in stages/lib/core/ids.py."""

from __future__ import annotations

import ast
import hashlib
from pathlib import Path

import pyarrow as pa
import pytest

from stages.lib.core.exceptions import StageError
from stages.lib.core.ids import (
    SEP,
    augmented_key,
    check_sorted_ids,
    content_key,
    copy_key,
    ids_increase,
    row_id,
    source_id_key,
)

REPO = Path(__file__).resolve().parents[4]


def _blake(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def test_row_id_keys_keep_their_bytes():
    """Every row id of the committed data was made from these strings: a change would rename every row."""
    assert SEP == "\x1f"
    assert row_id("s", source_id_key("7")) == _blake("s\x1fid:7")
    assert row_id("s", content_key("hi", "ham", 2)) == _blake("s\x1ftext:hi\x1flabel:ham\x1f2")
    assert row_id("s", augmented_key("ab", "eda+swap", "t")) == _blake("s\x1faug\x1fab\x1feda+swap\x1ft")
    assert row_id("s", copy_key("ab", 1)) == _blake("s\x1fcopy\x1fab\x1f1")


def test_no_row_id_key_is_spelled_outside_ids():
    """The unit separator and the `id:` prefix of a row key appear in stages/ only in ids.py."""
    offenders = []
    for path in sorted((REPO / "stages").rglob("*.py")):
        if path.name == "ids.py" and path.parent.name == "core":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            text = node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None
            if text is not None and (text in ("\x1f", "id:") or text.startswith(("copy\x1f", "aug\x1f"))):
                offenders.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert offenders == []


@pytest.mark.parametrize("ids", [["a", "b", "c"], pa.array(["a", "b", "c"]), pa.chunked_array([["a"], ["b", "c"]])])
def test_sorted_ids_pass_and_give_the_last(ids):
    assert ids_increase(ids)
    assert check_sorted_ids(ids, None, "rows.parquet") == "c"
    assert check_sorted_ids(ids, "0", "rows.parquet") == "c"
    assert check_sorted_ids(pa.array([], pa.string()), "c", "rows.parquet") == "c"


@pytest.mark.parametrize(
    ("ids", "after"), [(["a", "a"], None), (["b", "a"], None), (["b", "c"], "b"), (pa.array(["c", "d"]), "x")]
)
def test_unsorted_or_repeated_ids_fail_naming_the_file(ids, after):
    assert not ids_increase(ids) or after is not None
    with pytest.raises(StageError, match=r"rows\.parquet is not sorted by unique id; .* rerun it"):
        check_sorted_ids(ids, after, "rows.parquet")
