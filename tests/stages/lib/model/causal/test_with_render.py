"""The causal-LM library on render's own output: its tokenizer, both template styles, its packing."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from stages.lib.model.causal.base import stop_token_ids
from stages.lib.model.causal.data import pack_batch, pad_batch, read_rendered
from stages.lib.render.files import make_renderer
from stages.lib.render.packing import pack
from stages.lib.render.tokens import Tally, encode_rows, special_pattern
from tests.render_helpers import rows as conversation_rows
from tests.render_helpers import tokenizer as chat_tokenizer
from tests.stages.lib.model.causal.conftest import tiny_llama
from tests.stages.lib.model.causal.test_data import example_losses

SETTINGS = {"mask_policy": "assistant", "train_on_eos": True, "prompt_loss_weight": 0.0, "max_length": 256,
            "truncation": "drop"}  # fmt: skip


def rendered(template: str):
    tok = chat_tokenizer(template)
    rows, rejects = encode_rows(
        conversation_rows(), make_renderer(template, tok), tok, Tally(), special_pattern(tok), **SETTINGS
    )
    assert not rejects
    return tok, rows


@pytest.mark.parametrize("template", ["chatml", "llama3"])
def test_packed_equals_unpacked_on_renders_rows(template):
    tok, rows = rendered(template)
    packed, _ = pack(rows, 128)
    model = tiny_llama(tok)
    by_id = {r["id"]: r for r in rows}
    packed_nll = example_losses(model, pack_batch(packed, tok.pad_token_id))
    for b, p in enumerate(packed):
        offset = 0
        for id_, n in zip(p["ids"], p["seq_lens"]):
            alone = example_losses(model, pad_batch([by_id[id_]], tok.pad_token_id))[0]
            torch.testing.assert_close(packed_nll[b, offset : offset + n - 1], alone, atol=1e-5, rtol=0)
            offset += n


@pytest.mark.parametrize("template", ["chatml", "llama3"])
def test_the_end_of_turn_token_render_trains_is_a_stop_token(template):
    tok, rows = rendered(template)
    eot = tok.convert_tokens_to_ids({"chatml": "<|im_end|>", "llama3": "<|eot_id|>"}[template])
    assert all(eot in [t for t in r["labels"] if t != -100] for r in rows)
    assert eot in stop_token_ids(tok)


def test_read_rendered_refuses_loss_weights(tmp_path):
    path = tmp_path / "train.parquet"
    pq.write_table(pa.table({"input_ids": [[1, 2]], "labels": [[-100, 2]], "weights": [[0.1, 1.0]]}), path)
    with pytest.raises(ValueError, match=r"set render\.prompt_loss_weight: 0"):
        read_rendered(path, packed=False)
