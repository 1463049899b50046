"""split stage: stratified, grouped, predefined and time splits; leakage caught; the small-class error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from schemas.paths import SplitPaths
from schemas.split import SplitParams
from stages import split as stage
from stages.lib.core.errors import StageError
from stages.lib.split.splitting import fold_plan

LONG = " the quick brown fox jumps over the lazy dog again and again"
WORDS = "apple river stone cloud forest candle mirror garden silver rocket violin harbor".split()  # noqa: SIM905


def text(n: int) -> str:
    """Distinct texts that share no three-word shingle with each other."""
    return f"msg{n} {WORDS[n % len(WORDS)]} w{n * 7} z{n * 13} q{n}"


def labeled_rows(labels: list[str | None], **extra: list[Any]) -> list[dict[str, Any]]:
    rows = []
    for n, lab in enumerate(labels):
        row = {
            "id": f"id{n:04d}",
            "text": text(n),
            "label": lab,
            "source": "s",
            "location": f"s:{n}",
            "text_raw": text(n),
            "dup_cluster": f"id{n:04d}",
            "dup_count": 1,
            "label_agreement": 1.0,
        }
        row |= {k: v[n] for k, v in extra.items()}
        rows.append(row)
    return rows


def split(tmp_path: Path, rows: list[dict[str, Any]], **cfg: Any):
    rows_path = tmp_path / "labeled.parquet"
    pq.write_table(pa.Table.from_pylist(rows), rows_path)
    paths = SplitPaths(dir=str(tmp_path / "split"), metrics=str(tmp_path / "split.json"))
    metrics = stage.run(SplitParams(**cfg), paths, rows_path)
    parts = {
        n: pq.read_table(tmp_path / "split" / f"{n}.parquet").to_pylist()
        for n in ("train", "validation", "test", "unlabeled", "rejects")
    }
    return metrics, parts


def where(parts: dict[str, list[dict[str, Any]]]) -> dict[str, str]:
    return {r["id"]: name for name in ("train", "validation", "test") for r in parts[name]}


def test_stratification_within_tolerance_on_a_skewed_set(tmp_path):
    labels = ["spam" if n % 10 == 0 else "ham" for n in range(300)]  # 10% spam
    metrics, parts = split(tmp_path, labeled_rows(labels), group_by=None)
    assert [metrics["splits"][s]["rows"] for s in ("train", "validation", "test")] == [240, 30, 30]
    for s in ("train", "validation", "test"):
        share = metrics["splits"][s]["classes"]["spam"] / metrics["splits"][s]["rows"]
        assert share == pytest.approx(0.1, abs=0.02), s
        assert all(r["split"] == s for r in parts[s])
    assert metrics["rows_in"] == metrics["rows_out"] == 300 and metrics["leakage"]["exact"] == 0


def test_unstratified_split_can_drift_but_keeps_sizes(tmp_path):
    labels = ["spam" if n % 10 == 0 else "ham" for n in range(300)]
    metrics, _ = split(tmp_path, labeled_rows(labels), group_by=None, stratify=False)
    assert [metrics["splits"][s]["rows"] for s in ("train", "validation", "test")] == [240, 30, 30]


def test_no_group_crosses_splits(tmp_path):
    labels = ["ham", "spam", "ham", "ham"] * 30
    rows = labeled_rows(labels)
    for n, row in enumerate(rows):
        row["dup_cluster"] = f"c{n // 4}"  # 30 clusters of 4 (mixed labels inside: a cluster is not a class)
    # two rows in different clusters with the same text up to case and spacing are grouped too
    rows[5]["text"] = rows[100]["text"].upper() + "  "
    metrics, parts = split(tmp_path, rows)
    got = where(parts)
    for c in range(30):
        assert len({got[f"id{n:04d}"] for n in range(4 * c, 4 * c + 4)}) == 1, f"cluster c{c} crosses splits"
    assert got["id0005"] == got["id0100"]
    assert metrics["groups"] == 29
    assert metrics["leakage"]["exact"] == 0 and metrics["leakage"]["near"] == 0


def planted(tmp_path: Path, action: str):
    labels = ["ham", "spam"] * 10
    splits = ["train"] * 14 + ["validation"] * 3 + ["test"] * 3
    rows = labeled_rows(labels, origin_split=splits)
    rows[18]["text"] = "  " + rows[0]["text"].upper()  # exact (normalised) copy of a train row, in test
    rows[1]["text"] += LONG + " today"
    rows[19]["text"] = rows[1]["text"].replace("today", "tonight")  # 15 of 17 shingles shared: a near copy
    rows[15]["text"] = rows[0]["text"]  # validation copy of train row 0
    return split(tmp_path, rows, method="column", column="origin_split", group_by=None, on_leakage=action)


def test_planted_cross_split_duplicates_caught_and_dropped(tmp_path):
    metrics, parts = planted(tmp_path, "drop_from_test")
    assert metrics["leakage"]["exact"] == 2 and metrics["leakage"]["near"] == 1
    assert metrics["dropped"] == {"leak_exact": 2, "leak_near": 1}
    assert sorted((r["reason"], r["id"]) for r in parts["rejects"]) == [
        ("leak_exact", "id0015"),
        ("leak_exact", "id0018"),
        ("leak_near", "id0019"),
    ]
    assert "duplicates train row id0000" in parts["rejects"][0]["detail"]
    assert len(parts["test"]) == 1 and len(parts["validation"]) == 2
    assert metrics["rows_in"] == metrics["rows_out"] + sum(metrics["dropped"].values())


def test_planted_duplicates_fail_or_warn(tmp_path, caplog):
    with pytest.raises(
        StageError, match=r"3 validation/test rows duplicate a row of an earlier split \(exact 2, near 1\)"
    ):
        planted(tmp_path, "fail")
    metrics, parts = planted(tmp_path, "warn")
    assert len(parts["test"]) == 3 and metrics["leakage"]["remaining"] == 3
    assert "duplicate a row of an earlier split" in caplog.text


def test_near_check_can_be_switched_off(tmp_path):
    labels = ["ham", "spam"] * 10
    rows = labeled_rows(labels, origin_split=["train"] * 14 + ["validation"] * 3 + ["test"] * 3)
    rows[1]["text"] += LONG
    rows[19]["text"] = rows[1]["text"] + " plus"
    metrics, _ = split(tmp_path, rows, method="column", column="origin_split", group_by=None, near_threshold=None)
    assert metrics["leakage"]["near"] == 0
    metrics, _ = split(tmp_path, rows, method="column", column="origin_split", group_by=None)
    assert metrics["leakage"]["near"] == 1


def test_small_class_error_names_class_count_and_options(tmp_path):
    labels = ["ham"] * 40 + ["spam"] * 20 + ["rare"] * 2
    with pytest.raises(StageError) as err:
        split(tmp_path, labeled_rows(labels))
    message = str(err.value)
    assert "class 'rare' has 2 example group(s)" in message and "each of the 3 splits" in message
    assert "label.aliases" in message and "label.classes" in message and "split.fractions.validation: 0" in message
    assert "Traceback" not in message and "sklearn" not in message
    metrics, _ = split(tmp_path, labeled_rows(labels), fractions={"train": 0.5, "validation": 0.0, "test": 0.5})
    assert metrics["splits"]["test"]["classes"]["rare"] == 1 and metrics["splits"]["validation"]["rows"] == 0


def test_unlabeled_rows_always_written(tmp_path):
    labels = ["ham", "spam"] * 15 + [None] * 3
    metrics, parts = split(tmp_path, labeled_rows(labels), group_by=None)
    assert metrics["splits"]["unlabeled"]["rows"] == 3 and {r["split"] for r in parts["unlabeled"]} == {"unlabeled"}
    metrics, parts = split(tmp_path, labeled_rows(labels[:30]), group_by=None)
    assert parts["unlabeled"] == [] and metrics["rows_out"] == 30


def test_time_split_puts_newest_rows_in_test(tmp_path):
    labels = ["ham", "spam"] * 10
    dates = [f"2024-01-{n + 1:02d}" for n in range(20)][::-1]
    metrics, parts = split(tmp_path, labeled_rows(labels, sent=dates), method="time", time_column="sent", group_by=None)
    newest_train = max(r["sent"] for r in parts["train"])
    assert all(r["sent"] > newest_train for r in parts["validation"] + parts["test"])
    assert min(r["sent"] for r in parts["test"]) > max(r["sent"] for r in parts["validation"])
    assert metrics["splits"]["test"]["rows"] == 2


def test_seed_decides_and_outputs_are_byte_identical(tmp_path):
    labels = ["ham", "spam", "ham"] * 20
    split(tmp_path, labeled_rows(labels), group_by=None, seed=1)
    first = {p.name: p.read_bytes() for p in (tmp_path / "split").glob("*.parquet")}
    _, parts = split(tmp_path, labeled_rows(labels), group_by=None, seed=1)
    assert first == {p.name: p.read_bytes() for p in (tmp_path / "split").glob("*.parquet")}
    _, other = split(tmp_path, labeled_rows(labels), group_by=None, seed=2)
    assert where(parts) != where(other)


# ---------------------------------------------------------------- hash: a row's split does not depend on the others


def test_hash_split_keeps_every_row_in_place_when_labels_change_or_rows_come_and_go(tmp_path):
    """The refine loop's round: corrected labels and new rows move no existing row; random (stratified) does."""
    labels = ["spam" if n % 7 == 0 else "ham" for n in range(600)]
    _, parts = split(tmp_path, labeled_rows(labels), group_by=None, method="hash")
    before = where(parts)
    relabelled = ["ham" if lab == "spam" and n % 3 == 0 else lab for n, lab in enumerate(labels)]  # 29 corrected
    grown = relabelled + ["spam", "ham"] * 50  # and 100 new rows
    _, parts = split(tmp_path, labeled_rows(grown)[100:], group_by=None, method="hash")  # and 100 gone
    after = where(parts)
    assert {i: after[i] for i in before if i in after} == {i: before[i] for i in before if i in after}
    assert len(after) == 600
    _, parts = split(tmp_path, labeled_rows(labels), group_by=None, method="random")
    stratified_before = where(parts)
    _, parts = split(tmp_path, labeled_rows(relabelled), group_by=None, method="random")
    assert where(parts) != stratified_before  # what `hash` is for


def test_hash_split_keeps_groups_whole_and_the_shares_in_expectation(tmp_path):
    labels = ["ham", "spam", "ham", "ham"] * 500
    rows = labeled_rows(labels)
    for n, row in enumerate(rows):
        row["dup_cluster"] = f"c{n // 4}"
    metrics, parts = split(tmp_path, rows, method="hash")
    got = where(parts)
    for c in range(500):
        assert len({got[f"id{n:04d}"] for n in range(4 * c, 4 * c + 4)}) == 1, f"cluster c{c} crosses splits"
    shares = {s: metrics["splits"][s]["rows"] / 2000 for s in ("train", "validation", "test")}
    # 500 groups: a binomial share of 0.1 has a standard deviation of 0.013
    assert shares == pytest.approx({"train": 0.8, "validation": 0.1, "test": 0.1}, abs=0.05)
    _, other = split(tmp_path, rows, method="hash", seed=7)
    assert where(other) != got


def test_hash_split_with_a_class_missing_from_test_names_the_fix(tmp_path):
    rows = labeled_rows(["ham"] * 40 + ["spam"])
    with pytest.raises(StageError, match=r"method hash puts no row of class\(es\) \['spam'\] in .*use method random"):
        split(tmp_path, rows, group_by=None, method="hash")


def test_missing_columns_and_bad_split_values_fail_clearly(tmp_path):
    rows = labeled_rows(["ham", "spam"] * 10)
    for row in rows:
        del row["dup_cluster"]
    with pytest.raises(StageError, match=r"split.group_by 'dup_cluster' is not a rows column \(the clean stage adds"):
        split(tmp_path, rows)
    rows = labeled_rows(["ham", "spam"] * 10, origin_split=["train"] * 18 + ["holdout"] * 2)
    with pytest.raises(StageError, match=r"holds values that name no split: \{'holdout': 2\}"):
        split(tmp_path, rows, method="column", column="origin_split")


@pytest.mark.parametrize(
    ("fractions", "plan"),
    [
        ((0.8, 0.1, 0.1), (10, 8, 1, 1)),
        ((0.7, 0.15, 0.15), (20, 14, 3, 3)),
        ((0.6, 0.2, 0.2), (5, 3, 1, 1)),
        ((0.9, 0.0, 0.1), (10, 9, 0, 1)),
    ],
)
def test_fold_plan(fractions, plan):
    d, counts = fold_plan(dict(zip(("train", "validation", "test"), fractions)))
    assert (d, counts["train"], counts["validation"], counts["test"]) == plan


def test_no_labeled_rows_fails_clearly(tmp_path):
    with pytest.raises(StageError, match="none of the 4 rows has a label"):
        split(tmp_path, labeled_rows([None] * 4))


# ---------------------------------------------------------------- the same presence checks for every method


@pytest.mark.parametrize("method", ["random", "hash", "column", "time"])
def test_a_single_class_fails_for_every_method(tmp_path, method):
    n = 20
    rows = labeled_rows(
        ["ham"] * n,
        origin_split=["train"] * 14 + ["validation"] * 3 + ["test"] * 3,
        sent=[f"2024-01-{d + 1:02d}" for d in range(n)],
    )
    extra = {"column": {"column": "origin_split"}, "time": {"time_column": "sent"}}.get(method, {})
    with pytest.raises(StageError, match=r"all 20 labeled rows have the one class \['ham'\]"):
        split(tmp_path, rows, method=method, group_by=None, **extra)


def test_time_split_leaving_a_class_out_of_test_fails(tmp_path):
    labels = ["ham", "spam"] * 8 + ["spam", "ham", "ham", "ham"]  # the two newest rows (test) are ham
    rows = labeled_rows(labels, sent=[f"2024-01-{d + 1:02d}" for d in range(20)])
    with pytest.raises(StageError, match=r"method time puts no row of class\(es\) \['spam'\] in test"):
        split(tmp_path, rows, method="time", time_column="sent", group_by=None)


def test_time_split_leaving_a_split_empty_fails(tmp_path):
    labels = ["ham", "spam"] * 3
    rows = labeled_rows(labels, sent=[f"2024-01-{d + 1:02d}" for d in range(6)])
    with pytest.raises(StageError, match=r"split.method time leaves test empty; label more rows"):
        split(tmp_path, rows, method="time", time_column="sent", group_by=None)


def test_column_split_without_test_rows_fails_unless_its_fraction_is_zero(tmp_path):
    rows = labeled_rows(["ham", "spam"] * 5, origin_split=["train"] * 8 + ["validation"] * 2)
    with pytest.raises(StageError, match=r"leaves test empty; the column names no row for it"):
        split(tmp_path, rows, method="column", column="origin_split", group_by=None)
    fractions = {"train": 0.9, "validation": 0.1, "test": 0.0}
    metrics, _ = split(tmp_path, rows, method="column", column="origin_split", group_by=None, fractions=fractions)
    assert metrics["splits"]["test"]["rows"] == 0
