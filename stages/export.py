"""export: the SFT pipeline's final splits for any trainer, with a dataset card.

Writes `paths.export.export/`: a Hugging Face DatasetDict (`dataset/`, `datasets.load_from_disk`), the
card (`README.md`, with the YAML header the Hub reads and the pipeline's numbers), JSONL in the formats of
`export.formats`, LLaMA-Factory's `dataset_info.json` and an axolotl `datasets` snippet. Exports the rows render
kept (the others are counted as `dropped.not_rendered`, their reasons in render's rejects).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from schemas import load_params
from schemas.export import ExportParams, ExportPaths
from schemas.render import is_inline
from stages.lib.core.errors import StageError, cli
from stages.lib.core.io import atomic_path
from stages.lib.core.log import get_logger
from stages.lib.core.metrics import write_metrics
from stages.lib.export.chat import export_chat
from stages.lib.render.templates import source_of

log = get_logger("export")

# its rows are render's rows_out (the details count them per file)
HEADLINE = ["tokens"]


def run(cfg: ExportParams, paths: ExportPaths, template: str, train_on_eos: bool) -> dict[str, Any]:
    """Write the export folder; returns the metrics. `template`, `train_on_eos`: render's settings."""
    details = {}
    for stage in cfg.card_stages:
        path = Path(paths.details_dir) / f"{stage}.json"
        if not path.is_file():
            raise StageError(f"export.card_stages lists '{stage}' but {path} is missing; run it or remove it")
        details[stage] = json.loads(path.read_text())
    name = "inline" if is_inline(template) else template
    with atomic_path(paths.export) as tmp:
        tmp.mkdir()
        settings = cfg.model_dump(exclude={"card_stages"})
        metrics = export_chat(
            Path(paths.split),
            Path(paths.rendered),
            details,
            tmp,
            (name, source_of(template)),
            train_on_eos,
            **settings,
        )
    log.info("exported %d rows (%d tokens) in %s", metrics["rows_out"], metrics["tokens"], ", ".join(cfg.formats))
    return metrics


def main() -> None:
    params = load_params()
    metrics = run(params.export, params.paths.export, params.render.template, params.render.train_on_eos)
    p = params.paths.export
    write_metrics(metrics, HEADLINE, p.metrics, p.details)


if __name__ == "__main__":
    cli(main)
