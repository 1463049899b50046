"""base_model: materialise the model every approach fine-tunes into models/base/.

`model.source: pretrained` copies a hub model at a pinned revision (or a local
folder, such as all-MiniLM-L6-v2 unpacked by scripts/setup_models.sh),
safetensors weights only; with `model.sha256` it refuses weights whose
checksum differs. `model.source: scratch` trains a byte-level
BPE tokenizer and pre-trains a tiny BERT with masked-LM on the train split's
text plus unlabeled rows: never validation or test text, so no test input
leaks into the base model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from schemas import load_params
from schemas.model import ModelParams
from schemas.paths import BaseModelPaths
from stages.lib.core.errors import StageError, cli
from stages.lib.core.io import atomic_path
from stages.lib.core.log import get_logger
from stages.lib.core.metrics import write_metrics
from stages.lib.model.manifest import MANIFEST_FILE, verify_model_folder, write_manifest
from stages.lib.model.packaged import verify_weights
from stages.lib.model.pretrain import build_scratch, copy_pretrained, pretraining_corpus
from stages.lib.model.textclf import count_params, load_backbone

log = get_logger("base_model")

# What `dvc metrics show` lists; every counter is in the details file (stages/lib/core/metrics.py).
# The masked-LM loss exists only for a scratch model.
HEADLINE = ("total_params",)


def run(cfg: ModelParams, paths: BaseModelPaths, split_dir: str) -> dict[str, Any]:
    """Write models/base/ atomically and return the metrics (source, size, pre-training loss); a scratch model
    pre-trains on the train and unlabeled files of `split_dir`."""
    import torch

    torch.set_num_threads(cfg.num_threads)
    metrics: dict[str, Any] = {"source": cfg.source}
    with atomic_path(paths.out) as tmp:
        tmp.mkdir(parents=True)
        if cfg.source == "pretrained":
            try:
                if Path(cfg.name_or_path, MANIFEST_FILE).is_file():  # unpacked by scripts/setup_models.sh
                    verify_model_folder(cfg.name_or_path, "unpack it again with scripts/setup_models.sh")
                if cfg.sha256 and Path(cfg.name_or_path).is_dir():
                    verify_weights(cfg.name_or_path, cfg.sha256)  # before copying 90 MB of the wrong weights
                elif not Path(cfg.name_or_path).is_dir() and _local_path(cfg.name_or_path):
                    raise FileNotFoundError(
                        f"model.name_or_path {cfg.name_or_path} not found; unpack the pre-trained model with "
                        "scripts/setup_models.sh (make setup), or set model.source: scratch"
                    )
                copy_pretrained(cfg.name_or_path, cfg.revision, cfg.trust_remote_code, tmp)
                if cfg.sha256:
                    verify_weights(tmp, cfg.sha256)
            except (ValueError, FileNotFoundError) as exc:
                raise StageError(str(exc)) from None
        else:
            texts = pretraining_corpus(split_dir)
            s = cfg.scratch
            log.info(
                "pre-training a %d-layer, %d-wide model on %d texts for %d steps",
                s.num_layers,
                s.hidden_size,
                len(texts),
                s.steps,
            )
            try:
                stats = build_scratch(texts, s, tmp)
            except ValueError as exc:
                raise StageError(f"{exc} ({split_dir}: train and unlabeled)") from None
            metrics |= {"corpus_texts": len(texts), **stats}
        backbone = load_backbone(tmp, cfg.trust_remote_code)
        metrics["total_params"] = count_params(backbone)[1]
        metrics["vocab_size"] = int(backbone.config.vocab_size)
        write_manifest(tmp)  # last: train, evaluate and predict verify it before loading
    log.info("wrote %s (%d parameters)", paths.out, metrics["total_params"])
    return metrics


def _local_path(name_or_path: str) -> bool:
    """A folder path rather than a hub id (`org/name` or `name`): never send it to the hub."""
    return name_or_path.startswith((".", "/", "~")) or name_or_path.count("/") > 1


def main() -> None:
    params = load_params()
    if params.task == "sft":  # a causal LM: stages/lib/model/causal/stage.py
        from stages.lib.core.metrics import write_timings
        from stages.lib.model.causal import stage as sft

        p = params.paths.base_model
        metrics, timings = sft.run_base_model(params.model, p)
        write_metrics(metrics, sft.BASE_HEADLINE, p.metrics, p.details, params.paths.timings, "base_model")
        write_timings(timings, params.paths.timings, "base_model_tokens")
        return
    metrics = run(params.model, params.paths.base_model, params.paths.split.dir)
    p = params.paths.base_model
    headline = HEADLINE + (("mlm_loss_last",) if "mlm_loss_last" in metrics else ())
    write_metrics(metrics, headline, p.metrics, p.details, params.paths.timings, "base_model")


if __name__ == "__main__":
    cli(main)
