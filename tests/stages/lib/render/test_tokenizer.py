import hashlib

import pytest

from stages.lib.core.errors import StageError
from stages.lib.render.templates import SPECIAL_TOKENS
from stages.lib.render.tokenizer import train_chat_tokenizer

TEXTS = [
    "What does 'dog' mean?",
    "A member of the genus Canis.",
    "Use it in a sentence.",
    "The dog barked all night.",
    "Is this message spam? Free entry in a weekly competition!",
    "héllo wörld — naïve café 😀",
] * 3
CONV = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "What does 'dog' mean?"},
    {"role": "assistant", "content": "A member of the genus Canis."},
]


def _digest(tok, tmp_path, name):
    tok.save_pretrained(tmp_path / name)
    return hashlib.sha256((tmp_path / name / "tokenizer.json").read_bytes()).hexdigest()


def test_training_is_deterministic(tmp_path):
    a = train_chat_tokenizer(TEXTS, vocab_size=300, min_frequency=1, template="chatml", model_max_length=128)
    b = train_chat_tokenizer(TEXTS, vocab_size=300, min_frequency=1, template="chatml", model_max_length=128)
    assert _digest(a, tmp_path, "a") == _digest(b, tmp_path, "b")


@pytest.mark.parametrize("template", ["chatml", "llama3"])
def test_chat_template_attached_and_lossless(tmp_path, template):
    tok = train_chat_tokenizer(TEXTS, vocab_size=300, min_frequency=1, template=template, model_max_length=128)
    assert [tok.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS] == list(range(len(SPECIAL_TOKENS)))
    text = tok.apply_chat_template(CONV, tokenize=False)
    ids = tok(text, add_special_tokens=False)["input_ids"]
    assert tok.decode(ids) == text  # byte-level: lossless, and no special token added or doubled
    assert ids.count(tok.bos_token_id) == (1 if template == "llama3" else 0)
    assert tok(TEXTS[-1])["input_ids"] == tok(TEXTS[-1], add_special_tokens=False)["input_ids"]
    assert tok.eos_token == ("<|im_end|>" if template == "chatml" else "<|eot_id|>")
    tok.save_pretrained(tmp_path / "tok")
    from transformers import AutoTokenizer

    again = AutoTokenizer.from_pretrained(tmp_path / "tok")
    assert again.apply_chat_template(CONV, tokenize=False) == text
    assert again(text, add_special_tokens=False)["input_ids"] == ids


def test_unknown_template_named():
    with pytest.raises(StageError, match="unknown chat template 'nope'"):
        train_chat_tokenizer(TEXTS, vocab_size=300, min_frequency=1, template="nope", model_max_length=128)
