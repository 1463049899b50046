"""A deterministic byte-level BPE tokenizer for causal LMs, with a chat template and its special tokens attached.

Byte-level BPE because it is lossless (every string round-trips through encode/decode, so the mask audit can
compare decoded tokens with the assistant text byte for byte) and because its training is deterministic in
`tokenizers` (WordPiece is not: huggingface/tokenizers#1794), so the same corpus always gives the same
`tokenizer.json` and DVC reruns nothing downstream. No normaliser: the text is trained as clean wrote it, and
character offsets point into exactly that text.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from stages.lib.render.templates import BOS, EOS, PAD, SPECIAL_TOKENS, named


def train_chat_tokenizer(
    texts: Iterable[str], vocab_size: int, min_frequency: int, template: str, model_max_length: int
) -> Any:
    """Train a byte-level BPE tokenizer on `texts` and attach the named chat `template`.

    Returns a transformers `PreTrainedTokenizerFast` whose `chat_template` is the template's Jinja source,
    `bos_token` is `<|begin_of_text|>`, `pad_token` `<|pad|>` and `eos_token` the token that ends an assistant
    turn in that template (so generation stops where training taught the model to stop). The special tokens of
    every named template get the ids 0..7 whatever the template, and encoding adds nothing (the template writes
    BOS itself: no doubled BOS).
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    spec = named(template)
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    # offsets keep the whitespace a token carries, so a token's span is exactly the characters it encodes
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    return attach_template(wrap(tok, model_max_length), template=spec.name)


def wrap(tok: Any, model_max_length: int) -> Any:
    """A `tokenizers.Tokenizer` as a transformers fast tokenizer with the fixed special tokens."""
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,
        additional_special_tokens=[t for t in SPECIAL_TOKENS if t not in (BOS, EOS, PAD)],
        model_max_length=model_max_length,
        padding_side="right",
    )


def attach_template(tokenizer: Any, template: str) -> Any:
    """Set the named `template` as the tokenizer's chat template and its end-of-turn token as `eos_token`."""
    spec = named(template)
    tokenizer.chat_template = spec.source
    tokenizer.eos_token = spec.end_of_turn
    return tokenizer
