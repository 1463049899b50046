"""Causal-LM fine-tuning speed, side by side with what a user would write by hand.

    pytest benchmarks/bench_causal.py --benchmark-only -s

Data: the SFT sample's WordNet chats, rendered by render's own library (byte-level BPE chat tokenizer, ChatML,
assistant-only loss), on a randomly initialised scratch-sized Llama (speed does not depend on the weights).

1. Framework overhead: Refinery's loop (stages.lib.model.causal.training.fit_causal: evaluation, checkpoint,
   dvclive and best-model reload once) against a bare transformers.Trainer with DataCollatorForSeq2Seq on the
   same padded rows, same model and steps (target: tokens/s ratio >= 0.95, i.e. overhead <= 1.05x).
2. Tokens/s per approach (full, adapter, feature) and padded against packed rows.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "sft/data/sample/wordnet_chat.jsonl"
ROWS, STEPS, BATCH = 600, 60, 16
MODEL = {"hidden_size": 64, "num_layers": 2, "num_heads": 4, "num_kv_heads": None, "intermediate_size": 256,
         "max_length": 256}  # fmt: skip
TRAIN = {"max_steps": STEPS, "batch_size": BATCH, "eval_batch_size": 64, "eval_steps": STEPS, "save_steps": STEPS,
         "logging_steps": 10, "early_stopping": {"metric": "loss", "patience": None}, "mixed_precision": "no",
         "group_by_length": False}  # fmt: skip


@pytest.fixture(scope="module")
def data():
    """(tokenizer, padded train rows, validation rows, packed train rows), rendered by render's library."""
    import torch

    from stages.lib.render.files import make_renderer
    from stages.lib.render.packing import pack
    from stages.lib.render.tokenizer import train_chat_tokenizer
    from stages.lib.render.tokens import Tally, encode_rows, special_pattern

    torch.set_num_threads(1)
    lines = [json.loads(line) for line in SAMPLE.read_text(encoding="utf-8").splitlines()][:ROWS]
    rows = [{"id": f"w{i:04d}", "source": "wordnet", "messages": r["messages"]} for i, r in enumerate(lines)]
    texts = [m["content"] for r in rows for m in r["messages"]]
    tok = train_chat_tokenizer(texts, vocab_size=2000, min_frequency=2, template="chatml", model_max_length=256)
    settings = {"mask_policy": "assistant", "train_on_eos": True, "prompt_loss_weight": 0.0, "max_length": 256,
                "truncation": "drop"}  # fmt: skip
    rendered, _ = encode_rows(rows, make_renderer("chatml", tok), tok, Tally(), special_pattern(tok), **settings)
    train, val = rendered[: int(0.9 * len(rendered))], rendered[int(0.9 * len(rendered)) :]
    packed, report = pack(train, 256)
    print(f"\n{len(train)} train rows, {len(packed)} packed sequences, packing report {report}")
    return tok, train, val, packed


def model_for(tok, seed: int = 0):
    import torch
    from transformers import LlamaForCausalLM

    from stages.lib.model.causal.base import scratch_config

    torch.manual_seed(seed)
    return LlamaForCausalLM(scratch_config(tok, **MODEL))


def tokens_of(rows) -> int:
    return sum(len(r["input_ids"]) for r in rows)


def refinery(tok, train, val, root: Path, kind: str = "full", packed: bool = False, packed_rows=None) -> float:
    """Tokens/s of fit_causal (real tokens, padding excluded)."""
    from schemas.causal import CAUSAL_KINDS
    from schemas.train import TrainParams
    from stages.lib.model.causal import KINDS
    from stages.lib.model.causal.training import fit_causal
    from stages.lib.model.training import TrainOptions, seed_everything

    seed_everything(0, 1)
    cfg = CAUSAL_KINDS[kind](kind=kind)
    model = KINDS[kind].build(cfg, model_for(tok))
    rows = packed_rows if packed else train
    fit = fit_causal(
        model,
        rows,
        val,
        pad_token_id=tok.pad_token_id,
        options=TrainOptions(train=TrainParams.model_validate(TRAIN), learning_rate=1e-3, epochs=1),
        checkpoint_dir=root / "ck",
        live_dir=root / "live",
        resume=False,
        fingerprint={},
    )
    return fit.samples_per_second * tokens_of(rows) / len(rows)


def bare(tok, train, val, root: Path) -> float:
    """What a user writes by hand: the same model, DataCollatorForSeq2Seq (pads labels with -100) and a plain
    Trainer that, like Refinery, evaluates, checkpoints and reloads the best model once at the end."""
    import torch
    from transformers import DataCollatorForSeq2Seq, Trainer, TrainingArguments, set_seed

    torch.set_num_threads(1)
    set_seed(0)
    args = TrainingArguments(
        output_dir=str(root / "bare"),
        max_steps=STEPS,
        per_device_train_batch_size=BATCH,
        per_device_eval_batch_size=64,
        learning_rate=1e-3,
        report_to="none",
        eval_strategy="steps",
        eval_steps=STEPS,
        save_strategy="steps",
        save_steps=STEPS,
        load_best_model_at_end=True,
        prediction_loss_only=True,
        use_cpu=True,
        disable_tqdm=True,
        seed=0,
    )
    keep = ("input_ids", "labels")
    trainer = Trainer(
        model=model_for(tok),
        args=args,
        train_dataset=[{k: r[k] for k in keep} for r in train],
        eval_dataset=[{k: r[k] for k in keep} for r in val],
        data_collator=DataCollatorForSeq2Seq(tok, padding=True),
    )
    return trainer.train().metrics["train_samples_per_second"] * tokens_of(train) / len(train)


def test_overhead_against_a_bare_trainer(benchmark, data, tmp_path):
    tok, train, val, _ = data
    results: dict[str, list[float]] = {"refinery": [], "bare": []}

    def both():
        results["refinery"].append(refinery(tok, train, val, tmp_path / "ours"))
        results["bare"].append(bare(tok, train, val, tmp_path))

    benchmark.pedantic(both, rounds=3, iterations=1)
    ours, theirs = max(results["refinery"]), max(results["bare"])
    benchmark.extra_info |= {"refinery_tokens_per_s": ours, "bare_tokens_per_s": theirs, "ratio": ours / theirs}
    print(f"\ntokens/s: refinery {ours:.0f}, bare Trainer {theirs:.0f}, ratio {ours / theirs:.3f}")


def test_tokens_per_second_per_approach_padded_and_packed(benchmark, data, tmp_path):
    tok, train, val, packed = data
    results: dict[str, float] = {}

    def each():
        for kind in ("full", "adapter", "feature"):
            results[kind] = refinery(tok, train, val, tmp_path / kind, kind=kind)
        results["full_packed"] = refinery(tok, train, val, tmp_path / "packed", packed=True, packed_rows=packed)

    benchmark.pedantic(each, rounds=1, iterations=1)
    benchmark.extra_info |= {f"{k}_tokens_per_s": v for k, v in results.items()}
    print("\ntokens/s: " + ", ".join(f"{k} {v:.0f}" for k, v in results.items()))
