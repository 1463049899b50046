"""The causal base model: a small Llama-architecture model pre-trained on the train text, or a pinned local folder.

python -m stages.lib.model.causal.base FOLDER     prints the sha256 that `model.sha256` pins
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from stages.lib.core.errors import StageError
from stages.lib.core.log import get_logger
from stages.lib.core.safety import from_pretrained
from stages.lib.model.pretrain import first_and_last, pretrain_steps

log = get_logger("base_model")


def scratch_config(
    tokenizer: Any,
    *,
    hidden_size: int,
    num_layers: int,
    num_heads: int,
    num_kv_heads: int | None,
    intermediate_size: int,
    max_length: int,
    attn_implementation: str = "sdpa",
):
    """A LlamaConfig sized by `model.scratch`, its vocabulary and special tokens taken from `tokenizer`.

    The LM head is not tied to the input embeddings, so the feature approach can train the head while the
    embeddings stay frozen.
    """
    from transformers import LlamaConfig

    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        num_key_value_heads=num_kv_heads or num_heads,
        intermediate_size=intermediate_size,
        max_position_embeddings=max_length,
        tie_word_embeddings=False,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    config._attn_implementation = attn_implementation
    return config


END_OF_TEXT = ("<|end_of_text|>", "<|endoftext|>", "</s>")


def text_separator(tokenizer: Any) -> int:
    """The token that ends a pre-training text: the tokenizer's end-of-text token when it has one, else EOS.

    Not the end-of-turn token (a chat tokenizer's eos_token is often `<|im_end|>` or `<|eot_id|>`): a base model
    pre-trained to close every text with it would already "stop" before any SFT, and the untuned baseline's
    share of stopped answers would measure the pre-training, not the fine-tuning.
    """
    vocab = tokenizer.get_vocab()
    for token in END_OF_TEXT:
        if token in vocab:
            return int(vocab[token])
    if tokenizer.eos_token_id is None:
        raise StageError("the tokenizer has no eos_token; the base model needs one to separate texts and to stop")
    return int(tokenizer.eos_token_id)


def lm_blocks(texts: Sequence[str], tokenizer: Any, block_size: int) -> torch.Tensor:
    """The texts tokenised, each closed by `text_separator`, cut into (n, block_size) blocks (the last partial
    one dropped). Plain language-model pre-training: no padding, and every token a target.
    """
    end = text_separator(tokenizer)
    stream: list[int] = []
    for ids in tokenizer(list(texts), add_special_tokens=False)["input_ids"]:
        stream += [*ids, end]
    n = len(stream) // block_size
    if n == 0:
        raise StageError(
            f"the train split holds {len(stream)} tokens, fewer than one block of model.scratch.max_length "
            f"({block_size}); lower max_length or add training text"
        )
    return torch.tensor(stream[: n * block_size], dtype=torch.long).view(n, block_size)


def pretrain_causal(
    texts: Sequence[str],
    tokenizer: Any,
    *,
    hidden_size: int,
    num_layers: int,
    num_heads: int,
    num_kv_heads: int | None,
    intermediate_size: int,
    max_length: int,
    steps: int,
    batch_size: int,
    learning_rate: float,
    warmup_steps: int,
    weight_decay: float,
    seed: int,
    attn_implementation: str = "sdpa",
) -> tuple[Any, dict[str, Any]]:
    """Build the scratch model from its config and pre-train it on `texts` with the causal-LM loss.

    `texts` must come from the train split only: validation and test text seen in pre-training would flatter
    every approach's scores. Returns the model and a summary of its loss curve.
    """
    from transformers import LlamaForCausalLM

    torch.manual_seed(seed)
    config = scratch_config(
        tokenizer,
        hidden_size=hidden_size,
        num_layers=num_layers,
        num_heads=num_heads,
        num_kv_heads=num_kv_heads,
        intermediate_size=intermediate_size,
        max_length=max_length,
        attn_implementation=attn_implementation,
    )
    model = LlamaForCausalLM(config)
    blocks = lm_blocks(texts, tokenizer, max_length)
    losses, seconds = pretrain_steps(
        model, len(blocks), lambda picked: model(input_ids=blocks[picked], labels=blocks[picked]).loss,
        ("bias", "norm.weight"), "causal-LM", steps=steps, batch_size=batch_size, learning_rate=learning_rate,
        warmup_steps=warmup_steps, weight_decay=weight_decay, seed=seed,
    )  # fmt: skip
    first, last = first_and_last(losses)
    stats = {
        "lm_loss_first": round(first, 4),
        "lm_loss_last": round(last, 4),
        "lm_perplexity_last": round(math.exp(min(last, 50.0)), 2),
        "corpus_tokens": int(blocks.numel()),
        "corpus_blocks": int(blocks.shape[0]),
        "train_seconds": round(seconds, 2),
        "tokens_per_second": round(steps * batch_size * max_length / seconds, 1) if seconds else 0.0,
    }
    return model, stats


def save_model(model: Any, tokenizer: Any, out: Path) -> None:
    """A standard Hugging Face causal-LM folder: safetensors weights, config, generation config, tokenizer with
    its chat template (AutoModelForCausalLM and pipeline('text-generation') load it)."""
    out.mkdir(parents=True, exist_ok=True)
    generation = model.generation_config
    generation.eos_token_id = stop_token_ids(tokenizer, model)
    generation.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))


def stop_token_ids(tokenizer: Any, model: Any = None) -> list[int]:
    """The ids that end an answer: EOS, the model's own generation EOS ids, and the chat template's end-of-turn
    and end-of-text tokens the tokenizer knows (`<|im_end|>`, `<|eot_id|>`, `<|end_of_text|>`, `</s>`...), sorted."""
    ids: set[int] = set()
    if tokenizer.eos_token_id is not None:
        ids.add(int(tokenizer.eos_token_id))
    configured = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    if configured is not None:
        ids.update(int(i) for i in ([configured] if isinstance(configured, int) else configured))
    vocab = tokenizer.get_vocab()
    for token in ("<|im_end|>", "<|eot_id|>", "<|end|>", "<|end_of_turn|>", *END_OF_TEXT):
        if token in vocab:
            ids.add(int(vocab[token]))
    return sorted(ids)


# -- source: local ---------------------------------------------------------------------------------------


def weights_sha256(folder: str | Path) -> str:
    """sha256 of the folder's weights: of model.safetensors when it is the only weights file; of the lines
    '<name> <sha256>' of every *.safetensors file in name order when the weights are sharded."""
    files = sorted(Path(folder).glob("*.safetensors"))
    if not files:
        raise StageError(
            f"{folder} has no *.safetensors weights; Refinery never loads pickled (.bin) weights. Convert them "
            "once with `model.save_pretrained(folder)` in a trusted session"
        )
    digests = [(f.name, _file_sha256(f)) for f in files]
    if len(digests) == 1:
        return digests[0][1]
    return hashlib.sha256("".join(f"{name} {digest}\n" for name, digest in digests).encode()).hexdigest()


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def check_local(path: str | Path, sha256: str, trust_remote_code: bool) -> None:
    """Refuse a folder that is not a causal LM, whose weights differ from the pin, or that ships code while
    `model.trust_remote_code` is off. Every refusal says which params key to change."""
    folder = Path(path)
    config_file = folder / "config.json"
    if not config_file.is_file():
        raise StageError(f"model.path: {folder} has no config.json; point it at a Hugging Face model folder")
    config = json.loads(config_file.read_text())
    if "auto_map" in config and not trust_remote_code:
        raise StageError(
            f"model.path: {folder} ships its own model code (auto_map in config.json) and model.trust_remote_code "
            "is false; read that code, then set model.trust_remote_code: true, or pick a model transformers knows"
        )
    if not trust_remote_code:
        from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

        if config.get("model_type") not in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES:
            raise StageError(
                f"model.path: {folder} is a '{config.get('model_type')}' model, which has no causal-LM class in "
                "transformers; the SFT pipeline needs a causal (decoder) language model"
            )
    actual = weights_sha256(folder)
    if actual.lower() != sha256.lower():
        raise StageError(
            f"model.sha256 pins {sha256} but the weights in {folder} hash to {actual}; if the new weights are "
            "intended, set model.sha256 to the new value"
        )


def copy_local(path: str | Path, sha256: str, trust_remote_code: bool, out: Path) -> None:
    """Check the pinned folder and copy its weights, config and tokenizer into `out` (models/base)."""
    from stages.lib.model.pretrain import copy_pretrained

    check_local(path, sha256, trust_remote_code)
    out.mkdir(parents=True, exist_ok=True)
    copy_pretrained(str(path), None, trust_remote_code, out)
    # The chat template: transformers 5 saves it beside tokenizer_config.json, and without it the model would
    # be prompted with another template than the one it was trained with.
    for src in sorted(Path(path).glob("chat_template.*")):
        shutil.copy2(src, out / src.name)
    extra = Path(path) / "additional_chat_templates"
    if extra.is_dir():
        shutil.copytree(extra, out / extra.name, dirs_exist_ok=True)


def load_causal_lm(folder: str | Path, trust_remote_code: bool = False, attn_implementation: str = "sdpa") -> Any:
    """AutoModelForCausalLM from a folder, safetensors weights only."""
    from transformers import AutoModelForCausalLM

    return from_pretrained(
        AutoModelForCausalLM,
        folder,
        trust_remote_code=trust_remote_code,
        attn_implementation=attn_implementation,
    )


def load_tokenizer(folder: str | Path, trust_remote_code: bool = False) -> Any:
    """The tokenizer saved beside the model, with the chat template it was trained with."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(folder), trust_remote_code=trust_remote_code, local_files_only=True)
    if tokenizer.pad_token_id is None:
        raise StageError(
            f"the tokenizer in {folder} has no pad token; add one (tokenizer.pad_token = ...) and save it again"
        )
    return tokenizer


if __name__ == "__main__":
    print(weights_sha256(sys.argv[1]))
