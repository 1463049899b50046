"""monitor stage: a planted vocabulary shift is flagged, a random re-split is not, no batch is a result too."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from pydantic import ValidationError

from schemas import load_params
from schemas.audit import AuditParams
from schemas.clean import CleanParams
from schemas.ingest import Source
from schemas.monitor import MonitorParams
from schemas.paths import AuditPaths, MonitorPaths
from schemas.review import ReviewParams
from stages import audit
from stages import monitor as stage
from stages.lib.core.errors import StageError
from stages.lib.model.tfidf import vectorizer
from stages.lib.monitor import drift
from stages.lib.monitor.batch import read_batch

from .test_audit import sms_rows, write_split

REPO = Path(__file__).parents[2]
SMS = REPO / "data/sample/sms_spam_collection/SMSSpamCollection"
NEW_WORDS = ["blockchain", "wallet", "staking", "airdrop", "token", "validator", "ledger", "mint", "bridge", "yield"]


def messages(n: int, skip: int = 0) -> list[str]:
    return [line.split("\t", 1)[1] for line in SMS.read_text(encoding="utf-8").splitlines()[skip : skip + n]]


def shifted(texts: list[str], seed: int) -> list[str]:
    """Half of the messages gain two words of a vocabulary the reference never uses."""
    rng = np.random.default_rng(seed)
    return [t + " " + " ".join(rng.choice(NEW_WORDS, 2)) if rng.random() < 0.5 else t for t in texts]


def domain_vectorizer():
    return vectorizer(**MonitorParams().domain_features.model_dump())


def test_planted_vocabulary_shift_is_flagged():
    reference, batch = messages(600), shifted(messages(300, skip=600), seed=0)
    res = drift.domain_test(reference, batch, domain_vectorizer(), folds=5, permutations=100, max_rows=2000, seed=0)
    assert res["auc"] > 0.6 and res["p_value"] < 0.01
    vocab = {t for text in reference for t in drift.tokens(text)}
    assert drift.oov_share(batch, vocab) > drift.oov_share(messages(300, skip=900), vocab)


def test_a_random_resplit_is_not_flagged_in_at_least_9_of_10_seeds():
    pool = messages(600, skip=2000)
    flagged = 0
    for seed in range(10):
        order = np.random.default_rng(seed).permutation(len(pool))
        ref, new = [pool[i] for i in order[:300]], [pool[i] for i in order[300:]]
        res = drift.domain_test(ref, new, domain_vectorizer(), folds=5, permutations=100, max_rows=2000, seed=seed)
        flagged += res["p_value"] < MonitorParams().alpha
    assert flagged <= 1


def paths(tmp_path: Path) -> MonitorPaths:
    return MonitorPaths(
        incoming="data/incoming",
        dir=str(tmp_path / "monitor"),
        metrics=str(tmp_path / "monitor.json"),
        plot=str(tmp_path / "plot.json"),
    )


def run(tmp_path: Path, **cfg) -> dict:
    split = write_split(tmp_path / "split", sms_rows(600))
    model = tmp_path / "audit/model"
    if not model.is_dir():  # the audit writes the model monitor reads
        out = tmp_path / "audit"
        a = AuditPaths(
            issues=str(out / "i.parquet"),
            details=str(out / "d.json"),
            metrics=str(out / "m.json"),
            plot=str(out / "p.json"),
            model=str(model),
        )
        audit.run(AuditParams(), a, split)
    return stage.run(
        MonitorParams(permutations=100, **cfg),
        paths(tmp_path),
        split,
        CleanParams(),
        AuditParams(),
        ReviewParams(),
        model,
        root=tmp_path,
    )


def test_no_batch_writes_a_no_batch_result(tmp_path):
    metrics = run(tmp_path)
    assert metrics == {"batch": False, "rows_in": 0, "rows_out": 0, "dropped": {}, "drift": False}
    assert pq.read_table(tmp_path / "monitor/scored.parquet").num_rows == 0
    assert json.loads((tmp_path / "monitor/review/label_studio.json").read_text()) == []


def test_stage_reads_a_batch_normalises_it_and_exports_the_worst_rows(tmp_path):
    incoming = tmp_path / "data/incoming"
    incoming.mkdir(parents=True)
    batch = shifted(messages(200, skip=3000), seed=1)
    batch[0] = "caf\u00c3\u00a9 &amp; blockchain"  # mojibake and an HTML entity: clean's normalisation fixes both
    (incoming / "batch1.txt").write_text("\n".join(batch) + "\n\n", encoding="utf-8")
    metrics = run(tmp_path, review_budget=10)
    assert metrics["batch"] and metrics["rows_in"] == 201 and metrics["rows_out"] == 200
    assert metrics["dropped"] == {"blank_line": 1}
    assert metrics["drift"] is True and metrics["domain_p_value"] < 0.01
    assert metrics["shifts"]["oov_share"] > 0
    scored = pq.read_table(tmp_path / "monitor/scored.parquet").to_pylist()
    assert "café & blockchain" in {r["text"] for r in scored}
    tasks = json.loads((tmp_path / "monitor/review/label_studio.json").read_text())
    assert len(tasks) == 10 and {t["data"]["row_id"] for t in tasks} <= {r["id"] for r in scored}
    assert sum(t["data"]["reason"].startswith("drift=") for t in tasks) == 5
    first = {p.name: p.read_bytes() for p in (tmp_path / "monitor").rglob("*") if p.is_file()}
    assert run(tmp_path, review_budget=10) == metrics
    assert first == {p.name: p.read_bytes() for p in (tmp_path / "monitor").rglob("*") if p.is_file()}


def test_the_batch_is_masked_like_the_training_rows_and_joins_several_fields(tmp_path):
    """Regressions: monitor normalised but never masked PII (so masking itself looked like drift), and
    `fields.get(source.text_field)` raised TypeError when text_field is a list."""
    incoming = tmp_path / "data/incoming"
    incoming.mkdir(parents=True)
    (incoming / "a.jsonl").write_text(
        json.dumps({"subject": "Call 07911 123456", "body": "or mail me@x.com &amp; win"})
        + "\n"
        + json.dumps({"subject": "", "body": "  "})
        + "\n"
    )
    source = Source(name="mail", path="data/incoming/*.jsonl", format="jsonl", text_field=["subject", "body"])
    clean = load_params(REPO / "params.yaml").clean  # phone.region GB, as the shipped training rows were made
    rows, rejects, read = read_batch({"mail": source}, clean, tmp_path, max_reject_fraction=0.5)
    assert read == 2 and [r["text"] for r in rows] == ["Call <PHONE>\n\nor mail <EMAIL> & win"]
    assert [(r["stage"], r["reason"], r["location"]) for r in rejects] == [
        ("monitor", "empty_text", "data/incoming/a.jsonl:2")
    ]


def _outputs(tmp_path: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file() and "monitor" in (*p.parts, p.name)}


def test_a_refused_file_beside_a_good_one_is_an_error_not_no_batch(tmp_path):
    """Regression: a symlink leading outside the repository made resolve_files raise, and monitor took any
    StageError for "nothing arrived": the good file beside it was skipped too, reported as batch false, rows_in 0."""
    run(tmp_path)  # a first, no-batch run: its outputs must survive the failed one byte for byte
    before = _outputs(tmp_path)
    incoming = tmp_path / "data/incoming"
    incoming.mkdir(parents=True)
    (incoming / "good.txt").write_text("\n".join(messages(50, skip=3000)) + "\n", encoding="utf-8")
    outside = tmp_path.parent / f"{tmp_path.name}-outside.txt"
    outside.write_text("secret\n", encoding="utf-8")
    (incoming / "leak.txt").symlink_to(outside)
    with pytest.raises(StageError, match="outside"):
        run(tmp_path)
    assert _outputs(tmp_path) == before


def test_a_batch_of_undecodable_lines_is_an_error_not_no_batch(tmp_path):
    """Regression: every line of the batch failed to decode, so no row was kept and monitor reported "no
    incoming batch", drift false, exit 0; now the reject share is checked as ingest checks it."""
    run(tmp_path)
    before = _outputs(tmp_path)
    incoming = tmp_path / "data/incoming"
    incoming.mkdir(parents=True)
    (incoming / "batch.txt").write_bytes(b"abc\x80\xff def\n" * 3 + "\n".join(messages(3, skip=3000)).encode() + b"\n")
    with pytest.raises(StageError, match=r"monitor.max_reject_fraction.*decode_error"):
        run(tmp_path)
    assert _outputs(tmp_path) == before
    # raising the threshold lets the readable half through, every reject counted
    metrics = run(tmp_path, max_reject_fraction=0.5)
    assert metrics["batch"] and metrics["rows_in"] == 6
    assert metrics["rows_in"] == metrics["rows_out"] + sum(metrics["dropped"].values())
    assert metrics["dropped"] == {"decode_error": 3}
    # a source whose every record is rejected fails even at max_reject_fraction 1
    (incoming / "batch.txt").write_bytes(b"\xff\x80\n" * 4)
    with pytest.raises(StageError, match="4 of 4 records"):
        run(tmp_path, max_reject_fraction=1.0)


def test_monitor_max_reject_fraction_is_bounded():
    with pytest.raises(ValidationError, match="max_reject_fraction"):
        MonitorParams(max_reject_fraction=1.5)
