"""Six classes end to end with real DVC: ingest through compare, audit and review on a TREC subset.

The demo and most tests are binary (SMS spam), where a two-class-only setting goes unnoticed: scikit-learn
1.8+ refuses `liblinear` on three or more classes, which once crashed compare after every training. This runs
the cheapest setup (a tiny scratch model, one feature-based approach, a few steps) on 360 real TREC questions
(tests/fixtures/trec/PROVENANCE.md), so the multi-class path stays in the default test run.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from stages.lib.core.errors import StageError
from stages.lib.model.preflight import check_class_settings
from stages.lib.text.wordnet import write_wordnet_stamp

from .dvc_helpers import copy_project, dvc, sh
from .finetune_fixtures import tiny_model_params, tiny_train_params

TREC = Path(__file__).parent / "fixtures/trec/trec_coarse_360.csv"
CLASSES = ["ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM"]


def trec_project(root: Path) -> Path:
    repo = copy_project(root)
    shutil.copy(TREC, repo / "data/raw/trec.csv")
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["ingest"]["sources"] = {
        "trec": {"path": "data/raw/trec.csv", "format": "csv", "text_field": "text", "label_field": "label"}
    }
    params["label"]["classes"] = CLASSES
    params["augment"]["operations"] = []  # no WordNet on a test machine; augment still runs (copies the split)
    params["model"] = params["model"] | tiny_model_params()
    params["model"]["scratch"] = params["model"]["scratch"] | tiny_model_params()["scratch"]
    params["train"] = params["train"] | tiny_train_params()
    params["approaches"] = {"feature": params["approaches"]["feature"] | {"epochs": None}}
    params["audit"]["folds"] = 3
    params["review"]["issues"]["budget"] = 10
    params["compare"]["bootstrap"]["n_resamples"] = 200
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    write_wordnet_stamp(repo / ".nltk_data", repo / ".nltk_data/wordnet.sha256")  # what `make setup` writes
    sh(["git", "add", "-A"], repo)
    sh(["git", "commit", "-qm", "six TREC classes"], repo)
    return repo


def test_six_classes_run_through_compare_audit_and_review(tmp_path):
    repo = trec_project(tmp_path)
    out = dvc(repo, "repro", "compare", "review").stdout
    for stage in ("ingest", "split", "train@feature", "evaluate@feature", "compare", "audit", "review"):
        assert f"Running stage '{stage}'" in out, out

    compare = json.loads((repo / "metrics/details/compare.json").read_text())
    assert set(compare["approaches"]) == {"feature"}
    assert 0.0 <= compare["tfidf"]["macro_f1"] <= 1.0
    # both baselines are fitted on the split's train rows (before augment and balance)
    split_train = pq.read_table(repo / "data/split/train.parquet", columns=["label"]).column("label").to_pylist()
    counts = Counter(split_train)
    assert compare["baseline"]["label"] == min(counts, key=lambda c: (-counts[c], c))
    assert "fitted on the split's train rows before augment and balance" in (repo / "reports/comparison.md").read_text()
    meta = json.loads((repo / "models/tfidf_logreg/refinery.json").read_text())
    assert meta["labels"] == CLASSES and meta["baseline"]["classifier"]["solver"] == "lbfgs"

    audit = json.loads((repo / "metrics/audit.json").read_text())  # headline: the worst class's rate only
    assert set(audit) == {"estimated_error_rate", "flagged_rows", "max_noise_rate"}
    assert 0.0 <= audit["estimated_error_rate"] <= 1.0
    assert set(json.loads((repo / "metrics/details/audit.json").read_text())["noise_rate"]) == set(CLASSES)
    review = json.loads((repo / "metrics/review.json").read_text())
    assert 0 < review["queues"]["issues"] <= 10
    tasks = json.loads((repo / "data/review/issues/label_studio.json").read_text())
    assert {t["predictions"][0]["result"][0]["value"]["choices"][0] for t in tasks} <= set(CLASSES)

    # a two-class-only solver now fails before any training, naming the key and the fix
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["label"]["classes"] = []  # the classes come from the data alone: the check runs on the split
    params["compare"]["baseline"]["classifier"]["solver"] = "liblinear"
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    failed = dvc(repo, "repro", "-f", "-s", "train@feature", check=False)
    assert failed.returncode != 0
    assert "compare.baseline.classifier.solver: 'liblinear' fits two classes only" in failed.stdout + failed.stderr


def test_the_preflight_reads_the_classes_of_the_audited_splits(tmp_path):
    from schemas import load_params

    params = load_params(Path(__file__).parents[1] / "params.yaml")
    params.label.classes = []
    params.compare.baseline.classifier.solver = "liblinear"
    for name in ("train", "validation"):
        rows = [{"label": c} for c in CLASSES for _ in range(5)]
        pq.write_table(__import__("pyarrow").Table.from_pylist(rows), tmp_path / f"{name}.parquet")
    with pytest.raises(StageError, match=r"compare\.baseline\.classifier\.solver: 'liblinear' fits two classes only"):
        check_class_settings(params, tmp_path)
    params.compare.baseline.classifier.solver = "lbfgs"
    params.audit.folds = 11
    with pytest.raises(StageError, match=r"audit\.folds: 11 folds need 11 labelled rows per class"):
        check_class_settings(params, tmp_path)
    params.audit.folds = 10
    check_class_settings(params, tmp_path)
    check_class_settings(params, tmp_path / "not-split-yet")  # nothing to check before split has run
