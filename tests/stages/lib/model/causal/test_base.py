"""The causal base model: scratch Llama pre-trained on train text, or a local folder pinned by sha256."""

from __future__ import annotations

import inspect
import json

import pytest
import torch

from schemas.causal import ScratchCausalModel
from stages.lib.core.errors import StageError
from stages.lib.model.causal.base import (
    check_local,
    copy_local,
    lm_blocks,
    load_causal_lm,
    load_tokenizer,
    pretrain_causal,
    save_model,
    stop_token_ids,
    weights_sha256,
)
from tests.stages.lib.model.causal.conftest import CONVERSATIONS, tiny_llama

SCRATCH = {
    "hidden_size": 32,
    "num_layers": 2,
    "num_heads": 4,
    "num_kv_heads": 2,
    "intermediate_size": 64,
    "max_length": 32,
    "steps": 40,
    "batch_size": 4,
    "learning_rate": 3e-3,
    "warmup_steps": 4,
    "weight_decay": 0.01,
    "seed": 1,
}


def test_pretrain_settings_are_the_schema_fields():
    params = set(inspect.signature(pretrain_causal).parameters) - {"texts", "tokenizer", "attn_implementation"}
    assert params == set(ScratchCausalModel.model_fields)
    ScratchCausalModel.model_validate(SCRATCH)


def test_scratch_model_is_a_llama_of_the_config_and_learns(tokenizer, tmp_path):
    torch.set_num_threads(1)
    texts = [f"{q} {a}" for q, a in CONVERSATIONS]
    model, stats = pretrain_causal(texts, tokenizer, **SCRATCH)
    c = model.config
    assert (c.model_type, c.hidden_size, c.num_hidden_layers, c.num_key_value_heads) == ("llama", 32, 2, 2)
    assert c.vocab_size == len(tokenizer) and c.max_position_embeddings == 32 and not c.tie_word_embeddings
    assert stats["lm_loss_last"] < stats["lm_loss_first"] - 1.0
    save_model(model, tokenizer, tmp_path / "base")
    again = load_causal_lm(tmp_path / "base")
    assert again.generation_config.eos_token_id == stop_token_ids(tokenizer)
    tok = load_tokenizer(tmp_path / "base")
    assert tok.chat_template == tokenizer.chat_template
    ids = torch.tensor([tokenizer("What colour", add_special_tokens=False)["input_ids"]])
    torch.testing.assert_close(again(input_ids=ids).logits, model(input_ids=ids).logits)


def test_same_seed_same_weights(tokenizer):
    texts = [f"{q} {a}" for q, a in CONVERSATIONS]
    settings = SCRATCH | {"steps": 3}
    a, _ = pretrain_causal(texts, tokenizer, **settings)
    b, _ = pretrain_causal(texts, tokenizer, **settings)
    for (name, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items()):
        assert torch.equal(x, y), name


def test_lm_blocks_close_texts_with_end_of_text_not_end_of_turn(tokenizer):
    from stages.lib.render.tokenizer import train_chat_tokenizer

    blocks = lm_blocks(["a b c", "d e"], tokenizer, 3)
    assert tokenizer.eos_token_id in blocks.flatten().tolist()  # <|endoftext|> is this tokenizer's EOS
    chat = train_chat_tokenizer(["a b c d e"] * 3, vocab_size=300, min_frequency=1, template="chatml",
                                model_max_length=64)  # fmt: skip
    assert chat.eos_token == "<|im_end|>"
    tokens = lm_blocks(["a b c", "d e"], chat, 2).flatten().tolist()
    assert chat.convert_tokens_to_ids("<|end_of_text|>") in tokens and chat.eos_token_id not in tokens


def test_lm_blocks_refuse_too_little_text(tokenizer):
    with pytest.raises(StageError, match=r"fewer than one block of model\.scratch\.max_length"):
        lm_blocks(["a"], tokenizer, 512)


def test_stop_tokens_hold_eos_and_end_of_turn(tokenizer):
    vocab = tokenizer.get_vocab()
    assert stop_token_ids(tokenizer) == sorted({vocab["<|endoftext|>"], vocab["<|im_end|>"]})


@pytest.fixture
def local_folder(tokenizer, tmp_path):
    folder = tmp_path / "tiny-causal"
    save_model(tiny_llama(tokenizer), tokenizer, folder)
    return folder


def test_a_local_folder_pinned_by_sha256_is_copied_and_loads(local_folder, tmp_path, tokenizer):
    pin = weights_sha256(local_folder)
    out = tmp_path / "base"
    copy_local(local_folder, pin, False, out)
    assert weights_sha256(out) == pin
    model = load_causal_lm(out)
    assert model.config.model_type == "llama"
    assert load_tokenizer(out).chat_template == tokenizer.chat_template


def test_local_refuses_other_weights_remote_code_and_encoders(local_folder, tmp_path):
    with pytest.raises(StageError, match=r"model\.sha256 pins 0{64} but the weights"):
        check_local(local_folder, "0" * 64, False)
    config = json.loads((local_folder / "config.json").read_text())
    (local_folder / "config.json").write_text(json.dumps(config | {"auto_map": {"AutoModelForCausalLM": "x.Y"}}))
    with pytest.raises(StageError, match=r"set model\.trust_remote_code: true"):
        check_local(local_folder, weights_sha256(local_folder), False)
    (local_folder / "config.json").write_text(json.dumps(config | {"model_type": "distilbert"}))
    with pytest.raises(StageError, match="'distilbert' model, which has no causal-LM class"):
        check_local(local_folder, weights_sha256(local_folder), False)
    with pytest.raises(StageError, match=r"has no config\.json"):
        check_local(tmp_path, "0" * 64, False)


def test_sharded_weights_hash_to_the_digest_of_their_lines(tmp_path):
    import hashlib

    (tmp_path / "model-00001.safetensors").write_bytes(b"one")
    (tmp_path / "model-00002.safetensors").write_bytes(b"two")
    lines = "".join(
        f"model-0000{i}.safetensors {hashlib.sha256(data).hexdigest()}\n" for i, data in ((1, b"one"), (2, b"two"))
    )
    assert weights_sha256(tmp_path) == hashlib.sha256(lines.encode()).hexdigest()
    with pytest.raises(StageError, match=r"no \*\.safetensors weights"):
        weights_sha256(tmp_path / "none")
