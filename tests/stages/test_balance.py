"""balance stage: imbalanced-learn samplers mapped back to rows, synthetic rows, class weights, plot data."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections import Counter
from pathlib import Path
from random import Random

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from schemas.balance import BalanceParams
from schemas.paths import BalancePaths
from stages.balance import map_back, run
from stages.lib.balance.sampling import resample_indices
from stages.lib.core.errors import StageError

from ..dvc_helpers import dvc_bin

# three classes, 30 / 12 / 6 rows, each with its own vocabulary plus shared filler words
VOCAB = {
    "billing": "invoice charge refund payment card bill",
    "outage": "down offline error timeout crash server",
    "praise": "great thanks love excellent happy wonderful",
}
COUNTS = {"billing": 30, "outage": 12, "praise": 6}
FILLER = "the a my is was today again please"


def skewed_rows() -> list[tuple[str, str]]:
    rng = Random(0)
    rows = []
    for label, n in COUNTS.items():
        words = VOCAB[label].split()
        for i in range(n):
            text = " ".join(rng.sample(words, 3) + rng.sample(FILLER.split(), 2)) + f" ticket {label[0]}{i}"
            rows.append((text, label))
    return rows


def write_split(folder: Path, rows: list[tuple[str, str | None]], augmented: int = 0) -> Path:
    """An augment-stage output folder; the last `augmented` train rows are marked as generated."""
    folder.mkdir(parents=True, exist_ok=True)
    schema = pa.schema(
        [
            ("id", pa.string()),
            ("text", pa.string()),
            ("label", pa.string()),
            ("source", pa.string()),
            ("origin_id", pa.string()),
            ("aug_op", pa.string()),
        ]
    )

    def table(part: list[tuple[str, str | None]], split: str, n_aug: int = 0) -> pa.Table:
        out = []
        for i, (t, lab) in enumerate(part):
            generated = i >= len(part) - n_aug
            out.append(
                {
                    "id": f"{split}{i:03d}",
                    "text": t,
                    "label": lab,
                    "source": "tickets",
                    "origin_id": f"{split}000" if generated else None,
                    "aug_op": "eda_rs" if generated else None,
                }
            )
        return pa.Table.from_pylist(out, schema=schema)

    pq.write_table(table(rows, "train", augmented), folder / "train.parquet")
    pq.write_table(table([("refund my card", "billing")], "validation"), folder / "validation.parquet")
    pq.write_table(table([("server is down", "outage")], "test"), folder / "test.parquet")
    pq.write_table(table([("nothing to see", None)], "unlabeled"), folder / "unlabeled.parquet")
    return folder


@pytest.fixture
def source(tmp_path: Path) -> Path:
    return write_split(tmp_path / "augmented", skewed_rows())


def balance(tmp_path: Path, source: Path, **cfg: object) -> dict:
    paths = BalancePaths(
        dir=str(tmp_path / "balanced"), metrics=str(tmp_path / "m.json"), plot=str(tmp_path / "plot.json")
    )
    return run(BalanceParams.model_validate(cfg), paths, source, str(tmp_path / "no_nltk_data"))


def train(tmp_path: Path) -> list[dict]:
    return pq.read_table(tmp_path / "balanced" / "train.parquet").to_pylist()


def counts(rows: list[dict]) -> dict[str, int]:
    return dict(Counter(r["label"] for r in rows))


# ---------------------------------------------------------------- samplers hit the requested counts


@pytest.mark.parametrize(
    ("strategy", "sampling_strategy", "expected"),
    [
        ("random_over", "auto", {"billing": 30, "outage": 30, "praise": 30}),
        ("random_over", {"outage": 20, "praise": 25}, {"billing": 30, "outage": 20, "praise": 25}),
        ("random_over", "minority", {"billing": 30, "outage": 12, "praise": 30}),
        ("random_under", "auto", {"billing": 6, "outage": 6, "praise": 6}),
        ("random_under", {"billing": 10, "outage": 8}, {"billing": 10, "outage": 8, "praise": 6}),
        ("random_under", "majority", {"billing": 6, "outage": 12, "praise": 6}),
        ("near_miss", {"billing": 9}, {"billing": 9, "outage": 12, "praise": 6}),
    ],
)
def test_sampler_hits_requested_counts(
    tmp_path: Path, source: Path, strategy: str, sampling_strategy: object, expected: dict[str, int]
) -> None:
    metrics = balance(tmp_path, source, strategy=strategy, sampling_strategy=sampling_strategy)
    rows = train(tmp_path)
    assert counts(rows) == expected
    assert metrics["class_counts"]["after"] == dict(sorted(expected.items()))
    assert metrics["rows_in"] + metrics["added"] == metrics["rows_out"] + sum(metrics["dropped"].values())
    assert len({r["id"] for r in rows}) == len(rows)


def test_cleaning_samplers_only_touch_the_listed_classes(tmp_path: Path, source: Path) -> None:
    # a noisy label: a 'praise' text labeled billing sits among praise rows, where ENN finds and removes it
    noisy = "great thanks love excellent happy wonderful"
    rows = [*skewed_rows(), (noisy, "billing")]
    src = write_split(tmp_path / "noisy", rows)
    cleaners = (
        "edited_nearest_neighbours",
        "repeated_edited_nearest_neighbours",
        "all_knn",
        "tomek_links",
        "condensed_nearest_neighbour",
        "one_sided_selection",
        "neighbourhood_cleaning",
    )
    for strategy in cleaners:
        metrics = balance(tmp_path, src, strategy=strategy, sampling_strategy=["billing"])
        after = counts(train(tmp_path))
        assert after["outage"] == 12 and after["praise"] == 6, strategy
        assert after["billing"] == 31 - metrics["dropped"]["cleaning"], strategy
    metrics = balance(tmp_path, src, strategy="edited_nearest_neighbours", sampling_strategy=["billing"])
    assert metrics["dropped"]["cleaning"] >= 1
    assert noisy not in {r["text"] for r in train(tmp_path)}
    rejects = pq.read_table(tmp_path / "balanced" / "rejects.parquet").to_pylist()
    assert noisy in {r["raw"] for r in rejects if r["reason"] == "cleaning"}


def test_instance_hardness_only_removes_majority_rows(tmp_path: Path, source: Path) -> None:
    metrics = balance(tmp_path, source, strategy="instance_hardness", sampling_strategy="majority")
    after = counts(train(tmp_path))
    assert after["outage"] == 12 and after["praise"] == 6
    assert after["billing"] == 30 - metrics["dropped"]["under_sampling"] < 30


# ---------------------------------------------------------------- mapping back through sample_indices_


def test_sample_indices_map_back_to_the_same_rows(tmp_path: Path, source: Path) -> None:
    rows = sorted(pq.read_table(source / "train.parquet").to_pylist(), key=lambda r: r["id"])
    labels = [r["label"] for r in rows]
    indices = resample_indices("random_over", "auto", labels, None, 42, 3)
    out, added, removed = map_back(rows, indices.tolist(), "random_over", "over")
    assert [r["text"] for r in out] == [rows[i]["text"] for i in indices]
    assert [r["label"] for r in out] == [labels[i] for i in indices]
    assert len(added) == len(indices) - len(rows) and removed == []
    by_id = {r["id"]: r for r in rows}
    for copy in added:
        assert copy["id"] not in by_id
        assert by_id[copy["origin_id"]]["text"] == copy["text"]
        assert copy["aug_op"] == "random_over"

    # the stage writes exactly these rows (sorted by id)
    balance(tmp_path, source, strategy="random_over", seed=42)
    assert sorted(r["text"] for r in train(tmp_path)) == sorted(r["text"] for r in out)


def test_copies_of_generated_rows_point_at_the_original_row(tmp_path: Path) -> None:
    src = write_split(tmp_path / "aug", skewed_rows(), augmented=6)  # praise rows generated from train000
    balance(tmp_path, src, strategy="random_over", sampling_strategy={"praise": 12})
    copies = [r for r in train(tmp_path) if r["aug_op"] and r["aug_op"].endswith("random_over")]
    assert len(copies) == 6
    assert all(r["aug_op"] == "eda_rs+random_over" and r["origin_id"] == "train000" for r in copies)


def test_under_sampling_keeps_original_rows_and_rejects_the_rest(tmp_path: Path, source: Path) -> None:
    metrics = balance(tmp_path, source, strategy="random_under", sampling_strategy={"billing": 10})
    inputs = {r["id"]: r for r in pq.read_table(source / "train.parquet").to_pylist()}
    kept = train(tmp_path)
    assert all(inputs[r["id"]] == r for r in kept)  # unchanged rows, same ids
    rejects = pq.read_table(tmp_path / "balanced" / "rejects.parquet").to_pylist()
    assert len(rejects) == metrics["dropped"]["under_sampling"] == 20
    assert {r["id"] for r in rejects} | {r["id"] for r in kept} == set(inputs)
    assert all(r["reason"] == "under_sampling" and r["detail"] == "random_under" for r in rejects)


def test_resample_indices_match_imblearn_directly() -> None:
    from imblearn.under_sampling import RandomUnderSampler

    labels = [lab for _, lab in skewed_rows()]
    ours = resample_indices("random_under", "auto", labels, None, 7, 3)
    theirs = RandomUnderSampler(random_state=7).fit(np.zeros((len(labels), 1)), labels)
    theirs.fit_resample(np.zeros((len(labels), 1)), labels)
    assert sorted(ours.tolist()) == sorted(theirs.sample_indices_.tolist())


# ---------------------------------------------------------------- sampling_strategy checked against the data


def test_float_sampling_strategy_on_multiclass_is_a_clear_error(tmp_path: Path, source: Path) -> None:
    with pytest.raises(StageError) as err:
        balance(tmp_path, source, strategy="random_over", sampling_strategy=0.5)
    assert str(err.value) == (
        "balance.sampling_strategy is a float (0.5), which imbalanced-learn accepts only for two classes; train "
        "has 3: ['billing', 'outage', 'praise']. Use a dict {label: rows wanted} or a string such as 'auto' or "
        "'not majority'."
    )
    assert not (tmp_path / "balanced").exists()


def test_float_sampling_strategy_on_binary_sets_the_ratio(tmp_path: Path) -> None:
    rows = [(t, lab) for t, lab in skewed_rows() if lab != "praise"]
    src = write_split(tmp_path / "binary", rows)
    balance(tmp_path, src, strategy="random_over", sampling_strategy=0.5)
    assert counts(train(tmp_path)) == {"billing": 30, "outage": 15}
    balance(tmp_path, src, strategy="random_under", sampling_strategy=0.5)
    assert counts(train(tmp_path)) == {"billing": 24, "outage": 12}


@pytest.mark.parametrize(
    ("cfg", "message"),
    [
        ({"strategy": "random_over", "sampling_strategy": {"billing": 3}},
         r"With over-sampling methods, the number of samples in a class should be greater or equal"),
        ({"strategy": "random_under", "sampling_strategy": {"billingg": 3}},
         r"names labels that are not in train: \['billingg'\]; train has \['billing', 'outage', 'praise'\]"),
        ({"strategy": "class_weights", "class_weights": {"billing": 1.0}},
         r"must give a weight for each train label .*; missing \['outage', 'praise'\]"),
    ],
)  # fmt: skip
def test_sampling_strategy_that_does_not_fit_the_data_is_a_stage_error(
    tmp_path: Path, source: Path, cfg: dict, message: str
) -> None:
    with pytest.raises(StageError, match=message):
        balance(tmp_path, source, **cfg)


# ---------------------------------------------------------------- synthetic rows


def test_synthetic_brings_minorities_to_target_with_new_text(tmp_path: Path, source: Path) -> None:
    ops = [{"kind": "eda", "alpha_sr": 0, "alpha_ri": 0}, {"kind": "char_noise"}]
    metrics = balance(tmp_path, source, strategy="synthetic", synthetic={"operations": ops})
    rows = train(tmp_path)
    assert counts(rows) == {"billing": 30, "outage": 30, "praise": 30}
    assert metrics["synthetic"]["shortfall"] == {"outage": 0, "praise": 0}
    assert metrics["added"] == metrics["synthetic"]["generated"] == 18 + 24
    originals = {r["id"]: r for r in pq.read_table(source / "train.parquet").to_pylist()}
    texts = [r["text"] for r in rows]
    assert len(set(texts)) == len(texts)  # no copies: every synthetic row is new text
    for r in rows:
        if r["id"] not in originals:
            assert originals[r["origin_id"]]["label"] == r["label"]
            assert r["aug_op"].split("_")[0] in {"eda", "char"}
    assert set(metrics["synthetic"]["operations"]) == {"eda", "char_noise"}


def test_synthetic_reports_a_shortfall_when_rows_cannot_be_made(tmp_path: Path) -> None:
    # one-word rows cannot be swapped: every candidate is unchanged
    src = write_split(tmp_path / "tiny", [("hello", "a"), ("hi", "a"), ("yo", "a"), ("bye", "b")])
    ops = [{"kind": "eda", "alpha_sr": 0, "alpha_ri": 0, "p_rd": 0}]
    metrics = balance(tmp_path, src, strategy="synthetic", synthetic={"operations": ops, "max_attempts": 2})
    assert metrics["synthetic"]["shortfall"] == {"b": 2}
    assert metrics["synthetic"]["dropped"]["unchanged"] == 4  # 2 missing rows x 2 attempts
    assert counts(train(tmp_path)) == {"a": 3, "b": 1}


# ---------------------------------------------------------------- class weights, outputs, plot


def test_class_weights_file(tmp_path: Path, source: Path) -> None:
    balance(tmp_path, source, strategy="class_weights", class_weights="balanced")
    data = json.loads((tmp_path / "balanced" / "class_weights.json").read_text())
    n = 48
    assert data == {"class_weights": {"billing": round(n / (3 * 30), 6), "outage": round(n / (3 * 12), 6),
                                      "praise": round(n / (3 * 6), 6)}}  # fmt: skip
    balance(tmp_path, source, strategy="class_weights", class_weights="balanced_sqrt")
    w = json.loads((tmp_path / "balanced" / "class_weights.json").read_text())["class_weights"]
    assert w["praise"] > w["outage"] > w["billing"]
    assert sum(w[c] * k for c, k in COUNTS.items()) == pytest.approx(n, rel=1e-4)  # averages 1 over rows
    assert w["praise"] / w["billing"] == pytest.approx((30 / 6) ** 0.5, rel=1e-4)


def test_class_weights_alongside_resampling_use_the_resampled_counts(tmp_path: Path, source: Path) -> None:
    metrics = balance(
        tmp_path, source, strategy="random_under", sampling_strategy={"billing": 12}, class_weights="balanced"
    )
    assert metrics["class_weights"] == {"billing": round(30 / 36, 6), "outage": round(30 / 36, 6),
                                        "praise": round(30 / 18, 6)}  # fmt: skip


def test_no_class_weights_writes_null(tmp_path: Path, source: Path) -> None:
    balance(tmp_path, source, strategy="none")
    assert json.loads((tmp_path / "balanced" / "class_weights.json").read_text()) == {"class_weights": None}


def test_evaluation_files_are_byte_identical_and_output_deterministic(tmp_path: Path, source: Path) -> None:
    balance(tmp_path, source, strategy="random_over")
    first = (tmp_path / "balanced" / "train.parquet").read_bytes()
    for name in ("validation", "test", "unlabeled"):
        assert (tmp_path / "balanced" / f"{name}.parquet").read_bytes() == (source / f"{name}.parquet").read_bytes()
    balance(tmp_path, source, strategy="random_over")
    assert (tmp_path / "balanced" / "train.parquet").read_bytes() == first


def test_metrics_and_plot_show_split_augmented_and_balanced_counts(tmp_path: Path) -> None:
    src = write_split(tmp_path / "aug", skewed_rows(), augmented=6)  # the last 6 (praise) rows are generated
    metrics = balance(tmp_path, src, strategy="random_under", sampling_strategy="majority")
    assert metrics["class_counts"]["split"] == {"billing": 30, "outage": 12}
    assert metrics["class_counts"]["before"] == {"billing": 30, "outage": 12, "praise": 6}
    assert metrics["imbalance_ratio"] == {"split": 2.5, "before": 5.0, "after": 2.0}
    plot = json.loads((tmp_path / "plot.json").read_text())
    assert {"bar": "praise | split (train)", "class": "praise", "phase": "split (train)", "order": 4, "rows": 0} in plot
    assert {"bar": "billing | balanced", "class": "billing", "phase": "balanced", "order": 6, "rows": 6} in plot
    assert len(plot) == 9  # no upstream counts given: split, augmented, balanced per class


def test_dvc_plots_show_draws_the_class_counts(tmp_path: Path, source: Path) -> None:
    """The plot declared as in dvc.yaml renders through the project's zero-based bar template
    (DVC's own bar_horizontal does not start at zero, so a class with few rows got no bar at all)."""
    balance(tmp_path, source, strategy="random_over")
    (tmp_path / "dvc.yaml").write_text(
        "stages:\n  balance:\n    cmd: 'true'\n    plots:\n      - plot.json:\n          cache: false\n"
        "          template: bar_horizontal_zero\n          x: rows\n          y: bar\n"
    )
    subprocess.run([dvc_bin(), "init", "--no-scm", "-q"], cwd=tmp_path, check=True)
    repo = Path(__file__).resolve().parents[2]
    (tmp_path / ".dvc/plots").mkdir(exist_ok=True)
    shutil.copy(repo / ".dvc/plots/bar_horizontal_zero.json", tmp_path / ".dvc/plots/bar_horizontal_zero.json")
    shown = subprocess.run(
        [dvc_bin(), "plots", "show", "--json"], cwd=tmp_path, check=True, capture_output=True, text=True
    )
    spec = json.loads(shown.stdout)["data"]["plot.json"][0]
    values = spec["content"]["data"]["values"]
    assert spec["content"]["encoding"]["y"]["field"] == "bar"
    assert spec["content"]["encoding"]["x"]["scale"] == {"zero": True}
    assert {v["bar"]: int(v["rows"]) for v in values}["praise | balanced"] == 30
