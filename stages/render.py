"""render: conversations to training tokens, with exact loss masks, a mask audit, a length report and packing.

Reads the split folder's train/validation/test conversations and the tokenizer folder; writes
`rendered/<split>.parquet` (`input_ids`, `labels` with -100 on untrained tokens, `length`, `n_trained`, the
rendered `prompt` and reference `answer`), `rendered/packed/<split>.parquet` with `render.packing`,
`rendered/rejects.parquet`, and `rendered/template.json` (the template text, its special tokens and end-of-turn
markers: what a trainer stores with the model, so that predict renders the same way). Every dropped row is
counted by reason: `rows_in == rows_out + sum(dropped)`. Two gates fail the stage (old outputs kept): the mask
audit (`render.max_audit_failure_share`) and the length report (`render.max_over_length_share`).
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

from schemas import load_params
from schemas.engine import EngineParams
from schemas.render import RenderParams, RenderPaths
from stages.lib.core.errors import StageError, cli
from stages.lib.core.io import atomic_path, write_table
from stages.lib.core.log import get_logger
from stages.lib.core.metrics import write_metrics
from stages.lib.core.rejects import rejects_table
from stages.lib.engine.session import ray_session
from stages.lib.render.files import (
    SPLITS,
    load_tokenizer,
    make_renderer,
    pack_file,
    render_file,
    template_record,
)
from stages.lib.render.tokens import Tally, summary

log = get_logger("render")

# rows_in and the length percentiles are in the details; the SFT headline stays within 40 values
HEADLINE = [
    "rows_out",
    "trained_tokens",
    "mask_audit.failed_rows",
    "length.over_max_length_share",
]


def run(cfg: RenderParams, paths: RenderPaths, engine: EngineParams | None = None) -> dict[str, Any]:
    """Render every split; returns the metrics (rows and rejects, mask audit, lengths, packing).

    `engine` (default local): with `kind: ray` the batches are encoded on Ray workers; same bytes out.
    """
    engine = engine or EngineParams()
    with contextlib.ExitStack() as stack:
        if engine.kind == "ray":
            stack.enter_context(ray_session(**engine.ray.model_dump()))
        return _run(cfg, paths, on_ray=engine.kind == "ray")


def _run(cfg: RenderParams, paths: RenderPaths, on_ray: bool) -> dict[str, Any]:
    tokenizer = load_tokenizer(paths.tokenizer)
    renderer = make_renderer(cfg.template, tokenizer)
    settings = cfg.model_dump(include={"mask_policy", "train_on_eos", "prompt_loss_weight", "max_length", "truncation"})
    tally, rejects, per_split, packing = Tally(), [], {}, {}
    with atomic_path(paths.rendered) as tmp:
        tmp.mkdir()
        for split in SPLITS:
            before = tally.rows_in - sum(tally.dropped.values())
            rejects += render_file(
                Path(paths.split) / f"{split}.parquet",
                tmp / f"{split}.parquet",
                split,
                renderer,
                tokenizer,
                tally,
                cfg.batch_size,
                on_ray,
                **settings,
            )
            per_split[split] = tally.rows_in - sum(tally.dropped.values()) - before
        if cfg.packing:
            (tmp / "packed").mkdir()
            for split in SPLITS:
                src, dst = tmp / f"{split}.parquet", tmp / "packed" / f"{split}.parquet"
                packing[split] = pack_file(src, dst, cfg.max_length)
        write_table(rejects_table(rejects, sort_key=lambda r: (r["reason"], r["id"])), tmp / "rejects.parquet")
        write_json_file(template_record(renderer, tokenizer), tmp / "template.json")
        metrics = summary(tally, cfg.max_length)
        metrics["splits"] = per_split
        if cfg.packing:
            metrics["packing"] = packing
        _gates(cfg, metrics, tally, renderer.name)
    log.info(
        "rendered %d of %d rows, %d tokens (%d trained)",
        metrics["rows_out"],
        metrics["rows_in"],
        metrics["tokens"],
        metrics["trained_tokens"],
    )
    return metrics


def write_json_file(data: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


def _gates(cfg: RenderParams, metrics: dict[str, Any], tally: Tally, template: str) -> None:
    audit, length = metrics["mask_audit"], metrics["length"]
    if audit["failed_share"] > cfg.max_audit_failure_share:
        examples = "\n  ".join(tally.audit_examples)
        raise StageError(
            f"mask audit: {audit['failed_rows']} of {metrics['rows_in']} rows fail with template "
            f"'{template}' (share {audit['failed_share']} > render.max_audit_failure_share "
            f"{cfg.max_audit_failure_share}); fix the template or raise the setting. Examples:\n  {examples}"
        )
    if length["over_max_length_share"] > cfg.max_over_length_share:
        raise StageError(
            f"length gate: {length['over_max_length_share']} of rows exceed render.max_length {cfg.max_length} "
            f"(> render.max_over_length_share {cfg.max_over_length_share}); raise max_length or the share"
        )


def main() -> None:
    params = load_params()
    metrics = run(params.render, params.paths.render, params.engine)
    p = params.paths.render
    write_metrics(metrics, HEADLINE, p.metrics, p.details)


if __name__ == "__main__":
    cli(main)
