"""The base model: copy a pre-trained one, or train a tokenizer and a tiny masked-LM from scratch."""

from __future__ import annotations

import math
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from stages.lib.core.exceptions import StageError
from stages.lib.core.folders import split_file
from stages.lib.core.log import get_logger

log = get_logger("base_model")

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
# Files a model folder may hold; weights only as safetensors (never pickles: they run code when loaded).
WEIGHT_PATTERNS = ["*.safetensors", "*.safetensors.index.json"]
TOKENIZER_PATTERNS = [
    "config.json",
    "generation_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
    "vocab.json",
    "merges.txt",
    "*.model",
    "added_tokens.json",
]


def train_tokenizer(texts: Sequence[str], vocab_size: int, min_frequency: int, lowercase: bool, max_length: int):
    """A byte-level BPE tokenizer with BERT's special tokens, as a transformers fast tokenizer.

    Byte-level BPE, because WordPiece training in `tokenizers` is not
    deterministic (huggingface/tokenizers#1794): the same corpus would give a
    new vocabulary, hence a new base model hash, on every run.
    """
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="[UNK]"))
    norms = [normalizers.NFC()] + ([normalizers.Lowercase()] if lowercase else [])
    tok.normalizer = normalizers.Sequence(norms)
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(list(texts), trainer=trainer)
    cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B [SEP]", special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        pad_token="[PAD]",
        unk_token="[UNK]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=max_length,
    )


def pretrain_mlm(
    texts: Sequence[str],
    tokenizer: Any,
    *,
    hidden_size: int,
    num_layers: int,
    num_heads: int,
    intermediate_size: int,
    max_length: int,
    steps: int,
    batch_size: int,
    learning_rate: float,
    warmup_steps: int,
    weight_decay: float,
    mlm_probability: float,
    seed: int,
) -> tuple[Any, dict[str, float]]:
    """Pre-train a BERT-style encoder with masked-LM for `steps` steps; return it and its loss curve summary.

    The vocabulary projection runs on masked positions only (about 15% of
    tokens): on a tiny model it is otherwise half of every step.
    """
    from transformers import BertConfig, BertForMaskedLM, DataCollatorForLanguageModeling

    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        intermediate_size=intermediate_size,
        max_position_embeddings=max_length,
        pad_token_id=tokenizer.pad_token_id,
    )
    model = BertForMaskedLM(config)
    enc = tokenizer(list(texts), truncation=True, max_length=max_length)["input_ids"]
    examples = [{"input_ids": ids} for ids in enc if len(ids) > 2]
    if not examples:
        raise ValueError("no pre-training text: the train split and unlabeled rows are empty")
    collate = DataCollatorForLanguageModeling(tokenizer, mlm_probability=mlm_probability)

    def mlm_loss(picked: list[int]) -> torch.Tensor:
        batch = collate([examples[i] for i in picked])
        hidden = model.bert(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
        masked = batch["labels"] != -100
        logits = model.cls(hidden[masked])
        return torch.nn.functional.cross_entropy(logits, batch["labels"][masked])

    losses, seconds = pretrain_steps(
        model, len(examples), mlm_loss, ("bias", "LayerNorm.weight"), "masked-LM", steps=steps,
        batch_size=batch_size, learning_rate=learning_rate, warmup_steps=warmup_steps, weight_decay=weight_decay,
        seed=seed,
    )  # fmt: skip
    first, last = first_and_last(losses)
    stats = {
        "mlm_loss_first": round(first, 4),
        "mlm_loss_last": round(last, 4),
        "mlm_perplexity_last": round(math.exp(min(last, 50.0)), 2),
        "corpus_sequences": len(examples),
        "train_seconds": round(seconds, 2),
        "seconds_per_step": round(seconds / steps, 4),
    }
    return model, stats


def pretrain_steps(
    model: Any,
    n_examples: int,
    batch_loss: Any,
    no_decay: tuple[str, ...],
    what: str,
    *,
    steps: int,
    batch_size: int,
    learning_rate: float,
    warmup_steps: int,
    weight_decay: float,
    seed: int,
) -> tuple[list[float], float]:
    """The one pre-training loop of a scratch model (masked-LM encoder, causal LM): AdamW without weight decay
    on `no_decay` parameters, linear warm-up and decay, gradient clipping at 1.0, and batches of `batch_size`
    example indices drawn from seeded permutations of `n_examples`; `batch_loss(indices)` returns a batch's loss.
    Returns the loss of every step and the seconds it took; the model is left in eval mode."""
    from transformers import get_scheduler

    groups = [
        {"params": [p for n, p in model.named_parameters() if not n.endswith(no_decay)], "weight_decay": weight_decay},
        {"params": [p for n, p in model.named_parameters() if n.endswith(no_decay)], "weight_decay": 0.0},
    ]
    optimizer = torch.optim.AdamW(groups, lr=learning_rate)
    schedule = get_scheduler("linear", optimizer, num_warmup_steps=warmup_steps, num_training_steps=steps)
    order = torch.Generator().manual_seed(seed)
    losses: list[float] = []
    perm: list[int] = []
    start = time.perf_counter()
    model.train()
    for step in range(steps):
        if len(perm) < batch_size:
            perm += torch.randperm(n_examples, generator=order).tolist()
        loss = batch_loss(perm[:batch_size])
        del perm[:batch_size]
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(loss.item())
        if (step + 1) % max(1, steps // 10) == 0:
            log.info("step %d/%d: %s loss %.3f", step + 1, steps, what, sum(losses[-10:]) / len(losses[-10:]))
    seconds = time.perf_counter() - start
    model.eval()
    return losses, seconds


def first_and_last(losses: list[float]) -> tuple[float, float]:
    """The mean loss of the first and of the last tenth of the steps."""
    tenth = max(1, len(losses) // 10)
    return sum(losses[:tenth]) / tenth, sum(losses[-tenth:]) / tenth


def pretraining_corpus(split_dir: str) -> list[str]:
    """The non-empty texts of the split folder's train and unlabeled files, in file order: what a scratch model
    pre-trains on (never validation or test text, so no test input leaks into it)."""
    import pyarrow.parquet as pq

    texts: list[str] = []
    for name in ("train", "unlabeled"):
        path = split_file(split_dir, name)
        if not Path(path).is_file():
            raise StageError(f"{path} not found: a scratch model pre-trains on the split stage's outputs")
        texts += pq.read_table(path, columns=["text"]).column("text").to_pylist()
    return [t for t in texts if t]


def build_scratch(texts: Sequence[str], s: Any, out: Path) -> dict[str, Any]:
    """Train the tokenizer and pre-train the scratch model of `model.scratch` settings `s`; save both in `out`."""
    tokenizer = train_tokenizer(texts, s.vocab_size, s.min_frequency, s.lowercase, s.max_length)
    model, stats = pretrain_mlm(
        texts,
        tokenizer,
        hidden_size=s.hidden_size,
        num_layers=s.num_layers,
        num_heads=s.num_heads,
        intermediate_size=s.intermediate_size,
        max_length=s.max_length,
        steps=s.steps,
        batch_size=s.batch_size,
        learning_rate=s.learning_rate,
        warmup_steps=s.warmup_steps,
        weight_decay=s.weight_decay,
        mlm_probability=s.mlm_probability,
        seed=s.seed,
    )
    tokenizer.save_pretrained(str(out))
    model.save_pretrained(str(out))
    return stats


def copy_pretrained(name_or_path: str, revision: str | None, trust_remote_code: bool, out: Path) -> None:
    """Materialise a hub model at a pinned revision, or a local folder, into `out` (safetensors weights only)."""
    patterns = WEIGHT_PATTERNS + TOKENIZER_PATTERNS + (["*.py"] if trust_remote_code else [])
    local = Path(name_or_path)
    if local.is_dir():
        copied = 0
        for pattern in patterns:
            for src in sorted(local.glob(pattern)):
                shutil.copy2(src, out / src.name)
                copied += 1
        if not copied:
            raise FileNotFoundError(f"{local} holds no model files")
    else:
        from huggingface_hub import snapshot_download

        if not revision:
            raise ValueError(
                f"model.revision is required for the hub model '{name_or_path}': pin a commit hash "
                "(the model page's 'Files and versions' tab), so that the base model is reproducible"
            )
        snapshot_download(repo_id=name_or_path, revision=revision, local_dir=str(out), allow_patterns=patterns)
        shutil.rmtree(out / ".cache", ignore_errors=True)
    if not list(out.glob("*.safetensors")):
        raise FileNotFoundError(
            f"'{name_or_path}' has no safetensors weights; Refinery never loads pickled (.bin) weights. "
            "Convert it (e.g. the hub's 'convert to safetensors' space) or pick a model that ships them"
        )
