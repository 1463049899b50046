"""label stage: every import format from real or tool-shaped exports, aggregation, agreement, rejects."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from schemas.label import LabelParams
from schemas.paths import LabelPaths
from stages import label as stage
from stages.lib.core.errors import StageError
from stages.lib.label import agreement

FIXTURES = Path(__file__).parents[1] / "fixtures" / "annotation_exports"
SYNTH = FIXTURES / "synthetic"
TEXTS = {
    "r1": "Free entry in 2 a wkly comp to win FA Cup final tkts 21st May 2005.",
    "r2": "I'll be home late tonight, save me some dinner",
    "r3": "URGENT! You have won a 1 week FREE membership in our prize Jackpot!",
    "r4": "Are we still meeting for lunch tomorrow?",
    "r5": "Call now to claim your prize of 2000 pounds",
    "r6": "Ok lar... Joking wif u oni...",
}
SOURCE_LABELS = {"r1": "spam", "r2": "ham", "r3": "spam", "r4": "ham", "r5": None, "r6": "ham"}


def clean_rows(texts: dict[str, str], labels: dict[str, str | None] | None = None) -> list[dict[str, Any]]:
    """Rows as the clean stage writes them (clean is built in parallel, so they are made here)."""
    labels = labels or {}
    return [
        {
            "id": i,
            "text": t,
            "label": labels.get(i),
            "source": "sms",
            "location": f"sms:{n}",
            "text_raw": t,
            "dup_cluster": i,
            "dup_count": 1,
        }
        for n, (i, t) in enumerate(texts.items(), start=1)
    ]


def label(tmp_path: Path, rows: list[dict[str, Any]], exports: dict[str, Path] | None = None, **cfg: Any):
    """Copy exports into data/annotations/, run the stage, return metrics and the three outputs as dicts."""
    annotations = tmp_path / "data" / "annotations"
    annotations.mkdir(parents=True, exist_ok=True)
    for name, src in (exports or {}).items():
        if src.is_dir():
            shutil.copytree(src, annotations / name, dirs_exist_ok=True)
        else:
            shutil.copy(src, annotations / name)
    rows_path = tmp_path / "cleaned.parquet"
    pq.write_table(pa.Table.from_pylist(rows), rows_path)
    out = tmp_path / "out"
    paths = LabelPaths(
        annotations="data/annotations",
        rows=str(out / "rows.parquet"),
        rejects=str(out / "rejects.parquet"),
        unmatched=str(out / "unmatched.parquet"),
        history=str(out / "history.parquet"),
        metrics=str(out / "label.json"),
    )
    cfg.setdefault("classes", ["ham", "spam"])
    cfg.setdefault("source_labels", "ignore")
    metrics = stage.run(LabelParams(**cfg), paths, rows_path, root=tmp_path)
    read = {k: pq.read_table(out / f"{k}.parquet").to_pylist() for k in ("rows", "rejects", "unmatched")}
    json.dumps(metrics, allow_nan=False)  # metrics must be valid JSON: no NaN
    return metrics, {r["id"]: r for r in read["rows"]}, read["rejects"], read["unmatched"]


def imp(name: str, path: str, fmt: str, **kw: Any) -> dict[str, Any]:
    return {"name": name, "path": f"data/annotations/{path}", "format": fmt, **kw}


# ------------------------------------------------------------------ real exports


def test_real_label_studio_export_reaches_into_choices_and_ignores_history(tmp_path):
    text = "Calif. wildfires signal the arrival of a planetary fire age https://t.co/Vvo9noqQfA"
    rows = clean_rows({"t1": text, "t2": "something else"})
    metrics, out, rejects, unmatched = label(
        tmp_path,
        rows,
        {"ls.json": FIXTURES / "label_studio" / "csv_test_history.json"},
        classes=["Negative", "Neutral", "Positive"],
        imports=[imp("ls", "ls.json", "label_studio")],
    )
    assert out["t1"]["label"] == "Positive"
    assert out["t1"]["label_votes"] == [
        {"annotator": "sergei@heartex.test", "label": "Positive", "import": "ls", "ground_truth": False}
    ]
    assert out["t1"]["label_agreement"] == 1.0
    assert out["t2"]["label"] is None
    assert metrics["annotations"]["imports"]["ls"]["read"] == 1  # the `history` copy is not a second vote
    assert rejects == [] and unmatched == []


def test_label_studio_before_1_0_called_annotations_completions(tmp_path):
    tasks = json.loads((FIXTURES / "label_studio" / "csv_test_history.json").read_text())
    tasks[0]["completions"] = tasks[0].pop("annotations")
    old = write(tmp_path, "old.json", json.dumps(tasks))
    text = tasks[0]["data"]["text"]
    _, out, _, _ = label(
        tmp_path,
        clean_rows({"t1": text}),
        {"old.json": old},
        classes=["Negative", "Positive"],
        imports=[imp("ls", "old.json", "label_studio")],
    )
    assert out["t1"]["label"] == "Positive"


def test_real_doccano_v1_numeric_labels_need_aliases(tmp_path):
    rows = clean_rows({"a": "Terrible customer service.", "b": "Really great transaction.", "c": "Great price."})
    exports = {"v1.jsonl": FIXTURES / "doccano" / "classification_v1_export.jsonl"}
    _metrics, out, _, _ = label(
        tmp_path,
        rows,
        exports,
        classes=["negative", "positive"],
        aliases={"15": "negative", "17": "positive"},
        imports=[imp("doccano", "v1.jsonl", "doccano")],
    )
    assert {k: r["label"] for k, r in out.items()} == {"a": "negative", "b": "positive", "c": "positive"}
    assert out["a"]["label_votes"][0]["annotator"] == "1"  # the `user` of the annotation

    with pytest.raises(StageError, match=r"3 of 3 annotations are unusable.*unknown_label.*label '15' is not in"):
        label(
            tmp_path, rows, exports, classes=["negative", "positive"], imports=[imp("doccano", "v1.jsonl", "doccano")]
        )


def test_real_doccano_current_export_label_list(tmp_path):
    rows = clean_rows({"a": "Terrible customer service.", "b": "Really great transaction.", "c": "Great price."})
    _, out, _, _ = label(
        tmp_path,
        rows,
        {"admin.jsonl": FIXTURES / "doccano" / "text_classification_export_example.jsonl"},
        classes=["negative", "positive"],
        imports=[imp("doccano", "admin.jsonl", "doccano")],
    )
    assert {k: r["label"] for k, r in out.items()} == {"a": "negative", "b": "positive", "c": "positive"}
    assert {r["label_votes"][0]["annotator"] for r in out.values()} == {"admin"}  # doccano names files by user


# ------------------------------------------------------------------ Label Studio


def test_label_studio_full_export_annotators_cancelled_ground_truth_unknown_unmatched(tmp_path):
    rows = clean_rows(TEXTS)
    metrics, out, rejects, unmatched = label(
        tmp_path,
        rows,
        {"ls.json": SYNTH / "label_studio_full.json"},
        imports=[imp("ls", "ls.json", "label_studio", join="id", key="row_id")],
    )
    got = {k: (r["label"], r["label_agreement"]) for k, r in out.items()}
    assert got == {
        "r1": ("spam", 1.0),  # alice and bob agree
        "r3": ("spam", 0.5),  # bob's ground-truth answer beats alice's
        "r4": ("ham", 1.0),  # the model prediction on this task is not a vote
        "r5": ("spam", 1.0),  # alice's 'Spamm' rejected, bob's vote stands
        "r6": (None, None),  # never annotated: kept unlabeled
    }
    assert "r2" not in out  # alice ham vs bob spam: a tie, rejected for re-annotation
    ls = metrics["annotations"]["imports"]["ls"]
    assert ls["read"] == 11 and ls["votes"] == 8 and ls["unmatched"] == 1
    assert ls["skipped"]["cancelled"] == 1 and ls["rejected"]["unknown_label"] == 1
    assert metrics["dropped"] == {"tie": 1, "unlabeled": 0}
    assert metrics["rows_in"] == metrics["rows_out"] + sum(metrics["dropped"].values()) == 6
    assert metrics["agreement"]["ground_truth_rows"] == 1
    by_reason = {r["reason"]: r for r in rejects}
    assert by_reason["unknown_label"]["id"] == "r5" and "'Spamm'" in by_reason["unknown_label"]["detail"]
    assert by_reason["tie"]["id"] == "r2" and "'ham': 1, 'spam': 1" in by_reason["tie"]["detail"]
    assert [u["key"] for u in unmatched] == ["nope"] and unmatched[0]["annotator"] == "alice@example.com"


def test_label_studio_ground_truth_can_be_turned_off(tmp_path):
    _, out, _, _ = label(
        tmp_path,
        clean_rows(TEXTS),
        {"ls.json": SYNTH / "label_studio_full.json"},
        ground_truth_wins=False,
        tie_break="class_order",
        imports=[imp("ls", "ls.json", "label_studio", join="id", key="row_id")],
    )
    assert out["r3"]["label"] == "ham"  # a plain 1-1 tie now, broken by class order (ham listed first)
    assert out["r2"]["label"] == "ham"


@pytest.mark.parametrize(
    ("fmt", "file"), [("label_studio_min", "label_studio_min.json"), ("label_studio_csv", "label_studio.csv")]
)
def test_label_studio_min_and_csv_exports(tmp_path, fmt, file, caplog):
    metrics, out, _, unmatched = label(
        tmp_path,
        clean_rows(TEXTS),
        {file: SYNTH / file},
        tie_break="unlabeled",
        imports=[imp("ls", file, fmt, join="text", question="sentiment")],
    )
    assert out["r1"]["label"] == "spam" and len(out["r1"]["label_votes"]) == 2
    assert out["r3"]["label"] is None  # no ground-truth flag in these formats: a tie, kept unlabeled
    assert out["r2"]["label"] is None and out["r2"]["label_votes"]  # tie with votes kept
    ls = metrics["annotations"]["imports"]["ls"]
    assert ls["read"] == 10 and ls["skipped"]["cancelled"] == 0  # the cancelled one is not in the export
    assert len(unmatched) == 1
    assert "drop cancelled annotations and ground-truth flags" in caplog.text


def test_label_studio_with_two_choice_controls_needs_question(tmp_path):
    tasks = json.loads((SYNTH / "label_studio_full.json").read_text())
    extra = {"id": "x", "type": "choices", "value": {"choices": ["urgent"]}, "from_name": "priority", "to_name": "text"}
    tasks[0]["annotations"][0]["result"].append(extra)
    two = write(tmp_path, "two.json", json.dumps(tasks))
    cfg = {"name": "ls", "path": "data/annotations/two.json", "format": "label_studio", "join": "id", "key": "row_id"}
    with pytest.raises(StageError, match=r"several choice controls \['priority', 'sentiment'\]; set `question`"):
        label(tmp_path, clean_rows(TEXTS), {"two.json": two}, imports=[cfg])
    _, out, _, _ = label(tmp_path, clean_rows(TEXTS), {"two.json": two}, imports=[{**cfg, "question": "sentiment"}])
    assert out["r1"]["label"] == "spam"


def test_flat_label_studio_needs_question():
    with pytest.raises(ValueError, match="set `question`"):
        LabelParams(classes=["a", "b"], imports=[imp("x", "x.json", "label_studio_min")])


# ------------------------------------------------------------------ Argilla


@pytest.mark.parametrize(("fmt", "file"), [("argilla", "argilla"), ("argilla_datasets", "argilla_datasets.jsonl")])
def test_argilla_records_and_flattened_rows(tmp_path, fmt, file):
    path = file if fmt == "argilla_datasets" else "argilla/records.json"
    metrics, out, _, unmatched = label(
        tmp_path, clean_rows(TEXTS), {file: SYNTH / file}, imports=[imp("rg", path, fmt, join="id")]
    )
    assert out["r1"]["label"] == "spam" and [v["annotator"][:8] for v in out["r1"]["label_votes"]] == [
        "6f1f8f43",
        "b2c1d7e0",
    ]
    assert out["r2"]["label"] == "ham" and len(out["r2"]["label_votes"]) == 1  # bob discarded
    assert out["r4"]["label"] == "ham"
    assert out["r3"]["label"] is None  # the suggestion ('spam', from a model) is never a vote
    rg = metrics["annotations"]["imports"]["rg"]
    assert rg["read"] == 6 and rg["votes"] == 4 and rg["skipped"]["discarded"] == 1 and rg["unmatched"] == 1
    assert unmatched[0]["key"] == "x9"


# ------------------------------------------------------------------ doccano


def test_doccano_per_annotator_files(tmp_path):
    metrics, out, rejects, unmatched = label(
        tmp_path,
        clean_rows(TEXTS),
        {"doccano": SYNTH / "doccano_project"},
        tie_break="unlabeled",
        imports=[imp("doccano", "doccano", "doccano")],
    )
    assert out["r1"]["label"] == "spam" and {v["annotator"] for v in out["r1"]["label_votes"]} == {"alice", "bob"}
    assert out["r2"]["label"] is None  # alice ham, bob spam
    assert out["r4"]["label"] is None and [r["reason"] for r in rejects] == ["multiple_labels"]
    assert metrics["agreement"]["annotators"] == 2
    assert len(unmatched) == 1


def test_doccano_merged_all_jsonl_counts_each_label_as_a_vote(tmp_path):
    _, out, _, _ = label(
        tmp_path,
        clean_rows(TEXTS),
        {"all.jsonl": SYNTH / "doccano_merged" / "all.jsonl"},
        tie_break="unlabeled",
        imports=[imp("doccano", "all.jsonl", "doccano")],
    )
    assert out["r1"]["label"] == "spam" and len(out["r1"]["label_votes"]) == 2
    assert out["r2"]["label"] is None and len(out["r2"]["label_votes"]) == 2
    assert out["r3"]["label_votes"] == [
        {"annotator": "all", "label": "spam", "import": "doccano", "ground_truth": False}
    ]


# ------------------------------------------------------------------ Prodigy


def test_prodigy_binary_reject_skipped_or_mapped(tmp_path):
    exports = {"binary.jsonl": SYNTH / "prodigy_binary.jsonl"}
    metrics, out, _, _ = label(
        tmp_path,
        clean_rows(TEXTS),
        exports,
        imports=[imp("pg", "binary.jsonl", "prodigy", join="field", key="row_id", row_field="id")],
    )
    assert out["r1"]["label"] == "spam" and out["r1"]["label_votes"][0]["annotator"] == "sms-alice"
    assert out["r2"]["label"] is None and out["r4"]["label"] is None
    pg = metrics["annotations"]["imports"]["pg"]
    assert pg["skipped"]["rejected_answer"] == 2 and pg["skipped"]["ignored"] == 1 and pg["votes"] == 1

    _, out, _, _ = label(
        tmp_path,
        clean_rows(TEXTS),
        exports,
        imports=[imp("pg", "binary.jsonl", "prodigy", join="text", reject_label="ham")],
    )
    assert (out["r2"]["label"], out["r4"]["label"], out["r3"]["label"]) == ("ham", "ham", None)


def test_prodigy_choice_accept_list(tmp_path):
    metrics, out, rejects, _ = label(
        tmp_path,
        clean_rows(TEXTS),
        {"choice.jsonl": SYNTH / "prodigy_choice.jsonl"},
        max_reject_fraction=0.5,
        imports=[imp("pg", "choice.jsonl", "prodigy")],
    )
    assert (out["r1"]["label"], out["r2"]["label"], out["r6"]["label"]) == ("spam", "ham", None)
    pg = metrics["annotations"]["imports"]["pg"]
    assert pg["skipped"]["rejected_answer"] == 1 and pg["rejected"]["no_label"] == 1
    assert [r["reason"] for r in rejects] == ["no_label"]


# ------------------------------------------------------------------ plain files, joins, source labels


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / "src" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)
    return path


KAPPA_A = ["s", "s", "s", "s", "h", "h", "h", "h", "h", "h"]
KAPPA_B = ["s", "s", "s", "h", "h", "h", "h", "h", "s", "h"]


def test_two_annotators_cohen_kappa_worked_by_hand(tmp_path):
    # 10 rows. Observed agreement p_o = 8/10 (rows 4 and 9 differ).
    # A says spam 4/10, B says spam 4/10: chance agreement p_e = 0.4*0.4 + 0.6*0.6 = 0.52.
    # kappa = (0.8 - 0.52) / (1 - 0.52) = 0.28 / 0.48 = 0.583333...
    texts = {f"k{n:02d}": f"message number {n}" for n in range(10)}
    lines = ["id,label,who"] + [f"k{n:02d},{'spam' if a == 's' else 'ham'},ann_a" for n, a in enumerate(KAPPA_A)]
    lines += [f"k{n:02d},{'spam' if b == 's' else 'ham'},ann_b" for n, b in enumerate(KAPPA_B)]
    csv_path = write(tmp_path, "votes.csv", "\n".join(lines) + "\n")
    metrics, out, _, _ = label(
        tmp_path,
        clean_rows(texts),
        {"votes.csv": csv_path},
        tie_break="unlabeled",
        imports=[imp("csv", "votes.csv", "csv", join="id", annotator_field="who")],
    )
    ag = metrics["agreement"]
    assert ag["cohen_kappa"] == pytest.approx(0.28 / 0.48, abs=1e-6)
    # Fleiss with two raters and equal marginals equals Scott's pi = Cohen here.
    assert ag["fleiss_kappa"] == pytest.approx(0.28 / 0.48, abs=1e-6)
    # Krippendorff: 20 values, 8 spam and 12 ham; 4 disagreeing ordered pairs.
    # alpha = 1 - (n-1) * D_o / sum_{c!=k} n_c n_k = 1 - 19 * 4 / (2 * 8 * 12) = 1 - 76/192.
    assert ag["krippendorff_alpha"] == pytest.approx(1 - 76 / 192, abs=1e-6)
    assert ag["disagreement_share"] == pytest.approx(0.2)
    assert ag["rows_multi_vote"] == 10 and ag["ties"] == 2
    assert out["k03"]["label"] is None and out["k00"]["label"] == "spam"


def test_three_annotators_fleiss_and_alpha_by_hand():
    # 4 rows, 3 votes each over 2 classes: counts per row (class0, class1).
    counts = [[3, 0], [0, 3], [2, 1], [1, 2]]
    # P_i = (sum n_ij^2 - 3) / 6 -> 1, 1, 1/3, 1/3: mean 2/3; p_j = 6/12 each: P_e = 0.5.
    assert agreement.fleiss_kappa(counts) == pytest.approx((2 / 3 - 0.5) / 0.5, abs=1e-6)
    # Coincidences: o_01 = o_10 = 2 * (2*1)/2 = 2; n_0 = n_1 = 6, n = 12.
    # alpha = 1 - (n-1) * (o_01 + o_10) / (2 * n_0 * n_1) = 1 - 11 * 4 / 72.
    assert agreement.krippendorff_alpha(counts) == pytest.approx(1 - 44 / 72, abs=1e-6)
    assert agreement.fleiss_kappa([[1, 0], [0, 1]]) is None  # no row with two votes


def test_plain_jsonl_join_by_source_id_field_and_text_hash(tmp_path):
    rows = clean_rows(TEXTS)
    for n, row in enumerate(rows):
        row["msg_id"] = f"m{n}"  # a source's own id, kept by ingest.keep_fields
    jsonl = write(
        tmp_path,
        "a.jsonl",
        "\n".join(
            [
                json.dumps({"msg_id": "m0", "label": "SPAM"}),
                json.dumps({"msg_id": "m99", "label": "ham"}),
                json.dumps({"label": "ham"}),
            ]
        )
        + "\n",
    )
    _metrics, out, rejects, unmatched = label(
        tmp_path,
        rows,
        {"a.jsonl": jsonl},
        max_reject_fraction=0.5,
        imports=[imp("j", "a.jsonl", "jsonl", join="field", key="msg_id", row_field="msg_id")],
    )
    assert out["r1"]["label"] == "spam" and out["r1"]["label_votes"][0]["annotator"] == "j"
    assert [u["key"] for u in unmatched] == ["m99"] and [r["reason"] for r in rejects] == ["missing_key"]

    # the text join ignores case, Unicode form and whitespace, and also matches clean's text_raw
    rows[1]["text_raw"] = "  I'LL BE HOME   late tonight, save me some dinner "
    rows[1]["text"] = "cleaned text differs"
    text_csv = write(tmp_path, "t.csv", 'text,label\n"i\'ll be home late tonight,  save me some DINNER",ham\n')
    _, out, _, _ = label(tmp_path, rows, {"t.csv": text_csv}, imports=[imp("t", "t.csv", "csv")])
    assert out["r2"]["label"] == "ham"


def test_join_by_source_own_id(tmp_path):
    from stages.lib.core.ids import row_id

    rows = clean_rows(TEXTS)
    for n, row in enumerate(rows):  # ids as ingest makes them for a source `sms` with `id_field`
        row["id"] = row_id("sms", f"id:{1000 + n}")
    votes = write(tmp_path, "v.jsonl", json.dumps({"id": 1000, "label": "spam"}) + "\n")
    _, out, _, unmatched = label(
        tmp_path, rows, {"v.jsonl": votes}, imports=[imp("v", "v.jsonl", "jsonl", join="source_id", source="sms")]
    )
    assert out[row_id("sms", "id:1000")]["label"] == "spam" and unmatched == []


def test_source_labels_as_one_more_annotator_fallback_or_only(tmp_path):
    rows = clean_rows(TEXTS, SOURCE_LABELS)
    exports = {"ls.json": SYNTH / "label_studio_full.json"}
    ls = [imp("ls", "ls.json", "label_studio", join="id", key="row_id")]
    # only annotator: no imports
    metrics, out, _, _ = label(tmp_path, rows, source_labels="annotator")
    assert {k: r["label"] for k, r in out.items()} == SOURCE_LABELS
    assert metrics["agreement"]["annotators"] == 1 and metrics["agreement"]["cohen_kappa"] is None
    assert metrics["classes"] == {"ham": 3, "spam": 2} and metrics["unlabeled"] == 1
    # one more annotator: r2 now has ham (alice, source) against spam (bob)
    metrics, out, _, _ = label(tmp_path, rows, exports, source_labels="annotator", imports=ls)
    assert out["r2"]["label"] == "ham" and out["r2"]["label_agreement"] == pytest.approx(2 / 3, abs=1e-6)
    assert metrics["agreement"]["annotators"] == 3 and metrics["agreement"]["fleiss_kappa"] is not None
    # fallback: the source label only where no import voted (r6)
    _, out, _, _ = label(tmp_path, rows, exports, source_labels="fallback", imports=ls)
    assert out["r6"]["label"] == "ham" and "r2" not in out


def test_unknown_source_label_rejected_and_unlabeled_rows_dropped(tmp_path):
    rows = clean_rows(TEXTS, {**SOURCE_LABELS, "r6": "eggs"})
    metrics, out, rejects, _ = label(tmp_path, rows, source_labels="annotator", keep_unlabeled=False)
    assert set(out) == {"r1", "r2", "r3", "r4"}
    assert metrics["dropped"] == {"tie": 0, "unlabeled": 2}
    assert sorted(r["reason"] for r in rejects) == ["unknown_label", "unlabeled", "unlabeled"]
    assert metrics["annotations"]["imports"]["source"]["rejected"]["unknown_label"] == 1


def test_later_import_from_same_annotator_replaces_earlier_votes(tmp_path):
    first = write(tmp_path, "first.csv", "id,label,who\nr1,ham,ann\nr2,ham,ann\n")
    fix = write(tmp_path, "fix.csv", "id,label,who\nr1,spam,ann\n")
    metrics, out, _, _ = label(
        tmp_path,
        clean_rows(TEXTS),
        {"first.csv": first, "fix.csv": fix},
        imports=[
            imp("first", "first.csv", "csv", join="id", annotator_field="who"),
            imp("fix", "fix.csv", "csv", join="id", annotator_field="who"),
        ],
    )
    assert out["r1"]["label"] == "spam" and len(out["r1"]["label_votes"]) == 1
    assert out["r2"]["label"] == "ham" and metrics["annotations"]["replaced"] == 1


def test_dawid_skene_learns_that_two_annotators_always_say_spam(tmp_path):
    # g1 and g2 are always right; s1 and s2 answer `spam` whatever the message. On every ham row the
    # majority is a 2-2 tie; Dawid-Skene learns that s1/s2's `spam` carries no information and follows g1/g2.
    texts = {f"q{n:02d}": f"text {n}" for n in range(12)}
    truth = {f"q{n:02d}": "spam" if n % 3 == 0 else "ham" for n in range(12)}
    lines = ["id,label,who"]
    for row, t in truth.items():
        lines += [f"{row},{t},g1", f"{row},{t},g2", f"{row},spam,s1", f"{row},spam,s2"]
    votes = write(tmp_path, "v.csv", "\n".join(lines) + "\n")
    common = {"tie_break": "unlabeled", "imports": [imp("v", "v.csv", "csv", join="id", annotator_field="who")]}
    _, maj, _, _ = label(tmp_path, clean_rows(texts), {"v.csv": votes}, **common)
    _, ds, _, _ = label(tmp_path, clean_rows(texts), {"v.csv": votes}, aggregation="dawid_skene", **common)
    assert {k: r["label"] for k, r in maj.items()} == {k: "spam" if t == "spam" else None for k, t in truth.items()}
    assert {k: r["label"] for k, r in ds.items()} == truth
    assert min(r["label_agreement"] for r in ds.values()) > 0.9  # the posterior of the chosen class


def test_dawid_skene_single_annotator_is_majority():
    post = agreement.dawid_skene([0, 1, 2], [0, 0, 0], [1, 0, 1], 3, 1, 2)
    assert post.argmax(axis=1).tolist() == [1, 0, 1]


# ------------------------------------------------------------------ failures and determinism


def test_import_outside_annotations_folder_fails(tmp_path):
    (tmp_path / "elsewhere.csv").write_text("id,label\nr1,ham\n")
    with pytest.raises(StageError, match=r"outside data/annotations/, which dvc.yaml watches"):
        label(tmp_path, clean_rows(TEXTS), imports=[{"name": "x", "path": "elsewhere.csv", "format": "csv"}])


def test_wrong_join_fails_with_the_fix(tmp_path):
    with pytest.raises(StageError, match=r"none of its 10 annotations matched a row; check `join` and `key`"):
        label(
            tmp_path,
            clean_rows(TEXTS),
            {"ls.json": SYNTH / "label_studio_full.json"},
            imports=[imp("ls", "ls.json", "label_studio", join="id", key="text")],
        )  # texts are not row ids
    with pytest.raises(StageError, match=r"10 of 10 annotations are unusable.*missing_key.*no value in 'id'"):
        label(
            tmp_path,
            clean_rows(TEXTS),
            {"ls.json": SYNTH / "label_studio_full.json"},
            imports=[imp("ls", "ls.json", "label_studio", join="id")],
        )  # task data has no `id`: key row_id


def test_outputs_are_byte_identical_across_runs(tmp_path):
    exports = {"ls.json": SYNTH / "label_studio_full.json"}
    cfg = {"source_labels": "annotator", "imports": [imp("ls", "ls.json", "label_studio", join="id", key="row_id")]}
    label(tmp_path, clean_rows(TEXTS, SOURCE_LABELS), exports, **cfg)
    first = {p.name: p.read_bytes() for p in (tmp_path / "out").glob("*.parquet")}
    label(tmp_path, clean_rows(TEXTS, SOURCE_LABELS), exports, **cfg)
    assert first == {p.name: p.read_bytes() for p in (tmp_path / "out").glob("*.parquet")}


# ------------------------------------------------------------------ the real pipeline


def test_dvc_repro_reruns_label_and_split_only_when_an_export_is_added(tmp_path):
    """A copy of the project in a fresh git repo; `dvc repro`, add an export, `dvc repro` again.

    Until the clean stage is merged this runs ingest -> label -> split (label
    reads ingest's rows through `paths.clean.rows`); with clean present it runs
    ingest -> clean -> label -> split and checks clean is skipped too.
    """
    import os
    import subprocess
    import sys

    import yaml

    repo = Path(__file__).parents[2]
    files = subprocess.run(["git", "ls-files", "-z"], cwd=repo, capture_output=True, check=True).stdout
    for rel in filter(None, files.decode().split("\0")):
        if (repo / rel).is_file() and not rel.startswith(("tests/", "benchmarks/")):
            (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(repo / rel, tmp_path / rel)
    (tmp_path / "dvc.lock").unlink(missing_ok=True)  # the committed lock describes the full demo pipeline
    sms = tmp_path / "data/sample/sms_spam_collection/SMSSpamCollection"
    sms.write_text("".join(sms.read_text().splitlines(keepends=True)[:300]))  # a small sample keeps it quick

    pipeline = yaml.safe_load((tmp_path / "dvc.yaml").read_text())
    params = yaml.safe_load((tmp_path / "params.yaml").read_text())
    has_clean = "clean" in pipeline["stages"]
    keep = {"collect", "ingest", "clean", "label", "split"} if has_clean else {"collect", "ingest", "label", "split"}
    pipeline["stages"] = {k: v for k, v in pipeline["stages"].items() if k in keep}
    if not has_clean:
        params["paths"]["clean"]["rows"] = params["paths"]["ingest"]["rows"]
        params["split"]["group_by"] = None
    batches = tmp_path / "data/annotations/batches"
    batches.mkdir(parents=True)
    rows_of = [line.split("\t", 1) for line in sms.read_text().splitlines()]
    (batches / "batch1.csv").write_text(
        "text,label\n" + "".join(f'"{t}",{lab}\n' for lab, t in rows_of[:3] if '"' not in t)
    )
    params["label"]["imports"] = [
        {
            "name": "batches",
            "path": "data/annotations/batches",
            "format": "csv",
            "join": "text",
            "key": None,
            "row_field": None,
            "question": None,
            "annotator_field": None,
            "reject_label": None,
            "delimiter": ",",
        }
    ]
    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump(pipeline, sort_keys=False))
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))

    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@t",
    }

    def sh(*cmd: str) -> str:
        done = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout + done.stderr

    sh("git", "init", "-q")
    sh("git", "add", "-A")
    sh("git", "commit", "-qm", "copy")
    first = sh("dvc", "repro")
    assert all(f"Running stage '{s}'" in first for s in keep), first
    label_metrics = json.loads((tmp_path / "metrics/details/label.json").read_text())
    assert label_metrics["annotations"]["imports"]["batches"]["votes"] >= 2

    # another batch disagrees with the first message's label (2 votes to 1: the label stands, agreement drops)
    lab, t = rows_of[0]
    other = "ham" if lab == "spam" else "spam"
    (batches / "batch2.csv").write_text(f'text,label,who\n"{t}",{other},second\n')
    second = sh("dvc", "repro")
    ran = {s for s in keep if f"Running stage '{s}'" in second}
    assert ran == {"label", "split"}, second
    assert "Stage 'ingest' didn't change" in second
    after = json.loads((tmp_path / "metrics/details/label.json").read_text())
    assert (
        after["annotations"]["imports"]["batches"]["read"]
        == label_metrics["annotations"]["imports"]["batches"]["read"] + 1
    )
    assert label_metrics["agreement"]["disagreement_share"] == 0.0 < after["agreement"]["disagreement_share"]
    split_metrics = json.loads((tmp_path / "metrics/split.json").read_text())
    assert split_metrics["rows_in"] == after["rows_out"]


def test_import_folder_symlink_out_of_repo_is_refused(tmp_path):
    """A file linked into the annotations folder from outside the repository is refused, naming the import."""
    outside = tmp_path.parent / f"{tmp_path.name}-outside.jsonl"
    outside.write_text('{"text": "x", "label": "spam"}\n')
    (tmp_path / "data" / "annotations" / "doccano").mkdir(parents=True)
    (tmp_path / "data" / "annotations" / "doccano" / "alice.jsonl").symlink_to(outside)
    with pytest.raises(StageError, match=r"label import 'doccano' \(path: data/annotations/doccano\): .* is outside"):
        label(tmp_path, clean_rows(TEXTS), imports=[imp("doccano", "doccano", "doccano")])
