"""render against TRL's own preparation (SFTTrainer's dataset pipeline) of the exported conversations: the same
input ids for the same tokenizer and template, and the same trained tokens where TRL can compute them
(`{% generation %}` markers with `assistant_only_loss`, or prompt-completion with `completion_only_loss`)."""

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import torch

from schemas.export import ExportParams, ExportPaths
from stages import export, render
from tests.render_helpers import params, setup, tokenizer


def _trl(tmp_path, tok, records, **config):
    from datasets import Dataset
    from transformers import LlamaConfig, LlamaForCausalLM
    from trl import SFTConfig, SFTTrainer

    torch.set_num_threads(1)
    model = LlamaForCausalLM(
        LlamaConfig(
            vocab_size=len(tok),
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=2,
            num_key_value_heads=2,
            max_position_embeddings=512,
        )
    )
    args = SFTConfig(
        output_dir=str(tmp_path / "trl"),
        max_length=None,
        report_to=[],
        shuffle_dataset=False,
        use_cpu=True,
        dataset_num_proc=None,
        **config,
    )
    trainer = SFTTrainer(model=model, args=args, train_dataset=Dataset.from_list(records), processing_class=tok)
    return trainer.train_dataset


def _render_and_export(tmp_path, template, **render_kw):
    paths = setup(tmp_path, template=template)
    render.run(params(template=template, **render_kw), paths)
    epaths = ExportPaths(
        split=paths.split,
        rendered=paths.rendered,
        export=str(tmp_path / "export"),
        metrics=str(tmp_path / "em.json"),
        details=str(tmp_path / "ed.json"),
    )
    export.run(ExportParams(), epaths, template, True)
    rendered = pq.read_table(Path(paths.rendered) / "train.parquet").to_pylist()
    return {r["id"]: r for r in rendered}, Path(epaths.export)


def _exported(out, fmt):
    return [json.loads(line) for line in (out / fmt / "train.jsonl").read_text().splitlines()]


def _ids_in_export_order(out):
    from datasets import load_from_disk

    return load_from_disk(str(out / "dataset"))["train"]["id"]


@pytest.mark.parametrize("template", ["chatml", "llama3"])
def test_same_input_ids_as_trl(tmp_path, template):
    rendered, out = _render_and_export(tmp_path, template)
    prepared = _trl(tmp_path, tokenizer(template), _exported(out, "messages"))
    ids = _ids_in_export_order(out)
    assert [r["input_ids"] for r in prepared] == [rendered[i]["input_ids"] for i in ids]


@pytest.mark.parametrize("template", ["chatml_generation", "llama3_generation"])
def test_same_trained_tokens_as_trl_assistant_only_loss(tmp_path, template):
    rendered, out = _render_and_export(tmp_path, template)
    prepared = _trl(tmp_path, tokenizer(template), _exported(out, "messages"), assistant_only_loss=True)
    ids = _ids_in_export_order(out)
    assert [r["input_ids"] for r in prepared] == [rendered[i]["input_ids"] for i in ids]
    assert [r["labels"] for r in prepared] == [rendered[i]["labels"] for i in ids]


def test_same_trained_tokens_as_trl_prompt_completion(tmp_path):
    # TRL trains the completion (the last answer and what follows it): render's last_assistant policy; llama3
    # writes nothing after the end-of-turn token, so the two agree token for token
    rendered, out = _render_and_export(tmp_path, "llama3", mask_policy="last_assistant")
    prepared = _trl(tmp_path, tokenizer("llama3"), _exported(out, "prompt_completion"), completion_only_loss=True)
    ids = _ids_in_export_order(out)
    assert [r["input_ids"] for r in prepared] == [rendered[i]["input_ids"] for i in ids]
    assert [r["labels"] for r in prepared] == [rendered[i]["labels"] for i in ids]
