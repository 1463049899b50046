import hashlib
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from schemas.export import ExportParams, ExportPaths
from stages import export, render
from stages.lib.chat.formats import Unsupported, write_record
from stages.lib.core.errors import StageError
from stages.lib.export.classification import export_classification
from tests.render_helpers import CONVERSATIONS, conv, params, setup


def _export(tmp_path, template="chatml", **kw):
    paths = setup(tmp_path, [*CONVERSATIONS, conv(("user", "Say <|im_end|>"), ("assistant", "No."))], template)
    render.run(params(template=template), paths)
    (tmp_path / "details").mkdir(exist_ok=True)
    (tmp_path / "details" / "render.json").write_text(
        json.dumps({"rows_in": 11, "rows_out": 10, "dropped": {"special_token_in_content": 1}, "leakage": {"near": 0}})
    )
    epaths = ExportPaths(
        split=paths.split,
        rendered=paths.rendered,
        details_dir=str(tmp_path / "details"),
        export=str(tmp_path / "export"),
        metrics=str(tmp_path / "em.json"),
        details=str(tmp_path / "ed.json"),
    )
    cfg = ExportParams(card_stages=["render"], license="other", license_name="wordnet-3.0", **kw)
    return export.run(cfg, epaths, template, True), Path(epaths.export), paths


def test_export_loads_with_datasets_and_has_a_card(tmp_path):
    from datasets import load_from_disk

    m, out, _ = _export(tmp_path)
    assert m["rows_in"] == 11 and m["rows_out"] == 10 and m["dropped"] == {"not_rendered": 1}
    ds = load_from_disk(str(out / "dataset"))
    assert {k: len(v) for k, v in ds.items()} == {"train": 6, "validation": 2, "test": 2}
    assert ds["train"][0]["messages"] == CONVERSATIONS[0]
    assert sum(ds["train"]["n_tokens"]) + sum(ds["validation"]["n_tokens"]) + sum(ds["test"]["n_tokens"]) == m["tokens"]
    text = (out / "README.md").read_text()
    meta = yaml.safe_load(text.split("---\n")[1])
    assert meta["license"] == "other" and meta["license_name"] == "wordnet-3.0"
    assert meta["task_categories"] == ["text-generation"] and meta["size_categories"] == ["n<1K"]
    assert meta["configs"][0]["data_files"][0] == {"split": "train", "path": "messages/train.jsonl"}
    assert "| render | special_token_in_content | 1 |" in text and "| render | leakage.near | 0 |" in text
    assert "| train | 6 |" in text and "## Licence\n\nother (wordnet-3.0)" in text


def test_trainer_formats(tmp_path):
    m, out, _ = _export(tmp_path)
    lines = lambda p: [json.loads(x) for x in (out / p).read_text().splitlines()]  # noqa: E731
    assert lines("messages/train.jsonl")[0] == {"messages": CONVERSATIONS[0]}
    pc = lines("prompt_completion/train.jsonl")[1]
    assert pc["prompt"] == CONVERSATIONS[1][:3] and pc["completion"] == CONVERSATIONS[1][3:]
    alpaca = lines("alpaca/train.jsonl")
    assert alpaca[1] == {
        "instruction": "Use it in a sentence.",
        "input": "",
        "output": "They pulled the canoe up on the bank.",
        "system": "",
        "history": [["What does 'bank' mean?", "Sloping land beside a body of water."]],
    }
    assert alpaca[2]["system"] == "You sort text messages."
    share = lines("sharegpt/train.jsonl")[2]
    assert [t["from"] for t in share["conversations"]] == ["human", "gpt"] and share["system"]
    info = json.loads((out / "dataset_info.json").read_text())
    assert info["refinery_sft_sharegpt_train"]["file_name"] == "sharegpt/train.jsonl"
    assert info["refinery_sft_alpaca_test"]["columns"]["history"] == "history"
    axo = yaml.safe_load((out / "axolotl.yaml").read_text())
    assert axo["datasets"][0]["type"] == "chat_template" and "<|im_start|>" in axo["chat_template_jinja"]
    assert m["formats"]["alpaca"] == {"rows": 10, "skipped": {}}


def test_formats_skip_what_they_cannot_hold():
    two_users = conv(("user", "a"), ("user", "b"), ("assistant", "c"))
    with pytest.raises(Unsupported, match="not_alternating"):
        write_record(two_users, "alpaca")
    assert write_record(two_users, "messages")["messages"][1]["content"] == "b"
    with pytest.raises(Unsupported, match="tool_turns"):
        write_record(
            conv(("user", "a"), ("assistant", "b"), ("tool", "c"), ("user", "d"), ("assistant", "e")), "alpaca"
        )


def test_export_is_byte_deterministic(tmp_path):
    digests = []
    for k in range(2):
        _, out, _ = _export(tmp_path / str(k))
        digests.append(
            {
                str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted(out.rglob("*"))
                if p.is_file()
            }
        )
    assert digests[0] == digests[1]


def test_missing_card_stage_is_named(tmp_path):
    with pytest.raises(StageError, match=r"export\.card_stages lists 'render'"):
        export.run(ExportParams(card_stages=["render"]), ExportPaths(details_dir=str(tmp_path)), "chatml", True)


def test_classification_export(tmp_path):
    from datasets import load_from_disk

    schema = pa.schema([("id", pa.string()), ("source", pa.string()), ("text", pa.string()), ("label", pa.string())])
    for split, n in (("train", 6), ("validation", 2), ("test", 2)):
        rows = [
            {"id": f"{split}{i}", "source": "sms", "text": f"msg {i}", "label": "spam" if i % 3 == 0 else "ham"}
            for i in range(n)
        ]
        (tmp_path / "split").mkdir(exist_ok=True)
        pq.write_table(pa.Table.from_pylist(rows, schema=schema), tmp_path / "split" / f"{split}.parquet")
    m = export_classification(
        tmp_path / "split",
        {"split": {"rows_in": 12, "rows_out": 10, "dropped": {"leak": 2}}},
        tmp_path / "out",
        license="cc-by-4.0",
        license_name=None,
        license_link=None,
        language=["en"],
        pretty_name="SMS",
    )
    ds = load_from_disk(str(tmp_path / "out" / "dataset"))
    assert ds["train"].features["label"].names == ["ham", "spam"] and ds["train"][0]["label"] == 1
    assert m["rows_out"] == 10 and m["labels"] == 2
    meta = yaml.safe_load((tmp_path / "out" / "README.md").read_text().split("---\n")[1])
    assert meta["task_categories"] == ["text-classification"] and meta["license"] == "cc-by-4.0"
