"""A tiny ChatML tokenizer, tiny Llama models and render-shaped rows, built in code (no network)."""

from __future__ import annotations

import os

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")

CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
SPECIALS = ["<|pad|>", "<|endoftext|>", "<|im_start|>", "<|im_end|>"]

COLOURS = ["red", "blue", "green", "black", "white", "pink", "grey", "brown", "gold", "teal"]
THINGS = ["sky", "sea", "grass", "night", "snow", "rose", "rock", "soil", "sun", "lake"]
# 20 two-line conversations: "what colour is the X?" -> "The X is C."
CONVERSATIONS = [
    (f"What colour is the {t}?", f"The {t} is {c}.") for t, c in zip(THINGS + THINGS, COLOURS + COLOURS[::-1])
][:20]


def make_tokenizer(texts: list[str], vocab_size: int = 400):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="<|pad|>", eos_token="<|endoftext|>", bos_token="<|endoftext|>"
    )
    fast.add_special_tokens({"additional_special_tokens": ["<|im_start|>", "<|im_end|>"]})
    fast.chat_template = CHATML
    return fast


def render_row(tokenizer, id_: str, question: str, answer: str) -> dict:
    """What render writes for one conversation: prompt tokens untrained, the answer and <|im_end|> trained."""
    prompt = tokenizer.apply_chat_template([{"role": "user", "content": question}], tokenize=False,
                                           add_generation_prompt=True)  # fmt: skip
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    answer_ids = tokenizer(answer + "<|im_end|>", add_special_tokens=False)["input_ids"]
    tail = tokenizer("\n", add_special_tokens=False)["input_ids"]
    ids = prompt_ids + answer_ids + tail
    labels = [-100] * len(prompt_ids) + answer_ids + [-100] * len(tail)
    return {
        "id": id_,
        "input_ids": ids,
        "labels": labels,
        "length": len(ids),
        "n_trained": len(answer_ids),
        "prompt": prompt,
        "answer": answer,
    }


def pack_rows(rows: list[dict], groups: list[list[int]]) -> list[dict]:
    """Render's packed variant: the rows of each group concatenated, positions restarting per example."""
    packed = []
    for group in groups:
        members = [rows[i] for i in group]
        packed.append(
            {
                "input_ids": [t for r in members for t in r["input_ids"]],
                "labels": [t for r in members for t in r["labels"]],
                "position_ids": [p for r in members for p in range(len(r["input_ids"]))],
                "seq_lens": [len(r["input_ids"]) for r in members],
            }
        )
    return packed


@pytest.fixture(scope="session")
def tokenizer():
    texts = [f"{q} {a}" for q, a in CONVERSATIONS] * 5
    return make_tokenizer(texts)


@pytest.fixture(scope="session")
def rows(tokenizer):
    return [render_row(tokenizer, f"c{i:02d}", q, a) for i, (q, a) in enumerate(CONVERSATIONS)]


def tiny_llama(tokenizer, attn_implementation: str = "sdpa", seed: int = 0, layers: int = 2):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=4,
        intermediate_size=64,
        max_position_embeddings=256,
        tie_word_embeddings=False,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=tokenizer.bos_token_id,
    )
    config._attn_implementation = attn_implementation
    return LlamaForCausalLM(config).eval()
