"""audit stage: confident learning on known probabilities, planted flips found, outputs and determinism."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from schemas.audit import AuditParams
from schemas.paths import AuditPaths
from stages import audit as stage
from stages.lib.audit import confident
from stages.lib.audit.findings import score
from stages.lib.audit.noise import flip_labels, precision_recall
from stages.lib.audit.saved import OOF_FILE, load_model, reference_probs
from stages.lib.core.errors import StageError

SMS = Path(__file__).parents[2] / "data/sample/sms_spam_collection/SMSSpamCollection"


def sms_rows(n: int) -> list[dict]:
    """The first n messages of the real sample as split rows (train, with a validation tail)."""
    rows = []
    for k, line in enumerate(SMS.read_text(encoding="utf-8").splitlines()[:n]):
        label, text = line.split("\t", 1)
        rows.append({"id": f"r{k:04d}", "text": text, "label": label, "dup_cluster": f"c{k:04d}", "split": "train"})
    for r in rows[-n // 10 :]:
        r["split"] = "validation"
    return rows


def write_split(folder: Path, rows: list[dict]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("train", "validation", "test", "unlabeled"):
        mine = [{k: v for k, v in r.items() if k != "split"} for r in rows if r["split"] == name]
        schema = pa.schema([(c, pa.string()) for c in ("id", "text", "label", "dup_cluster")])
        pq.write_table(pa.Table.from_pylist(mine, schema=schema), folder / f"{name}.parquet")
    return folder


def paths(tmp_path: Path) -> AuditPaths:
    out = tmp_path / "out"
    return AuditPaths(
        issues=str(out / "issues.parquet"),
        details=str(out / "details.json"),
        metrics=str(out / "audit.json"),
        plot=str(out / "plot.json"),
        model=str(out / "model"),
    )


def audit_score(cfg: AuditParams, rows: list[dict], base_dir: Path | None = None) -> dict:
    return score(rows, **stage.settings(cfg), base_dir=base_dir)


def test_confident_joint_and_thresholds_by_hand():
    labels = np.array([0, 0, 0, 1, 1])
    probs = np.array([[0.9, 0.1], [0.8, 0.2], [0.1, 0.9], [0.3, 0.7], [0.2, 0.8]])
    t = confident.thresholds(labels, probs)
    assert t == pytest.approx([0.6, 0.75])
    cj, _ = confident.joint(labels, probs)
    # row 2 (given 0) is confidently 1; row 3 (p1 0.7 < 0.75, p0 0.3 < 0.6) is counted nowhere
    assert cj.tolist() == [[2, 1], [0, 1]]
    assert confident.confident_guess(probs, t).tolist() == [0, 0, 1, -1, 1]
    res = confident.find_issues(labels, probs)
    assert res.issues.tolist() == [False, False, True, False, False]
    assert res.suggested[2] == 1
    # calibrated joint: class 0 has 3 rows, 1 of 3 counted off-diagonal -> noise rate 1/3
    assert res.noise_rate[0] == pytest.approx(1 / 3)
    assert res.noise_rate[1] == 0.0
    assert res.error_rate == pytest.approx(1 / 5)


def test_rankings_put_the_suspect_first():
    labels = np.array([0, 0, 1])
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.4, 0.6]])
    assert np.argmin(confident.rank(labels, probs, "self_confidence")) == 1
    margin = confident.rank(labels, probs, "normalized_margin")
    assert margin[1] == pytest.approx((1 + 0.2 - 0.8) / 2)
    assert np.argmin(margin) == 1


def test_planted_flips_are_found_on_real_messages():
    rows = sms_rows(1500)
    noisy, flipped = flip_labels([r["label"] for r in rows], 0.1, seed=0)
    assert flipped.sum() == pytest.approx(150, abs=2)
    s = audit_score(AuditParams(), [{**r, "label": lab} for r, lab in zip(rows, noisy)])
    pr = precision_recall(s["result"].issues, flipped)
    assert pr["precision"] >= 0.7 and pr["recall"] >= 0.6, pr
    assert 0.05 < s["result"].error_rate < 0.2


def test_stage_writes_issues_metrics_and_plot_deterministically(tmp_path):
    rows = sms_rows(800)
    rows[2]["label"] = "ham"  # a planted error: "Free entry in 2 a wkly comp to win FA Cup final tkts..." is spam
    rows[10]["dup_cluster"] = rows[11]["dup_cluster"] = "shared"  # two cluster members, different labels
    rows[10]["label"], rows[11]["label"] = "ham", "spam"
    split = write_split(tmp_path / "split", rows)
    p = paths(tmp_path)
    metrics = stage.run(AuditParams(folds=3), p, split)
    issues = pq.read_table(p.issues)
    assert issues.column_names[:7] == ["id", "text", "label", "suggested_label", "suggested_prob", "issue", "score"]
    by_kind = {}
    for r in issues.to_pylist():
        by_kind.setdefault(r["issue"], []).append(r)
    assert {r["id"] for r in by_kind["duplicate_conflict"]} == {"r0010", "r0011"}
    assert "r0002" in {r["id"] for r in by_kind["label_issue"]}
    assert metrics["rows"] == 800
    assert set(metrics["issues"]) == {"label_issue", "outlier", "duplicate_conflict", "low_quality"}
    # low_quality: the next 15% most doubtful rows (review's budget filler), never the flagged ones
    assert metrics["issues"]["low_quality"] == 120
    assert not {r["id"] for r in by_kind["low_quality"]} & {r["id"] for r in by_kind["label_issue"]}
    assert metrics["flagged_rows"] == len({r["id"] for k in stage.KINDS[:3] for r in by_kind.get(k, [])})
    assert metrics["estimated_error_rate_interval"]["low"] <= metrics["estimated_error_rate"]
    assert metrics["issues"]["duplicate_conflict"] == 2
    assert set(metrics["noise_rate"]) == {"ham", "spam"}
    assert metrics["max_noise_rate"] == max(metrics["noise_rate"].values())
    assert stage.headline(metrics) == (*stage.HEADLINE, "noise_rate")  # two classes: each one's rate
    many = {**metrics, "noise_rate": {f"c{i}": 0.0 for i in range(stage.PER_CLASS_HEADLINE + 1)}}
    assert stage.headline(many) == (*stage.HEADLINE, "max_noise_rate")  # 3 classes: the worst rate only
    scores = [r["score"] for r in by_kind["label_issue"]]
    assert scores == sorted(scores)
    assert json.loads(Path(p.plot).read_text())[0].keys() == {"bar", "rows"}
    first = Path(p.issues).read_bytes(), Path(p.details).read_bytes()
    assert stage.run(AuditParams(folds=3), p, split) == metrics
    assert (Path(p.issues).read_bytes(), Path(p.details).read_bytes()) == first


def test_too_few_rows_per_class_for_the_folds_fails_with_the_fix(tmp_path):
    rows = sms_rows(40)
    split = write_split(tmp_path / "split", rows)
    with pytest.raises(StageError, match=r"lower audit\.folds"):
        stage.run(AuditParams(folds=20), paths(tmp_path), split)


def test_missing_split_says_which_stage_to_run(tmp_path):
    with pytest.raises(StageError, match="dvc repro split"):
        stage.run(AuditParams(), paths(tmp_path), tmp_path / "nowhere")


def test_the_saved_model_is_the_refit_and_carries_the_out_of_fold_probabilities(tmp_path):
    """review and monitor read models/audit instead of refitting: it predicts what a fit on every audited row
    predicts, and its oof.parquet holds the probabilities the audit flagged from."""
    rows = sms_rows(300)
    split = write_split(tmp_path / "split", rows)
    p = paths(tmp_path)
    cfg = AuditParams(folds=3)
    stage.run(cfg, p, split)
    model, meta = load_model(p.model)
    assert meta["labels"] == ["ham", "spam"] and meta["baseline"]["features"] == cfg.tfidf.model_dump(mode="json")
    audited = stage.load_labelled(split, cfg.splits)
    refit = score(audited, **stage.settings(cfg), fit_model=True)
    texts = [r["text"] for r in audited]
    assert np.allclose(model.predict_proba(texts), refit["model"].predict_proba(texts))
    oof = pq.read_table(Path(p.model) / OOF_FILE).to_pydict()
    assert oof["id"] == [r["id"] for r in audited]
    assert np.allclose(np.array(oof["probs"]), refit["probs"], atol=1e-6)
    validation = [n for n, r in enumerate(audited) if r["split"] == "validation"]
    assert np.allclose(reference_probs(p.model, "validation"), refit["probs"][validation], atol=1e-6)
    first = {f.name: f.read_bytes() for f in Path(p.model).iterdir()}
    stage.run(cfg, p, split)
    assert first == {f.name: f.read_bytes() for f in Path(p.model).iterdir()}
    with pytest.raises(StageError, match=r"dvc repro audit"):
        load_model(tmp_path / "none")


@pytest.mark.slow
def test_base_model_features_give_probabilities_for_every_row(tmp_path):
    """features: base embeds with a (tiny, scratch-trained) models/base; the rest of the audit is the same."""
    from schemas.model import ModelParams
    from schemas.paths import BaseModelPaths
    from stages import base_model

    from ..finetune_fixtures import tiny_model_params

    rows = sms_rows(120)
    split = write_split(tmp_path / "split", rows)
    out = tmp_path / "base"
    base_model.run(
        ModelParams.model_validate(tiny_model_params(steps=2)),
        BaseModelPaths(out=str(out), metrics=str(tmp_path / "base.json")),
        str(split),
    )
    s = audit_score(AuditParams(features="base", folds=3, max_length=32), rows, out)
    assert s["probs"].shape == (120, 2) and np.allclose(s["probs"].sum(axis=1), 1.0)
    assert set(np.unique(s["fold"])) == {0, 1, 2}
    with pytest.raises(StageError, match="dvc repro base_model"):
        audit_score(AuditParams(features="base", folds=3), rows, tmp_path / "missing")
