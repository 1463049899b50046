"""Params of the SFT data stages that work on conversations: ingest (formats, role checks), clean, split.

A conversation is a list of `{role, content}` turns with roles system, user, assistant and tool
(stages/lib/chat/). Sources name their format and, like LLaMA-Factory's `dataset_info.json`, may map
column names (`columns`), the keys of a turn (`role_key`, `content_key`) and role names (`roles`).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from schemas.base import StrictModel
from schemas.clean import ExactDupParams, FilterParams, NearDupParams, NormalizeParams, PiiParams
from schemas.ingest import name_sources
from schemas.split import SplitFractions

Role = Literal["system", "user", "assistant", "tool"]
ChatFormat = Literal["messages", "prompt_completion", "alpaca", "sharegpt", "text"]
FileFormat = Literal["jsonl", "json", "parquet", "text"]

# The role names each format uses in its files, mapped to the canonical roles (a source's `roles` replaces them).
DEFAULT_ROLES: dict[str, dict[str, Role]] = {
    "messages": {"system": "system", "user": "user", "assistant": "assistant", "tool": "tool"},
    "prompt_completion": {"system": "system", "user": "user", "assistant": "assistant", "tool": "tool"},
    "alpaca": {},
    "sharegpt": {
        "system": "system",
        "human": "user",
        "user": "user",
        "gpt": "assistant",
        "assistant": "assistant",
        "observation": "tool",
        "tool": "tool",
    },
    "text": {},
}
DEFAULT_TURN_KEYS = {"sharegpt": ("from", "value")}  # others: ("role", "content")
FILE_SUFFIXES = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".parquet": "parquet", ".txt": "text"}


class ChatColumns(StrictModel):
    """Which record field holds each part of a conversation (only the ones the source's format reads matter)."""

    messages: str = Field("messages", description="messages format: the list of {role, content} turns.")
    prompt: str = Field(
        "prompt", description="prompt_completion: the prompt, a string (standard) or a list of turns (conversational)."
    )
    completion: str = Field(
        "completion", description="prompt_completion: the completion, a string or a list of assistant turns."
    )
    instruction: str = Field("instruction", description="alpaca: the instruction (first part of the user turn).")
    input: str = Field(
        "input", description="alpaca: the optional input, appended to the instruction after a blank line."
    )
    output: str = Field("output", description="alpaca: the answer (the assistant turn).")
    system: str = Field("system", description="alpaca and sharegpt: an optional system prompt field.")
    history: str = Field(
        "history", description="alpaca: optional earlier [user, assistant] pairs, placed before the instruction."
    )
    conversations: str = Field("conversations", description="sharegpt: the list of {from, value} turns.")
    text: str = Field("text", description="text format (language-model data): the text, one assistant turn.")


class ChatSource(StrictModel):
    """One raw input of conversations; its name is its key in `ingest.sources` and is part of every row id."""

    name: str = Field("", description="Set from the key in `sources`; do not write it.")
    path: str = Field(description="File, folder or glob relative to the pipeline folder (sft/).")
    format: ChatFormat = Field(
        description="`messages` (OpenAI / TRL conversational), `prompt_completion` (TRL, standard or "
        "conversational), `alpaca`, `sharegpt`, or `text` (plain language-model text, one assistant turn)."
    )
    file_format: FileFormat | None = Field(
        None,
        description="How the file is stored: jsonl, json (a list, or `records_key`), parquet, or text (one text per "
        "line, format text only). null: from the file suffix.",
    )
    encoding: str = Field("utf-8", description="Text encoding of jsonl, json and text files.")
    records_key: str | None = Field(None, description="json: the key of the list of records in a top-level object.")
    columns: ChatColumns = Field(default_factory=ChatColumns, description="Record fields per conversation part.")
    role_key: str | None = Field(
        None, description="Key of a turn's role ('role'; sharegpt 'from'). null: the format's usual key."
    )
    content_key: str | None = Field(
        None, description="Key of a turn's content ('content'; sharegpt 'value'). null: the format's usual key."
    )
    roles: dict[str, Role] | None = Field(
        None,
        description="Role names in the data -> system/user/assistant/tool. null: the format's usual names "
        "(sharegpt: human -> user, gpt -> assistant, observation -> tool). A name not listed is an `unknown_role` "
        "reject.",
    )
    id_field: str | None = Field(
        None, description="A field with the record's own unique id; null: the id is a hash of the conversation."
    )
    keep_fields: list[str] = Field(
        default_factory=list, description="Record fields copied to the rows as strings (provenance, metadata)."
    )
    allow_empty: bool = Field(False, description="Accept a file with no records instead of failing.")

    @model_validator(mode="after")
    def _file_format(self) -> ChatSource:
        if self.file_format is None:
            suffix = "." + self.path.rsplit(".", 1)[-1].lower() if "." in self.path.rsplit("/", 1)[-1] else ""
            if suffix not in FILE_SUFFIXES:
                raise ValueError(
                    f"cannot tell the file format of '{self.path}' from its suffix; set file_format "
                    f"(one of {', '.join(FileFormat.__args__)})"
                )
            self.file_format = FILE_SUFFIXES[suffix]  # type: ignore[assignment]
        if self.file_format == "text" and self.format != "text":
            raise ValueError("file_format text (one text per line) only holds format: text")
        return self

    def turn_keys(self) -> tuple[str, str]:
        """(role key, content key) of a turn: the configured ones or the format's usual ones."""
        default = DEFAULT_TURN_KEYS.get(self.format, ("role", "content"))
        return self.role_key or default[0], self.content_key or default[1]

    def role_names(self) -> dict[str, Role]:
        """Role name in the data -> canonical role."""
        return dict(self.roles) if self.roles is not None else dict(DEFAULT_ROLES[self.format])


class ChatIngestParams(StrictModel):
    """Read every source into conversation rows; every bad conversation is a counted reject with its reason."""

    sources: dict[str, ChatSource] = Field(
        min_length=1,
        description="The raw inputs by name, read in the order written; each under sft/data/raw or sft/data/sample.",
    )
    max_reject_fraction: float = Field(
        0.2, ge=0.0, le=1.0, description="Fail when more than this share of a source's records is rejected."
    )
    merge_consecutive: bool = Field(
        False,
        description="Two turns of the same role in a row (two user turns) are merged into one, joined by a blank "
        "line; false: such a conversation is a `roles_out_of_order` reject.",
    )
    content_parts: Literal["reject", "join_text"] = Field(
        "reject",
        description="Content given as a list of parts (OpenAI `[{type: text, text: ...}]`): `reject` as "
        "`content_not_string`; `join_text` joins text-only parts (an image or other part is still rejected).",
    )
    max_turns: int | None = Field(64, ge=1, description="Reject a conversation with more turns (`too_many_turns`).")
    max_chars: int | None = Field(
        100_000, ge=1, description="Reject a conversation whose contents total more characters (`too_long`)."
    )

    @model_validator(mode="before")
    @classmethod
    def _names_from_keys(cls, data: Any) -> Any:
        return name_sources(data, "ingest.sources")


def _default_turn_filters() -> dict[Role, FilterParams]:
    return {role: FilterParams(min_chars=1) for role in ("system", "user", "assistant", "tool")}


class ChatCleanParams(StrictModel):
    """Clean every turn, then remove exact and near duplicates of whole conversations; report prompt conflicts."""

    normalize: NormalizeParams = Field(default_factory=NormalizeParams, description="Normalisation of every turn.")
    filters: dict[Role, FilterParams] = Field(
        default_factory=_default_turn_filters,
        description="Quality filters per role, applied to each turn of that role after normalisation (a role not "
        "listed is not filtered). A failing turn rejects the whole conversation with the filter's reason.",
    )
    pii: PiiParams = Field(default_factory=PiiParams, description="PII masking of every turn.")
    exact_dup: ExactDupParams = Field(default_factory=ExactDupParams, description="Exact duplicate conversations.")
    near_dup: NearDupParams = Field(
        default_factory=NearDupParams,
        description="Near-duplicate conversations (MinHash + LSH on the conversation text); the same settings "
        "find near-duplicate prompts.",
    )
    prompt_near_dup: NearDupParams = Field(
        default_factory=lambda: NearDupParams(threshold=0.9),
        description="What makes two prompts (the turns before the last answer) near duplicates: the same MinHash "
        "settings, stricter by default, because templated prompts ('What does the word X mean?') differ in one "
        "word and must not all count as one question. split groups and checks prompt leakage with it too.",
    )
    on_prompt_conflict: Literal["keep", "drop"] = Field(
        "keep",
        description="Conversations whose prompts are (near) duplicates but whose answers differ: `keep` them all "
        "(reported in the conflicts file and metrics), or `drop` the whole group (`prompt_conflict` rejects).",
    )

    @field_validator("filters")
    @classmethod
    def _sorted(cls, value: dict[Role, FilterParams]) -> dict[Role, FilterParams]:
        return dict(sorted(value.items()))


class ChatSplitParams(StrictModel):
    """Split conversations grouped by duplicate and prompt cluster; leakage measured as for classification."""

    method: Literal["random", "hash"] = Field(
        "random",
        description="`random`: seeded folds over groups; `hash`: each group's split from a seeded hash of its "
        "smallest id (stable when data is added).",
    )
    fractions: SplitFractions = Field(default_factory=SplitFractions, description="Shares per split.")
    seed: int = Field(42, description="Seed of the split.")
    near_threshold: float | None = Field(
        0.8,
        gt=0.0,
        le=1.0,
        description="Jaccard similarity (clean.near_dup shingles) from which a validation/test conversation or "
        "prompt counts as a near duplicate of an earlier split's; null: exact only.",
    )
    on_leakage: Literal["fail", "drop_from_test", "warn"] = Field(
        "drop_from_test",
        description="A validation/test conversation duplicating an earlier split's: `fail`, `drop_from_test` "
        "(counted rejects), or `warn` and keep it.",
    )
