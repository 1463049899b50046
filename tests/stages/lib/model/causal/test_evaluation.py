"""Evaluation on known cases: loss and perplexity on trained tokens, stopping, the predictions table."""

from __future__ import annotations

import math

import pytest
import torch

from stages.lib.model.causal.evaluation import PREDICTION_SCHEMA, generate, row_losses, score_answers, token_loss
from tests.stages.lib.model.causal.conftest import tiny_llama


def test_a_uniform_model_has_loss_log_vocab_and_perplexity_vocab(tokenizer, rows):
    model = tiny_llama(tokenizer)
    with torch.no_grad():
        model.lm_head.weight.zero_()  # every next token equally likely
    got = token_loss(model, rows, tokenizer.pad_token_id, 7)
    assert got["loss"] == pytest.approx(math.log(len(tokenizer)), abs=1e-5)
    assert got["perplexity"] == pytest.approx(len(tokenizer), rel=1e-4)
    assert got["trained_tokens"] == sum(r["n_trained"] for r in rows)


def test_loss_counts_trained_tokens_only_and_does_not_depend_on_batching(tokenizer, rows):
    model = tiny_llama(tokenizer)
    one = row_losses(model, rows, tokenizer.pad_token_id, 1)
    many = row_losses(model, rows, tokenizer.pad_token_id, 20)
    assert [c for _, c in one] == [r["n_trained"] for r in rows]
    assert [t for t, _ in one] == pytest.approx([t for t, _ in many], abs=1e-4)
    untrained = [dict(r, labels=[-100] * len(r["labels"])) for r in rows[:2]]
    assert token_loss(model, untrained, tokenizer.pad_token_id, 2)["trained_tokens"] == 0


class Scripted(torch.nn.Module):
    """A stand-in model whose greedy generation is fixed: `script[i]` for prompt i of each batch."""

    def __init__(self, script):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(1))
        self.script = script

    def generate(self, input_ids, attention_mask, max_new_tokens, eos_token_id, pad_token_id, **_):
        rows = [(s + [pad_token_id] * max_new_tokens)[:max_new_tokens] for s in self.script[: len(input_ids)]]
        return torch.cat([input_ids, torch.tensor(rows)], dim=1)


def test_generate_cuts_at_the_first_stop_token_and_counts_the_ones_that_never_stop(tokenizer):
    stop = tokenizer.convert_tokens_to_ids("<|im_end|>")
    words = tokenizer("The sea is blue.", add_special_tokens=False)["input_ids"]
    model = Scripted([[*words, stop, *words], words * 3])
    got = generate(model, tokenizer, ["a", "b"], max_new_tokens=len(words) * 2, batch_size=2, stop_ids=[stop])
    assert got[0] == {"generation": "The sea is blue.", "generated_tokens": len(words), "stopped": True}
    assert got[1]["stopped"] is False and got[1]["generated_tokens"] == 2 * len(words)


def test_score_answers_sorts_by_id_and_summarises():
    gens = [
        {"generation": "blue", "generated_tokens": 1, "stopped": True},
        {"generation": "the sea is red and", "generated_tokens": 5, "stopped": False},
    ]
    table, summary = score_answers(["b", "a"], ["p1", "p2"], ["Blue.", "The sea is red."], gens)
    assert table.schema == PREDICTION_SCHEMA
    assert table.column("id").to_pylist() == ["a", "b"]
    assert summary["exact_match"] == 0.5 and summary["stopped_share"] == 0.5
    assert summary["mean_generated_tokens"] == 3.0
    # "sea is red and" vs "sea is red": P 3/4, R 1 -> 6/7; plus 1.0 for "blue"
    assert summary["token_f1"] == pytest.approx((1 + 6 / 7) / 2)


def test_evaluate_rendered_scores_a_split_file_with_the_eval_settings(tokenizer, rows, tmp_path):
    import inspect

    import pyarrow as pa
    import pyarrow.parquet as pq

    from schemas.causal import CausalEvalParams
    from stages.lib.model.causal.evaluation import evaluate_rendered

    fields = set(CausalEvalParams.model_fields) - {"retrieval"}
    assert set(inspect.signature(evaluate_rendered).parameters) - {"model", "tokenizer", "path"} == fields
    path = tmp_path / "test.parquet"
    pq.write_table(pa.Table.from_pylist(rows[::-1]), path)
    settings = CausalEvalParams(max_new_tokens=3, batch_size=4, limit=5).model_dump(exclude={"retrieval"})
    table, metrics, timings = evaluate_rendered(tiny_llama(tokenizer), tokenizer, path, **settings)
    assert table.column("id").to_pylist() == sorted(r["id"] for r in rows)[:5]
    assert metrics["trained_tokens"] == sum(r["n_trained"] for r in rows) and metrics["prompts"] == 5
    assert all(0 <= n <= 3 for n in table.column("generated_tokens").to_pylist())
    assert set(timings) == {"generation_seconds_per_100"}
