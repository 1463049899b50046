"""Training/serving skew: for every ingest format and the bundled sample, the text predict and monitor make of a
raw record is byte for byte the text ingest + clean made of it, for every row clean keeps.

The records carry what each text step changes (mojibake, HTML, full-width letters, control and zero-width
characters, CRLF, runs of spaces, e-mails, UK national phone numbers, several text fields), and the committed
params are used, so every setting clean applies is in play.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from schemas import load_params
from schemas.ingest import IngestParams, Source
from schemas.paths import CleanPaths, IngestPaths
from stages import clean, ingest, monitor, predict
from stages.lib.model.tfidf import baseline_pipeline, save_baseline

from ..conftest import REPO

PARAMS = load_params(REPO / "params.yaml")

SUBJECTS = ["Re: prize", "", "Hello", "caf\u00c3\u00a9 news", "Order", "x", "Lunch", "", "Meeting", "URGENT"]
TEXTS = [
    "WIN a FREE prize &amp; call 09061701461 now!",
    "Call me on 07911 123456 or mail jo@example.co.uk",
    "That\u0092s  fine,\u200b see you\tat  8",
    "caf\u00c3\u00a9 &lt;#&gt; is open",
    "\uff26\uff55\uff4c\uff4c width \ufb01ne text here",
    "ok",  # clean's filters drop it in the single-field formats
    "Lunch at 1?\r\nSure, see you there",
    "WIN a FREE prize &amp; call 09061701461 now!",  # an exact duplicate after normalisation
    "<p>Meeting moved to <b>Friday</b></p>",
    "Your card 4111 1111 1111 1111 was charged, IP 10.0.0.1",
]
LABELS = ["spam", "ham", "ham", "ham", "ham", "ham", "ham", "spam", "ham", "spam"]


def records() -> list[dict[str, str]]:
    return [{"subject": s, "body": t, "label": lab} for s, t, lab in zip(SUBJECTS, TEXTS, LABELS, strict=True)]


def write_csv(path: Path, delimiter: str) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, ["subject", "body", "label"], delimiter=delimiter)
        writer.writeheader()
        writer.writerows(records())


def write_hf(path: Path) -> None:
    import datasets

    datasets.Dataset.from_list(records()).save_to_disk(str(path))


def write_collected(path: Path) -> None:
    path.mkdir(parents=True)
    rows = [{"url": f"https://example.org/{i}", "text": r["body"]} for i, r in enumerate(records())]
    pq.write_table(pa.Table.from_pylist(rows), path / "pages.parquet")


def write_text_dir(path: Path) -> None:
    for i, r in enumerate(records()):
        (path / r["label"]).mkdir(parents=True, exist_ok=True)
        (path / r["label"] / f"{i:02d}.txt").write_text(r["body"], encoding="utf-8")


BOTH = {"text_field": ["subject", "body"], "label_field": "label"}
FORMATS: dict[str, tuple[str, dict[str, Any], Any]] = {
    "csv": ("a.csv", {"format": "csv", **BOTH}, lambda p: write_csv(p, ",")),
    "tsv": ("a.tsv", {"format": "tsv", **BOTH}, lambda p: write_csv(p, "\t")),
    "jsonl": (
        "a.jsonl",
        {"format": "jsonl", **BOTH},
        lambda p: p.write_text("".join(json.dumps(r) + "\n" for r in records()), encoding="utf-8"),
    ),
    "json": ("a.json", {"format": "json", **BOTH}, lambda p: p.write_text(json.dumps(records()), encoding="utf-8")),
    "parquet": (
        "a.parquet",
        {"format": "parquet", **BOTH},
        lambda p: pq.write_table(pa.Table.from_pylist(records()), p),
    ),
    "text": (
        "a.txt",
        {"format": "text"},
        lambda p: p.write_text("".join(t.replace("\r\n", " ") + "\n" for t in TEXTS), encoding="utf-8"),
    ),
    "text_dir": ("docs", {"format": "text_dir", "label_from_dir": True}, write_text_dir),
    "hf_disk": ("hf", {"format": "hf_disk", **BOTH}, write_hf),
    "collected": ("snap/site", {"format": "collected", "id_field": "url", "text_field": "text"}, write_collected),
}


def fitted_baseline(folder: Path) -> Path:
    """compare's TF-IDF baseline, fitted on a few rows: predict's cheapest model, the text path is the same."""
    pipeline = baseline_pipeline(PARAMS.compare.baseline).fit(
        ["win a prize", "see you", "free cash", "lunch"], LABELS[:4]
    )
    save_baseline(pipeline, PARAMS.compare.baseline, folder)
    return folder


def texts_by_location(rows: list[dict[str, Any]]) -> dict[str, str]:
    return {r["location"]: r["text"] for r in rows}


def assert_no_skew(root: Path, source: Source, input_path: Path, work: Path) -> int:
    """Ingest + clean the source; predict and monitor its file; compare the texts of every row clean keeps."""
    ingest_paths = IngestPaths(rows=str(work / "in/rows.parquet"), rejects=str(work / "in/rejects.parquet"))
    ingest.run(IngestParams(sources={source.name: source}, max_reject_fraction=1.0), ingest_paths, root=root)
    clean_paths = CleanPaths(rows=str(work / "clean/rows.parquet"), rejects=str(work / "clean/rejects.parquet"))
    cfg = PARAMS.clean.model_copy(update={"num_proc": 1})
    clean.run(cfg, clean_paths, input_rows=ingest_paths.rows)
    trained = texts_by_location(pq.read_table(clean_paths.rows).to_pylist())
    assert trained

    params = PARAMS.model_copy(
        update={
            "paths": PARAMS.paths.model_copy(
                update={"compare": PARAMS.paths.compare.model_copy(update={"baseline_model": str(work / "tfidf")})}
            )
        }
    )
    fitted_baseline(work / "tfidf")
    out = work / "predicted.parquet"
    predict.run("tfidf_logreg", source, input_path, out, params)
    served = texts_by_location(pq.read_table(out).to_pylist())
    scored, _, _ = monitor.read_batch(
        {source.name: source}, PARAMS.clean, root, max_reject_fraction=PARAMS.monitor.max_reject_fraction
    )

    relocated = {_relative(loc, input_path, root): text for loc, text in served.items()}
    for location, text in trained.items():
        assert relocated.get(location) == text, f"predict's text of {location} differs from clean's"
    assert {loc: t for loc, t in texts_by_location(scored).items() if loc in trained} == trained
    return len(trained)


def _relative(location: str, input_path: Path, root: Path) -> str:
    """predict reads INPUT from its folder, so its locations start at INPUT's name; ingest's at the root."""
    prefix = str(input_path.parent.relative_to(root))
    return location if prefix == "." or location.startswith("http") else f"{prefix}/{location}"


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_predict_and_monitor_make_the_text_clean_made(fmt, tmp_path):
    name, options, write = FORMATS[fmt]
    root = tmp_path / "project"
    (root / name).parent.mkdir(parents=True, exist_ok=True)
    if fmt == "text_dir":
        (root / name).mkdir()
    write(root / name)
    source = Source.model_validate({"name": "s", "path": name, **options})
    kept = assert_no_skew(root, source, root / name, tmp_path / "work")
    assert kept >= 6


def test_the_bundled_sample_gives_predict_and_monitor_the_text_clean_made(tmp_path):
    source = PARAMS.ingest.sources["sms_spam"]
    sample = REPO / source.path
    root = tmp_path / "project"
    (root / source.path).parent.mkdir(parents=True)
    shutil.copyfile(sample, root / source.path)
    assert assert_no_skew(root, source, root / source.path, tmp_path / "work") > 5000
