"""tokenizer: the SFT demo's chat tokenizer, byte-level BPE trained on the train split's message contents.

Validation and test text never trains it (their token statistics would leak into the model's vocabulary).
Writes a transformers tokenizer folder (tokenizer.json, tokenizer_config.json with the chat template), the
same bytes for the same train split and params. A real base model's tokenizer folder replaces it (point
`paths.render.tokenizer` at that folder).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from schemas import load_params
from schemas.render import TokenizerParams, TokenizerPaths
from stages.lib.core.errors import StageError, cli
from stages.lib.core.io import atomic_path
from stages.lib.core.log import get_logger
from stages.lib.core.metrics import write_metrics
from stages.lib.render.tokenizer import train_chat_tokenizer

log = get_logger("tokenizer")

HEADLINE = ["vocab_size"]


def run(cfg: TokenizerParams, paths: TokenizerPaths) -> dict[str, Any]:
    """Train and save the tokenizer; returns its metrics (rows and characters read, vocabulary size)."""
    if not Path(paths.train).is_file():
        raise StageError(f"{paths.train} is missing; run the stages before the tokenizer first (dvc repro)")
    conversations = pq.read_table(paths.train, columns=["messages"]).column("messages").to_pylist()
    texts = [m["content"] for c in conversations for m in c]
    tok = train_chat_tokenizer(texts, **cfg.model_dump())
    with atomic_path(paths.tokenizer) as tmp:
        tok.save_pretrained(str(tmp))
    log.info("trained a %d-token vocabulary on %d conversations", len(tok), len(conversations))
    return {"rows_in": len(conversations), "characters": sum(map(len, texts)), "vocab_size": len(tok)}


def main() -> None:
    params = load_params()
    metrics = run(params.tokenizer, params.paths.tokenizer)
    write_metrics(metrics, HEADLINE, params.paths.tokenizer.metrics, params.paths.tokenizer.details)


if __name__ == "__main__":
    cli(main)
