"""Params of the ingest stage: which raw files become canonical rows, and how.

`ingest.sources` maps a name to one source. Options that only one format reads
(`delimiter`, `header`, `pattern`...) take that format's default when left out,
so a CSV source needs only `path`, `format`, `text_field` and `label_field`.
"""

from __future__ import annotations

import codecs
import warnings
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from schemas.base import StrictModel, check_inside_repo

Format = Literal["csv", "tsv", "jsonl", "json", "parquet", "text", "text_dir", "hf_disk", "collected"]

# Formats whose rows are plain text with no field names: the text is the line or file.
IMPLICIT_TEXT_FORMATS = ("text", "text_dir")
# Columns ingest writes itself: a kept field of the same name would overwrite them.
CANONICAL_COLUMNS = ("id", "text", "label", "source", "location")

# Folders ingest depends on in dvc.yaml (`${paths.ingest.raw}`, `${paths.ingest.sample}`) besides collect's
# snapshot: a source must live under one of them, so editing its data reruns ingest with no dvc.yaml edit.
DATA_FOLDERS_HINT = "put the data under data/raw/ (your own, `dvc add`ed) or data/sample/ (bundled)"

# Options that only some formats read, with the formats and the default each format takes when left out.
FORMAT_OPTIONS: dict[str, dict[str, Any]] = {
    "delimiter": {"csv": ",", "tsv": "\t"},
    "quoting": {"csv": "minimal", "tsv": "minimal"},
    "header": {"csv": True, "tsv": True},
    "columns": {"csv": None, "tsv": None},
    "records_key": {"json": None},
    "pattern": {"text_dir": "**/*.txt"},
    "label_from_dir": {"text_dir": False},
    "split": {"hf_disk": None},
}


class ParamsWarning(UserWarning):
    """A setting that is valid but probably not what was meant; `python -m schemas` prints it."""


class Source(StrictModel):
    """One raw input: a file, a folder or a glob read in one format."""

    name: str = Field(
        "",
        description="Set from the source's key in ingest.sources (do not write it); part of every row id, so "
        "renaming a source changes its ids.",
        pattern=r"^([A-Za-z0-9_.-]+)?$",
    )
    path: str = Field(
        description="File, folder or glob, relative to the repository root, under data/raw/, data/sample/ or "
        "the collect snapshot folder (the folders ingest depends on in dvc.yaml)."
    )
    format: Format = Field(
        description="csv, tsv, jsonl, json (array of objects), parquet, text (one example per line), "
        "text_dir (one example per file), hf_disk (datasets.save_to_disk folder), "
        "collected (a snapshot written by the collect stage: data/collected/<name>, or data/collected for all)."
    )
    text_field: str | list[str] = Field(
        "text",
        description="Field holding the example text, or a list of fields joined with a blank line "
        "(e.g. [subject, body]); ignored by text and text_dir.",
    )
    label_field: str | None = Field(None, description="Field holding the label, if the source has one.")
    id_field: str | None = Field(
        None, description="Field holding the source's own id; row ids hash it instead of the content."
    )
    keep_fields: list[str] = Field(
        default_factory=list, description="Other fields copied into the rows (as strings), e.g. a date or a split."
    )
    encoding: str = Field(
        "utf-8", description="Text encoding of the file: utf-8 (a BOM is skipped), latin-1, cp1252..."
    )
    delimiter: str | None = Field(None, description="csv/tsv field delimiter; default ',' for csv and TAB for tsv.")
    quoting: Literal["minimal", "none"] | None = Field(
        None,
        description="csv/tsv quoting, default 'minimal': honours double quotes (fields may span lines); 'none' "
        "reads quotes as plain characters (needed for the SMS Spam Collection, whose messages contain "
        "unbalanced quotes).",
    )
    header: bool | None = Field(None, description="csv/tsv: the first line names the columns (default true).")
    columns: list[str] | None = Field(None, description="csv/tsv column names when the file has no header line.")
    records_key: str | None = Field(
        None, description="json: key of the list of records when the top level is an object."
    )
    pattern: str | None = Field(None, description="text_dir: glob of the files to read inside the folder (**/*.txt).")
    label_from_dir: bool | None = Field(
        None, description="text_dir: use the name of each file's parent folder as its label (default false)."
    )
    split: str | None = Field(None, description="hf_disk: read one split of a DatasetDict; default reads all of them.")
    allow_empty: bool = Field(
        False,
        description="Accept a file with no records (empty, or a header line only). Off by default: such a file "
        "usually means a failed export, and reading it would replace the source's rows with none.",
    )

    @field_validator("keep_fields")
    @classmethod
    def _not_canonical(cls, value: list[str]) -> list[str]:
        clash = [name for name in value if name in CANONICAL_COLUMNS]
        if clash:
            raise ValueError(
                f"{clash} would overwrite the canonical column(s) ingest writes ({', '.join(CANONICAL_COLUMNS)}); "
                "set text_field/label_field/id_field for those, and keep only other fields"
            )
        return value

    @model_validator(mode="before")
    @classmethod
    def _format_defaults(cls, data: Any) -> Any:
        """Fill the format's defaults; an option the format does not read is an error, not silently ignored."""
        if not isinstance(data, dict) or data.get("format") not in _FORMATS:
            return data
        fmt = data["format"]
        data = dict(data)
        wrong = []
        for option, defaults in FORMAT_OPTIONS.items():
            if fmt in defaults:
                if data.get(option) is None:
                    data[option] = defaults[fmt]
            elif data.get(option) is not None:
                wrong.append(f"`{option}` (only for {', '.join(defaults)})")
        if wrong:
            raise ValueError(f"format {fmt} does not read {', '.join(wrong)}; remove it")
        return data

    @field_validator("path")
    @classmethod
    def _inside_repo(cls, value: str) -> str:
        return check_inside_repo(value, "copy or `dvc add` the data inside it")

    @field_validator("pattern")
    @classmethod
    def _pattern_inside_folder(cls, value: str | None) -> str | None:
        if value is None:
            return value  # a format without `pattern`; text_dir gets its default before this runs
        if not value:
            raise ValueError("must be a glob relative to the folder, such as '**/*.txt'")
        return check_inside_repo(value, "write a glob relative to the folder, such as '**/*.txt'")

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError("is not an encoding Python knows (try utf-8, latin-1, cp1252)") from None
        return value

    @field_validator("delimiter")
    @classmethod
    def _one_char(cls, value: str | None) -> str | None:
        if value is not None and len(value) != 1:
            raise ValueError("must be exactly one character")
        return value

    @field_validator("text_field")
    @classmethod
    def _some_text_field(cls, value: str | list[str]) -> str | list[str]:
        if isinstance(value, list) and (not value or len(set(value)) != len(value)):
            raise ValueError("a list of text fields must name at least one field, each once")
        return value

    @property
    def text_fields(self) -> list[str]:
        """The fields the text is read from (one or several), in order; `text` for the formats without field
        names, whose readers put the line or file there."""
        if self.format in IMPLICIT_TEXT_FORMATS:
            return ["text"]
        return [self.text_field] if isinstance(self.text_field, str) else list(self.text_field)

    @model_validator(mode="after")
    def _consistent(self) -> Source:
        if self.format in ("csv", "tsv"):
            if not self.header and not self.columns:
                raise ValueError("header is false, so `columns` must name the columns (e.g. [label, text])")
            repeated = sorted({c for c in self.columns or [] if self.columns.count(c) > 1})
            if repeated:
                raise ValueError(f"`columns` repeats {repeated}: one column would silently replace the other")
            missing = [f for f in self.text_fields if self.columns and f not in self.columns]
            if missing:
                raise ValueError(f"text_field {missing} not in columns {self.columns}")
            contradiction = {"csv": "\t", "tsv": ","}[self.format]
            if self.delimiter == contradiction:
                other = "tsv" if self.format == "csv" else "csv"
                warnings.warn(
                    f"ingest.sources.{self.name or '<source>'}.delimiter: {self.delimiter!r} with format "
                    f"{self.format}; did you mean format {other} (whose default delimiter this is)?",
                    ParamsWarning,
                    stacklevel=2,
                )
        if self.format == "collected" and self.id_field is None:
            raise ValueError("format collected: set `id_field: url` so a page keeps its id when its text changes")
        return self


_FORMATS = Format.__args__


class IngestParams(StrictModel):
    """Read every configured source into one table of canonical rows."""

    sources: dict[str, Source] = Field(
        min_length=1,
        description="The raw inputs by name (the name is part of every row id), read in the order written. Each source "
        "must live under data/raw/, data/sample/ or the collect snapshot: dvc.yaml's ingest stage depends on "
        "those folders.",
    )
    max_reject_fraction: float = Field(
        0.05,
        ge=0.0,
        le=1.0,
        description="Fail when more than this share of a source's rows cannot be read: a wrong delimiter or "
        "encoding should stop the pipeline, not quietly drop most of the data.",
    )

    @model_validator(mode="before")
    @classmethod
    def _names_from_keys(cls, data: Any) -> Any:
        """Each source's name is its key; a list (the old layout) gets a message saying how to rewrite it."""
        return name_sources(data, "ingest.sources")


def name_sources(data: Any, where: str) -> Any:
    """Set each source's `name` from its key in `data["sources"]` (ingest.sources, monitor.sources).

    A list (the old layout) is refused with the rewrite to make; a `name:` that differs from the key too.
    """
    if not isinstance(data, dict) or "sources" not in data:
        return data
    sources = data["sources"]
    if isinstance(sources, list):
        raise ValueError(
            f"{where} is a mapping from a name to a source, not a list: write "
            "`sources: {my_data: {path: data/raw/my.csv, format: csv, ...}}` (one key per source)"
        )
    if isinstance(sources, dict):
        named = {}
        for key, source in sources.items():
            if isinstance(source, dict):
                if source.get("name") not in (None, "", key):
                    raise ValueError(f"{where}.{key}: the name is the key; remove `name: {source['name']}`")
                source = {**source, "name": str(key)}
            named[key] = source
        data = {**data, "sources": named}
    return data
