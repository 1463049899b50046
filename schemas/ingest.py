"""Params of the ingest stage: which raw files become canonical rows, and how."""

from __future__ import annotations

import codecs
from typing import Literal

from pydantic import Field, field_validator, model_validator

from schemas.base import StrictModel, check_inside_repo

Format = Literal["csv", "tsv", "jsonl", "json", "parquet", "text", "text_dir", "hf_disk", "collected"]

# Formats whose rows are plain text with no field names: the text is the line or file.
IMPLICIT_TEXT_FORMATS = ("text", "text_dir")
# Columns ingest writes itself: a kept field of the same name would overwrite them.
CANONICAL_COLUMNS = ("id", "text", "label", "source", "location")


class Source(StrictModel):
    """One raw input: a file, a folder or a glob read in one format."""

    name: str = Field(
        description="Short unique name; part of every row id, so renaming a source changes its ids.",
        pattern=r"^[A-Za-z0-9_.-]+$",
    )
    path: str = Field(
        description="File, folder or glob, relative to the repository root. Must stay inside the repository."
    )
    format: Format = Field(
        description="csv, tsv, jsonl, json (array of objects), parquet, text (one example per line), "
        "text_dir (one example per file), hf_disk (datasets.save_to_disk folder), "
        "collected (a snapshot written by the collect stage: data/collected/<name>, or data/collected for all)."
    )
    text_field: str = Field("text", description="Field holding the example text (ignored by text and text_dir).")
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
    delimiter: str | None = Field(None, description="Field delimiter for csv/tsv; default ',' for csv and TAB for tsv.")
    quoting: Literal["minimal", "none"] = Field(
        "minimal",
        description="csv/tsv quoting: 'minimal' honours double quotes; 'none' reads quotes as plain characters "
        "(needed for the SMS Spam Collection, whose messages contain unbalanced quotes).",
    )
    header: bool = Field(True, description="csv/tsv: the first line names the columns.")
    columns: list[str] | None = Field(None, description="csv/tsv column names when the file has no header line.")
    records_key: str | None = Field(
        None, description="json: key of the list of records when the top level is an object."
    )
    pattern: str = Field("**/*.txt", description="text_dir: glob of the files to read inside the folder.")
    label_from_dir: bool = Field(False, description="text_dir: use the name of each file's parent folder as its label.")
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

    @field_validator("path")
    @classmethod
    def _inside_repo(cls, value: str) -> str:
        return check_inside_repo(value, "copy or `dvc add` the data inside it")

    @field_validator("pattern")
    @classmethod
    def _pattern_inside_folder(cls, value: str) -> str:
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

    @model_validator(mode="after")
    def _consistent(self) -> Source:
        if self.format in ("csv", "tsv"):
            if not self.header and not self.columns:
                raise ValueError("header is false, so `columns` must name the columns (e.g. [label, text])")
            repeated = sorted({c for c in self.columns or [] if self.columns.count(c) > 1})
            if repeated:
                raise ValueError(f"`columns` repeats {repeated}: one column would silently replace the other")
            if self.columns and self.text_field not in self.columns:
                raise ValueError(f"text_field '{self.text_field}' is not one of columns {self.columns}")
        elif self.columns:
            raise ValueError(f"`columns` only applies to csv and tsv, not {self.format}")
        if self.label_from_dir and self.format != "text_dir":
            raise ValueError("`label_from_dir` only applies to format text_dir")
        if self.format == "collected" and self.id_field is None:
            raise ValueError("format collected: set `id_field: url` so a page keeps its id when its text changes")
        return self


class IngestParams(StrictModel):
    """Read every configured source into one table of canonical rows."""

    sources: list[Source] = Field(min_length=1, description="The raw inputs, read in this order.")
    max_reject_fraction: float = Field(
        0.05,
        ge=0.0,
        le=1.0,
        description="Fail when more than this share of a source's rows cannot be read: a wrong delimiter or "
        "encoding should stop the pipeline, not quietly drop most of the data.",
    )

    @model_validator(mode="after")
    def _unique_names(self) -> IngestParams:
        names = [s.name for s in self.sources]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"source names must be unique; repeated: {dupes}")
        return self
