"""What trainers need beside the exported JSONL: LLaMA-Factory's dataset_info.json entries and an axolotl
`datasets` block. The records themselves come from `stages.lib.chat.formats.write_record`, the one definition
of each format (ingest reads the same shapes)."""

from __future__ import annotations

from typing import Any


def llama_factory_entries(name: str, formats: list[str], splits: list[str]) -> dict[str, Any]:
    """LLaMA-Factory `dataset_info.json` entries for the alpaca and ShareGPT files (paths relative to it)."""
    out: dict[str, Any] = {}
    for split in splits:
        if "alpaca" in formats:
            out[f"{name}_alpaca_{split}"] = {
                "file_name": f"alpaca/{split}.jsonl",
                "formatting": "alpaca",
                "columns": {
                    "prompt": "instruction",
                    "query": "input",
                    "response": "output",
                    "system": "system",
                    "history": "history",
                },
            }
        if "sharegpt" in formats:
            out[f"{name}_sharegpt_{split}"] = {
                "file_name": f"sharegpt/{split}.jsonl",
                "formatting": "sharegpt",
                "columns": {"messages": "conversations", "system": "system"},
                "tags": {
                    "role_tag": "from",
                    "content_tag": "value",
                    "user_tag": "human",
                    "assistant_tag": "gpt",
                    "observation_tag": "observation",
                },
            }
    return out


def axolotl_snippet(template_name: str, template_source: str | None, train_on_eos: bool) -> dict[str, Any]:
    """The `datasets` part of an axolotl config for the messages JSONL, with the chat template render used."""
    dataset = {
        "path": "messages/train.jsonl",
        "ds_type": "json",
        "type": "chat_template",
        "field_messages": "messages",
        "message_property_mappings": {"role": "role", "content": "content"},
        "roles_to_train": ["assistant"],
        "train_on_eos": "turn" if train_on_eos else "none",
    }
    out: dict[str, Any] = {}
    if template_source is None:
        out["chat_template"] = "tokenizer_default"
    else:
        out["chat_template"] = "jinja"
        out["chat_template_jinja"] = template_source
    out["datasets"] = [dataset]
    out["test_datasets"] = [{**dataset, "path": "messages/validation.jsonl", "split": "train"}]
    out["comment"] = f"chat template '{template_name}'; paths are relative to this export folder"
    return out
