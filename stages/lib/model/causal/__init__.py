"""Causal language models for the SFT pipeline: base model, approaches, training, evaluation, baselines.

    base.py        the base model: a scratch Llama-architecture model pre-trained on the train text,
                   or a local Hugging Face causal-LM folder pinned by sha256
    data.py        render's rows (padded or packed) and their collators (block-diagonal masks for packing)
    training.py    the shared Trainer loop (stages.lib.model.training.fit) on those rows
    full.py, adapter.py, feature.py
                   one module per approach kind, each with the same functions:
                       build(cfg, model) -> model         freeze what the approach freezes, wrap it
                       save(model, cfg, out_dir, tokenizer) write models/<approach>/
                       load(out_dir, base_dir, trust_remote_code) -> model
    evaluation.py  loss and perplexity on trained tokens, greedy generation, answer scores, predictions
    scoring.py     exact match, token F1, ROUGE-L
    retrieval.py   the retrieval baseline (reference answer of the nearest train prompt by TF-IDF cosine)
    stage.py       what the SFT pipeline's base_model, train@<approach> and evaluate@<approach> stages do
    compare.py     the SFT compare stage: both baselines, bootstrap intervals, paired verdicts, the report
    curve.py       the SFT curve stage: the approaches and the retrieval baseline on nested subsets
    predict.py     predict for SFT: the model's own template (drift refused), greedy answers

The kinds are registered once, in schemas/causal.py (`CAUSAL_REGISTERED`): each params model names its module.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from schemas.causal import CAUSAL_KINDS

FUNCTIONS = ("build", "save", "load")

KINDS: dict[str, ModuleType] = {kind: importlib.import_module(m.module) for kind, m in CAUSAL_KINDS.items()}
