"""Render's rows as batches: the loss of each example packed equals its loss unpacked."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from stages.lib.model.causal.data import (
    IGNORE,
    Collator,
    block_diagonal_mask,
    pack_batch,
    pad_batch,
    read_rendered,
    trained_tokens,
)
from tests.stages.lib.model.causal.conftest import pack_rows, tiny_llama

GROUPS = [[0, 1, 2], [3, 4], [5]]  # rows of different lengths, so the packed batch is padded too


def example_losses(model, batch) -> torch.Tensor:
    """Per-token next-token loss of a batch (0 where untrained), aligned to the target positions."""
    with torch.no_grad():
        out = model(**{k: v for k, v in batch.items() if k != "labels"})
    targets = batch["labels"][:, 1:]
    nll = torch.nn.functional.cross_entropy(
        out.logits[:, :-1].float().transpose(1, 2), targets, ignore_index=IGNORE, reduction="none"
    )
    return nll


@pytest.mark.parametrize(("attn", "mask"), [("sdpa", torch.bool), ("sdpa", torch.float32), ("eager", torch.float32)])
def test_each_example_loses_the_same_packed_and_unpacked(tokenizer, rows, attn, mask):
    model = tiny_llama(tokenizer, attn)
    pad = tokenizer.pad_token_id
    packed_rows = pack_rows(rows, GROUPS)
    packed_nll = example_losses(model, pack_batch(packed_rows, pad, mask))
    for b, group in enumerate(GROUPS):
        offset = 0
        for i in group:
            alone = pad_batch([rows[i]], pad)
            alone_nll = example_losses(model, alone)[0]
            n = len(rows[i]["input_ids"])
            # target j predicts token j+1; within the packed row the example's targets sit at offset..offset+n-2
            packed_part = packed_nll[b, offset : offset + n - 1]
            assert alone_nll.sum() > 0
            torch.testing.assert_close(packed_part, alone_nll, atol=1e-5, rtol=0)
            offset += n


@pytest.mark.parametrize("attn", ["sdpa", "eager"])
def test_the_models_own_loss_on_a_packed_batch_is_the_token_mean_of_the_unpacked_losses(tokenizer, rows, attn):
    """The loss the Trainer trains on (transformers' shifted loss) never crosses an example boundary."""
    model = tiny_llama(tokenizer, attn)
    pad = tokenizer.pad_token_id
    collate = Collator(pad, attn)  # what fit_causal hands the Trainer
    with torch.no_grad():
        packed_loss = model(**collate(pack_rows(rows, GROUPS))).loss
    total = count = 0.0
    for i in sorted(i for g in GROUPS for i in g):
        nll = example_losses(model, pad_batch([rows[i]], pad))
        total += nll.sum().item()
        count += (pad_batch([rows[i]], pad)["labels"][:, 1:] != IGNORE).sum().item()
    assert packed_loss.item() == pytest.approx(total / count, abs=1e-5)


def test_an_unmasked_packed_batch_would_leak_between_examples(tokenizer, rows):
    """The check above has teeth: position_ids alone (no block mask) changes the second example's loss."""
    model = tiny_llama(tokenizer, "sdpa")
    pad = tokenizer.pad_token_id
    batch = pack_batch(pack_rows(rows, [[0, 1]]), pad)
    leaky = dict(batch, attention_mask=torch.ones_like(batch["input_ids"]))
    n0 = len(rows[0]["input_ids"])
    masked, unmasked = example_losses(model, batch)[0, n0:], example_losses(model, leaky)[0, n0:]
    assert (masked - unmasked).abs().max() > 1e-4


def test_block_diagonal_mask_is_causal_within_examples_and_gives_padding_its_own_block():
    mask = block_diagonal_mask([[2, 1]], 5)[0, 0]
    allowed = (mask == 0).int().tolist()
    assert block_diagonal_mask([[2, 1]], 5, torch.bool)[0, 0].int().tolist() == allowed
    assert allowed == [
        [1, 0, 0, 0, 0],
        [1, 1, 0, 0, 0],
        [0, 0, 1, 0, 0],
        [0, 0, 0, 1, 0],
        [0, 0, 0, 1, 1],
    ]


def test_pack_batch_masks_each_examples_first_label_and_pads(tokenizer, rows):
    packed = pack_rows(rows, [[0, 1], [2]])
    batch = pack_batch(packed, tokenizer.pad_token_id)
    n0 = len(rows[0]["input_ids"])
    assert batch["labels"][0, 0] == IGNORE and batch["labels"][0, n0] == IGNORE
    assert batch["position_ids"][0, n0] == 0
    assert batch["attention_mask"].shape == (2, 1, batch["input_ids"].shape[1], batch["input_ids"].shape[1])
    short = len(rows[2]["input_ids"])
    assert (batch["labels"][1, short:] == IGNORE).all()
    assert (batch["input_ids"][1, short:] == tokenizer.pad_token_id).all()


def test_pack_batch_refuses_seq_lens_that_do_not_add_up(tokenizer, rows):
    bad = pack_rows(rows, [[0, 1]])
    bad[0]["seq_lens"] = [3]
    with pytest.raises(ValueError, match="seq_lens sum to 3"):
        pack_batch(bad, tokenizer.pad_token_id)


def test_pad_batch_pads_right_and_keeps_renders_labels(tokenizer, rows):
    batch = pad_batch(rows[:3], tokenizer.pad_token_id)
    for i, r in enumerate(rows[:3]):
        n = len(r["input_ids"])
        assert batch["labels"][i, :n].tolist() == r["labels"]
        assert batch["attention_mask"][i].sum() == n
    assert Collator(tokenizer.pad_token_id)(rows[:3])["input_ids"].equal(batch["input_ids"])


def test_read_rendered_reads_either_variant_and_names_missing_columns(tmp_path, rows):
    plain = tmp_path / "train.parquet"
    pq.write_table(pa.Table.from_pylist(rows), plain)
    got = read_rendered(plain, packed=False)
    assert [r["input_ids"] for r in got] == [r["input_ids"] for r in rows]
    assert trained_tokens(got) == sum(r["n_trained"] for r in rows)
    with pytest.raises(ValueError, match=r"lacks the packed columns \['position_ids', 'seq_lens'\]"):
        read_rendered(plain, packed=True)
    packed = tmp_path / "train.packed.parquet"
    pq.write_table(pa.Table.from_pylist(pack_rows(rows, [[0, 1]])), packed)
    assert read_rendered(packed, packed=True)[0]["seq_lens"] == [len(rows[0]["input_ids"]), len(rows[1]["input_ids"])]
