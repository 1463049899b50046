"""Params of the label stage: which annotation exports to import, the label set, how votes become a label."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from schemas.base import StrictModel, check_inside_repo

ImportFormat = Literal[
    "label_studio",
    "label_studio_min",
    "label_studio_csv",
    "argilla",
    "argilla_datasets",
    "doccano",
    "prodigy",
    "csv",
    "jsonl",
]

# Formats whose exports carry no cancelled annotations and no ground-truth flags (the stage warns).
LOSSY_FORMATS = ("label_studio_min", "label_studio_csv")


class LabelImport(StrictModel):
    """One annotation export: a file, folder or glob in one tool's format."""

    name: str = Field(
        description="Short unique name; reported in metrics and in each vote's `import` field.",
        pattern=r"^[A-Za-z0-9_.-]+$",
    )
    path: str = Field(
        description="File, folder or glob relative to the repository root, inside `paths.label.annotations` "
        "(the folder dvc.yaml watches, so a new export reruns label)."
    )
    format: ImportFormat = Field(
        description="label_studio (full JSON export), label_studio_min (JSON-MIN), label_studio_csv, "
        "argilla (v2 `to_disk` records.json), argilla_datasets (flattened `to_datasets` rows as JSON/JSONL/Parquet), "
        "doccano (JSONL; one file per annotator, or the merged all.jsonl), prodigy (db-out JSONL), "
        "csv or jsonl (plain: a join key, a label, optionally an annotator)."
    )
    join: Literal["id", "source_id", "field", "text"] = Field(
        "text",
        description="How an annotation finds its row: `id` = the annotation's key equals the row id; "
        "`source_id` = it equals the own id (ingest `id_field`) of a row of ingest source `source`; "
        "`field` = it equals the rows column `row_field` (e.g. a field kept by ingest.keep_fields); "
        "`text` = the hash of its normalised text equals the row's (text or text_raw).",
    )
    source: str | None = Field(
        None, description="join=source_id: the ingest source whose `id_field` values the annotations carry."
    )
    key: str | None = Field(
        None,
        description="Annotation field holding the join value (looked up in the task's `data` for Label Studio, "
        "in `fields`/`metadata` for Argilla, in `meta` for Prodigy). Default: `id` for join id and source_id, "
        "`text` otherwise.",
    )
    row_field: str | None = Field(None, description="join=field: the rows column the key is compared with.")
    round: int | None = Field(
        None,
        ge=1,
        le=1_000_000,
        description="Review round this export answers (the review stage's tasks): its labels are corrections, "
        "applied by label.corrections and recorded in the label history with this round. null = an ordinary import. "
        "At most 1 million.",
    )
    question: str | None = Field(
        None,
        description="The labeling question: Label Studio `from_name`, Argilla question name, column of a "
        "plain csv/jsonl. Default: the only choice question present (Label Studio, Argilla) or `label`.",
    )
    annotator_field: str | None = Field(
        None,
        description="csv/jsonl: column naming the annotator. Default: every vote in the file comes from one "
        "annotator named after the import (doccano: after each file, e.g. `alice.jsonl` -> alice).",
    )
    reject_label: str | None = Field(
        None,
        description="prodigy binary tasks: the class a `reject` answer means (e.g. `ham` when the task asked "
        "`spam?`). Default: rejected answers are skipped and counted.",
    )
    delimiter: str = Field(",", description="label_studio_csv and csv: field delimiter.")

    @field_validator("path")
    @classmethod
    def _inside_repo(cls, value: str) -> str:
        return check_inside_repo(value, "put exports in data/annotations/")

    @model_validator(mode="after")
    def _consistent(self) -> LabelImport:
        if self.join == "field" and (self.row_field is None or self.key is None):
            raise ValueError("join: field needs both `key` (annotation side) and `row_field` (rows column)")
        if self.join != "field" and self.row_field is not None:
            raise ValueError("`row_field` only applies to join: field")
        if (self.join == "source_id") != (self.source is not None):
            raise ValueError("join: source_id needs `source` (the ingest source name), and `source` needs it")
        if self.reject_label is not None and self.format != "prodigy":
            raise ValueError("`reject_label` only applies to format prodigy")
        if self.annotator_field is not None and self.format not in ("csv", "jsonl"):
            raise ValueError("`annotator_field` only applies to formats csv and jsonl (the others name annotators)")
        if self.format in LOSSY_FORMATS and self.question is None:
            raise ValueError(
                f"format {self.format} flattens the label into a column named after the control's `from_name`: "
                "set `question` (e.g. sentiment)"
            )
        if len(self.delimiter) != 1:
            raise ValueError("`delimiter` must be exactly one character")
        return self


class LabelParams(StrictModel):
    """Import annotations, map them to the label set, aggregate annotators, measure their agreement."""

    classes: list[str] = Field(
        default_factory=list,
        description="The label set. A label outside it (after aliases) is rejected with its reason, never guessed. "
        "Empty: every label seen becomes a class (a typo then becomes a class too).",
    )
    aliases: dict[str, str] = Field(
        default_factory=dict,
        description="Other spellings and numeric ids mapped to a class, e.g. {'0': ham, pos: positive}.",
    )
    ignore_case: bool = Field(
        True, description="Match labels to classes and aliases case-insensitively (`Spam` = `spam`)."
    )
    source_labels: Literal["annotator", "fallback", "ignore"] = Field(
        "annotator",
        description="The `label` already in the rows: `annotator` = one more vote (annotator `source`); "
        "`fallback` = used only for rows no import labels; `ignore` = not used. With no imports it is the only one.",
    )
    imports: list[LabelImport] = Field(default_factory=list, description="Annotation exports, read in this order.")
    aggregation: Literal["majority", "dawid_skene"] = Field(
        "majority",
        description="`majority`: most votes wins, ties by `tie_break`. `dawid_skene`: EM over per-annotator "
        "confusion matrices (worth it with several annotators of uneven quality and overlapping rows).",
    )
    tie_break: Literal["reject", "class_order", "unlabeled"] = Field(
        "reject",
        description="A majority tie: `reject` the row (to rejects, reason `tie`, to send back to annotators); "
        "`class_order` = the tied class listed first in `classes` wins; `unlabeled` = keep the row without label.",
    )
    ground_truth_wins: bool = Field(
        True, description="A vote flagged ground truth (Label Studio `ground_truth`) decides its row alone."
    )
    keep_unlabeled: bool = Field(
        True,
        description="Keep rows without a label (null label; split sends them to unlabeled.parquet, a pre-training "
        "corpus) or drop them (counted as dropped.unlabeled).",
    )
    max_reject_fraction: float = Field(
        0.2,
        ge=0.0,
        le=1.0,
        description="Fail when more than this share of an import's annotations is rejected (unknown label, no key): "
        "usually a wrong `format`, `question` or missing alias, not bad annotators.",
    )
    dawid_skene_iterations: int = Field(
        100,
        ge=1,
        le=100_000,
        description="Most EM iterations for `dawid_skene` (at most 100000; it converges in tens).",
    )
    corrections: Literal["override", "vote"] = Field(
        "override",
        description="Answers of a review round (imports with `round`): `override` = on the rows they answer, the "
        "latest round's votes alone decide (earlier votes and the rows' own label are set aside); `vote` = they are "
        "votes like any other (a 1-1 disagreement is then a tie, see tie_break).",
    )

    @field_validator("classes")
    @classmethod
    def _unique_classes(cls, value: list[str]) -> list[str]:
        dupes = sorted({c for c in value if value.count(c) > 1})
        if dupes:
            raise ValueError(f"classes must be unique; repeated: {dupes}")
        if any(not c.strip() for c in value):
            raise ValueError("classes must be non-empty strings")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> LabelParams:
        if self.classes:
            fold = (lambda s: s.casefold()) if self.ignore_case else (lambda s: s)
            known = {fold(c) for c in self.classes}
            bad = sorted(f"{k} -> {v}" for k, v in self.aliases.items() if fold(v) not in known)
            if bad:
                raise ValueError(f"aliases must map to one of classes {self.classes}; not a class: {bad}")
        names = [i.name for i in self.imports]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"import names must be unique; repeated: {dupes}")
        if self.tie_break == "class_order" and not self.classes:
            raise ValueError("tie_break: class_order needs `classes` (their order breaks ties)")
        return self
