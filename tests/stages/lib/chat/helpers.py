"""Small builders shared by the chat tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from schemas.chat import ChatIngestParams

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "sft"


def ingest_params(sources: dict[str, dict[str, Any]], **settings: Any) -> ChatIngestParams:
    return ChatIngestParams.model_validate({"sources": sources, "max_reject_fraction": 1.0, **settings})


def write_jsonl(path: Path, records: list[Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records))
    return path


def turns(*pairs: tuple[str, str]) -> list[dict[str, str]]:
    return [{"role": role, "content": content} for role, content in pairs]
