"""predict: a trained approach on new text, outside the DVC graph.

    python -m stages.predict --approach full new_messages.csv predictions.csv
    python -m stages.predict --approach full --format text lines.txt out.jsonl   # one message per line
    python -m stages.predict --approach tfidf_logreg new_messages.csv predictions.csv   # compare's baseline

INPUT is read with the settings of one of `ingest.sources` (the first, or --source NAME; --format reads
another format, dropping the options only the source's own format reads). Each record becomes model text
through the text path the training rows took (stages/lib/text/prepare.py, with `clean.normalize` and
`clean.pii`); predict refuses settings other than those the model folder recorded. OUTPUT (.csv, .jsonl or
.parquet) gets one row per readable input: location, text, predicted label, confidence and prob_<label> per
class. Unreadable rows follow the ingest contract: counted by reason, written to OUTPUT's `.rejects.jsonl`
(when there are some, or to empty an old one), and nothing is written when their share exceeds
`ingest.max_reject_fraction`.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import torch

from schemas import load_params
from schemas.ingest import Source
from stages.lib.core.errors import StageError, cli
from stages.lib.core.io import atomic_path, together, write_parquet
from stages.lib.core.log import get_logger
from stages.lib.ingest.readers import read_source
from stages.lib.ingest.sources import pick_source, with_format
from stages.lib.model.inference import load_trained, predict_proba
from stages.lib.model.tfidf import NAME as TFIDF
from stages.lib.model.tfidf import load_baseline
from stages.lib.text.fingerprint import check_model_text
from stages.lib.text.prepare import build_text_prep, prepare_records

log = get_logger("predict")

OUTPUT_FORMATS = (".csv", ".jsonl", ".parquet")


def run(
    approach: str,
    source: Source,
    input_path: Path,
    output_path: Path,
    params: Any,
    batch_size: int = 128,
) -> dict[str, Any]:
    """Predict every readable row of `input_path`; write OUTPUT and its rejects; return the counts."""
    if output_path.suffix not in OUTPUT_FORMATS:
        raise StageError(f"OUTPUT must end in {', '.join(OUTPUT_FORMATS)}; got {output_path.name}")
    torch.set_num_threads(params.model.num_threads)
    source = source.model_copy(update={"path": input_path.name})
    records = list(read_source(source, input_path.parent))
    text = build_text_prep(normalize=params.clean.normalize.model_dump(), pii=params.clean.pii.model_dump())
    kept, rejects = prepare_records(records, source.name, source.text_fields, text, "predict")
    texts, locations = [t for _, t in kept], [r.location for r, _ in kept]
    if records and len(rejects) / len(records) > params.ingest.max_reject_fraction:
        counts = Counter(r["reason"] for r in rejects)
        raise StageError(
            f"{input_path}: {len(rejects)} of {len(records)} rows could not be read "
            f"({len(rejects) / len(records):.1%} > ingest.max_reject_fraction={params.ingest.max_reject_fraction}); "
            f"reasons {dict(counts)}. Check --format and the source's delimiter, quoting and encoding."
        )
    probs, labels = predict_texts(approach, texts, params, batch_size, text.fingerprint)
    table = pa.table(
        {
            "location": pa.array(locations, pa.string()),
            "text": pa.array(texts, pa.string()),
            "predicted": pa.array([labels[int(p.argmax())] for p in probs], pa.string()),
            "confidence": pa.array([float(p.max()) for p in probs], pa.float64()),
            **{f"prob_{label}": pa.array([float(p[j]) for p in probs], pa.float64()) for j, label in enumerate(labels)},
        }
    )
    rejects_path = output_path.with_name(output_path.stem + ".rejects.jsonl")
    with together():
        write_table(table, output_path)
        if rejects or rejects_path.exists():  # no empty file per clean run; an old one is emptied, never left stale
            with atomic_path(rejects_path) as tmp:
                tmp.write_text("".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rejects))
    counts = Counter(r["reason"] for r in rejects)
    log.info(
        "%s: %d rows predicted with %s, %d rejected %s", input_path, len(texts), approach, len(rejects), dict(counts)
    )
    return {"rows_in": len(records), "rows_out": len(texts), "dropped": dict(sorted(counts.items()))}


def predict_texts(
    approach: str, texts: list[str], params: Any, batch_size: int, text: Mapping[str, Any]
) -> tuple[Any, list[str]]:
    """(class probabilities per text, the labels in column order) from a trained approach or the TF-IDF baseline.

    Raises StageError when the model is missing or recorded text settings other than `text` (the fingerprint
    of the settings the texts were just prepared with).
    """
    if approach == TFIDF:
        pipeline, meta = load_baseline(params.paths.compare.baseline_model)
        _check_text(meta, text, params.paths.compare.baseline_model)
        return (pipeline.predict_proba(texts) if texts else np.zeros((0, len(meta["labels"])))), meta["labels"]
    model_dir = Path(params.paths.train.models_dir) / approach
    try:
        model, tokenizer, meta = load_trained(model_dir, params.paths.base_model.out, params.model.trust_remote_code)
    except FileNotFoundError as exc:
        raise StageError(str(exc)) from None
    _check_text(meta, text, model_dir)
    with torch.no_grad():
        probs = predict_proba(model, tokenizer, texts, meta["max_length"], batch_size)
    return probs, meta["labels"]


def write_table(table: pa.Table, path: Path) -> None:
    if path.suffix == ".parquet":
        write_parquet(table, path)
        return
    with atomic_path(path) as tmp:
        if path.suffix == ".csv":
            pacsv.write_csv(table, tmp)
        else:
            tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in table.to_pylist()))


def _check_text(meta: Mapping[str, Any], text: Mapping[str, Any], model: str | Path) -> None:
    for warning in check_model_text(meta.get("text"), text, str(model)):
        log.warning("%s", warning)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m stages.predict", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--approach",
        required=True,
        help=f"an entry of params.yaml approaches (models/<approach>/), or {TFIDF} (compare's fitted baseline)",
    )
    parser.add_argument("--source", default=None, help="the ingest source whose read settings apply (default: first)")
    parser.add_argument("--format", default=None, help="override the source's format (csv, tsv, jsonl, text...)")
    parser.add_argument("input", type=Path)
    parser.add_argument("output", type=Path)
    args = parser.parse_args()
    params = load_params(check_peft=True)
    if args.approach not in params.approaches and args.approach != TFIDF:
        raise StageError(
            f"approach '{args.approach}' is not in params.yaml approaches: {', '.join(params.approaches)} "
            f"(or {TFIDF}, the baseline compare fits)"
        )
    source = pick_source(params.ingest.sources, args.source)
    if args.format:
        source = with_format(source, args.format)
    if not args.input.exists():  # a file, or a folder for text_dir and hf_disk
        raise StageError(f"{args.input} not found")
    run(args.approach, source, args.input.resolve(), args.output, params)


if __name__ == "__main__":
    cli(main)
