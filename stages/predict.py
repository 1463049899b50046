"""predict: a trained approach on new text, outside the DVC graph.

    python -m stages.predict --approach full new_messages.csv predictions.csv
    python -m stages.predict --approach full --source sms_spam --format text lines.txt out.jsonl
    python -m stages.predict --approach tfidf_logreg new_messages.csv predictions.csv   # compare's baseline

INPUT is read with the settings of one of `ingest.sources` (the first unless
--source names one; --format overrides its format), so a file shaped like the
training data needs no options. Each text is normalised and PII-masked with the
`clean` settings the model was trained behind. OUTPUT (.csv, .jsonl or
.parquet) gets one row per readable input: location, text, predicted label,
confidence and prob_<label> for every class. Unreadable rows follow the ingest
contract: counted by reason, written to OUTPUT's `.rejects.jsonl` beside it,
and the command fails (writing nothing) when their share exceeds
`ingest.max_reject_fraction`.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import torch

from schemas import load_params
from schemas.ingest import IMPLICIT_TEXT_FORMATS, Source
from stages.lib.clean import pii
from stages.lib.core.errors import StageError, cli
from stages.lib.core.io import atomic_path, write_parquet
from stages.lib.core.log import get_logger
from stages.lib.core.spreadsheet import neutralise_table
from stages.lib.ingest.readers import read_source
from stages.lib.model.inference import load_trained, predict_proba
from stages.lib.model.tfidf import NAME as TFIDF
from stages.lib.model.tfidf import load_baseline
from stages.lib.text import normalize

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
    texts, locations, rejects = rows_from(source, records, params.clean)
    if records and len(rejects) / len(records) > params.ingest.max_reject_fraction:
        counts = Counter(r["reason"] for r in rejects)
        raise StageError(
            f"{input_path}: {len(rejects)} of {len(records)} rows could not be read "
            f"({len(rejects) / len(records):.1%} > ingest.max_reject_fraction={params.ingest.max_reject_fraction}); "
            f"reasons {dict(counts)}. Check --format and the source's delimiter, quoting and encoding."
        )
    probs, labels = predict_texts(approach, texts, params, batch_size)
    table = pa.table(
        {
            "location": pa.array(locations, pa.string()),
            "text": pa.array(texts, pa.string()),
            "predicted": pa.array([labels[int(p.argmax())] for p in probs], pa.string()),
            "confidence": pa.array([float(p.max()) for p in probs], pa.float64()),
            **{f"prob_{label}": pa.array([float(p[j]) for p in probs], pa.float64()) for j, label in enumerate(labels)},
        }
    )
    write_table(table, output_path)
    rejects_path = output_path.with_name(output_path.stem + ".rejects.jsonl")
    with atomic_path(rejects_path) as tmp:
        tmp.write_text("".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rejects))
    counts = Counter(r["reason"] for r in rejects)
    log.info(
        "%s: %d rows predicted with %s, %d rejected %s", input_path, len(texts), approach, len(rejects), dict(counts)
    )
    return {"rows_in": len(records), "rows_out": len(texts), "dropped": dict(sorted(counts.items()))}


def predict_texts(approach: str, texts: list[str], params: Any, batch_size: int) -> tuple[Any, list[str]]:
    """(class probabilities per text, the labels in column order) from a trained approach or the TF-IDF baseline."""
    if approach == TFIDF:
        pipeline, meta = load_baseline(params.paths.compare.baseline_model)
        return (pipeline.predict_proba(texts) if texts else np.zeros((0, len(meta["labels"])))), meta["labels"]
    model_dir = Path(params.paths.train.models_dir) / approach
    try:
        model, tokenizer, meta = load_trained(model_dir, params.paths.base_model.out, params.model.trust_remote_code)
    except FileNotFoundError as exc:
        raise StageError(str(exc)) from None
    with torch.no_grad():
        probs = predict_proba(model, tokenizer, texts, meta["max_length"], batch_size)
    return probs, meta["labels"]


def rows_from(source: Source, records: list, clean: Any) -> tuple[list[str], list[str], list[dict[str, Any]]]:
    """(texts, locations, rejects): each readable record's text, normalised and masked as clean does."""
    steps = normalize.build_steps(**clean.normalize.model_dump())
    tokens = {kind: getattr(clean.pii, kind).token for kind in pii.KINDS if getattr(clean.pii, kind).enabled}
    text_field = "text" if source.format in IMPLICIT_TEXT_FORMATS else source.text_field
    texts, locations, rejects = [], [], []
    for record in records:
        reason, detail, text = record.reason, record.detail, None
        if reason is None:
            fields = record.fields or {}
            value = fields.get(text_field)
            if text_field not in fields:
                reason, detail = "missing_text", f"no field '{text_field}'"
            elif isinstance(value, (dict, list)):
                reason, detail = "text_not_string", type(value).__name__
            else:
                text, _ = normalize.normalize("" if value is None else str(value), steps)
                text, _ = pii.mask(text, tokens)
                if not text.strip():
                    reason = "empty_text"
        if reason is not None:
            rejects.append({"location": record.location, "reason": reason, "detail": detail, "raw": record.raw})
            continue
        texts.append(text)
        locations.append(record.location)
    return texts, locations, rejects


def write_table(table: pa.Table, path: Path) -> None:
    if path.suffix == ".parquet":
        write_parquet(table, path)
        return
    with atomic_path(path) as tmp:
        if path.suffix == ".csv":
            pacsv.write_csv(neutralise_table(table), tmp)  # untrusted text: no spreadsheet formulas
        else:
            tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in table.to_pylist()))


def pick_source(sources: Any, name: str | None) -> Source:
    """The ingest source named `name` (default: the first one)."""
    by_name = dict(sources.items()) if isinstance(sources, dict) else {s.name: s for s in sources}
    if name is None:
        return next(iter(by_name.values()))
    if name not in by_name:
        raise StageError(f"--source {name} is not in ingest.sources: {', '.join(by_name)}")
    return by_name[name]


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
        source = Source.model_validate(source.model_dump() | {"format": args.format})
    if not args.input.is_file():
        raise StageError(f"{args.input} not found")
    run(args.approach, source, args.input.resolve(), args.output, params)


if __name__ == "__main__":
    cli(main)
