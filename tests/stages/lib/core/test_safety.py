"""stages/lib/core/safety.py: paths stay inside the repository; model weights load only from safetensors."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from stages.lib.core.errors import StageError
from stages.lib.core.safety import from_pretrained, inside_repo


def tiny_bin_model(folder: Path) -> Path:
    """A 2-layer, 32-wide BERT masked LM saved the old way: config.json and a pickled pytorch_model.bin."""
    import torch
    from transformers import BertConfig, BertForMaskedLM

    config = BertConfig(vocab_size=64, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=37)
    model = BertForMaskedLM(config)
    folder.mkdir(parents=True)
    config.save_pretrained(folder)
    torch.save(model.state_dict(), folder / "pytorch_model.bin")
    return folder


def test_pickled_weights_are_refused(tmp_path: Path):
    from transformers import AutoModel, AutoModelForMaskedLM

    folder = tiny_bin_model(tmp_path / "bin_only")
    message = r"bin_only has no safetensors weights \(it holds pytorch_model.bin\); Refinery never loads pickled"
    for cls in (AutoModelForMaskedLM, AutoModel):
        with pytest.raises(StageError, match=message):
            from_pretrained(cls, folder)


def test_masked_lm_substitution_refuses_pickled_weights(tmp_path: Path):
    """augment's masked-LM operation goes through the same check (it loaded a .bin-only folder before)."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    from stages.lib.text.textops import MaskedLMSubstituter

    folder = tiny_bin_model(tmp_path / "mlm")
    vocab = {"[PAD]": 0, "[UNK]": 1, "[MASK]": 2, "hello": 3}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    special = {"mask_token": "[MASK]", "pad_token": "[PAD]", "unk_token": "[UNK]"}
    PreTrainedTokenizerFast(tokenizer_object=tok, **special).save_pretrained(folder)
    with pytest.raises(StageError, match="no safetensors weights"):
        MaskedLMSubstituter(str(folder), top_k=3, max_length=16, batch_size=2)


def test_safetensors_folder_loads(tmp_path: Path):
    from transformers import AutoModelForMaskedLM, BertConfig, BertForMaskedLM

    config = BertConfig(vocab_size=64, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=37)
    BertForMaskedLM(config).save_pretrained(tmp_path / "st")
    assert from_pretrained(AutoModelForMaskedLM, tmp_path / "st").config.hidden_size == 32


def test_inside_repo_accepts_paths_and_links_within(tmp_path: Path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.txt").write_text("x")
    os.symlink(tmp_path / "data" / "a.txt", tmp_path / "data" / "link.txt")
    assert inside_repo(tmp_path / "data" / "link.txt", "t", root=tmp_path) == tmp_path / "data" / "a.txt"


@pytest.mark.parametrize("kind", ["symlink_file", "symlink_dir", "dotdot", "absolute"])
def test_inside_repo_refuses_escapes(tmp_path: Path, kind: str):
    repo, outside = tmp_path / "repo", tmp_path / "outside"
    (repo / "data").mkdir(parents=True)
    outside.mkdir()
    (outside / "secret.txt").write_text("secret")
    if kind == "symlink_file":
        os.symlink(outside / "secret.txt", repo / "data" / "link.txt")
        path = repo / "data" / "link.txt"
    elif kind == "symlink_dir":
        os.symlink(outside, repo / "data" / "linked")
        path = repo / "data" / "linked" / "secret.txt"
    elif kind == "dotdot":
        path = repo / "data" / ".." / ".." / "outside" / "secret.txt"
    else:
        path = outside / "secret.txt"
    message = rf"my key: .* is outside the repository {re.escape(str(repo))}; .*Copy the data"
    with pytest.raises(StageError, match=message) as err:
        inside_repo(path, "my key", root=repo)
    assert ("a symlink to" in str(err.value)) == kind.startswith("symlink")  # a plain `..` path is not a link


def test_adapter_without_safetensors_is_refused(tmp_path: Path):
    """PEFT would fall back to a pickled adapter_model.bin; the adapter approach refuses before loading anything."""
    from stages.lib.model.approaches import adapter

    (tmp_path / "model" / adapter.ADAPTER_DIR).mkdir(parents=True)
    (tmp_path / "model" / adapter.ADAPTER_DIR / "adapter_model.bin").write_bytes(b"not loaded")
    with pytest.raises(StageError, match=r"has no adapter_model\.safetensors; Refinery never loads pickled weights"):
        adapter.load(tmp_path / "model", tmp_path / "base", {})
