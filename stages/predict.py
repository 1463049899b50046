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
`ingest.max_reject_fraction`. OUTPUT and its rejects switch together under a journal keyed by the two paths
(`.refinery/predict@<digest>.json`); a run killed half-way is repaired by the next predict, whatever its arguments.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path
from typing import Any

import torch

from schemas import load_params
from schemas.ingest import Source
from stages.lib.core.errors import StageError, cli
from stages.lib.core.io import stage_outputs
from stages.lib.core.log import get_logger
from stages.lib.ingest.readers import read_source
from stages.lib.ingest.sources import pick_source, with_format
from stages.lib.model.tfidf import NAME as TFIDF
from stages.lib.predict.models import predict_texts
from stages.lib.predict.output import OUTPUT_FORMATS, outputs, prediction_table, write_predictions
from stages.lib.text.prepare import build_text_prep, prepare_records

log = get_logger("predict")


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
    counts = Counter(r["reason"] for r in rejects)
    if records and len(rejects) / len(records) > params.ingest.max_reject_fraction:
        raise StageError(
            f"{input_path}: {len(rejects)} of {len(records)} rows could not be read "
            f"({len(rejects) / len(records):.1%} > ingest.max_reject_fraction={params.ingest.max_reject_fraction}); "
            f"reasons {dict(counts)}. Check --format and the source's delimiter, quoting and encoding."
        )
    probs, labels = predict_texts(approach, texts, params, batch_size, text.fingerprint)
    write_predictions(prediction_table(locations, texts, probs, labels), rejects, output_path)
    log.info(
        "%s: %d rows predicted with %s, %d rejected %s", input_path, len(texts), approach, len(rejects), dict(counts)
    )
    return {"rows_in": len(records), "rows_out": len(texts), "dropped": dict(sorted(counts.items()))}


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
    # journal keyed by OUTPUT and its rejects, not the command line; a killed predict's pair is repaired first
    with stage_outputs("predict", outputs=outputs(args.output)):
        params = load_params(check_peft=True)
        if params.task == "sft":  # a causal LM answers prompts: stages/lib/model/causal/predict.py
            from stages.lib.model.causal import predict as sft

            if args.approach not in params.approaches:
                raise StageError(f"approach '{args.approach}' is not in approaches: {', '.join(params.approaches)}")
            source = pick_source(params.ingest.sources, args.source)
            source = source.model_copy(update={"format": args.format}) if args.format else source
            log.info("%s", sft.run(args.approach, source, args.input.resolve(), args.output, params))
            return
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
    cli(main, journal=False)
