"""Params of the export stage: the prepared dataset as a DatasetDict with a card, and trainer formats."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from schemas.base import StrictModel
from schemas.paths import PathsModel

Format = Literal["messages", "prompt_completion", "alpaca", "sharegpt"]


class ExportParams(StrictModel):
    """What the dataset card says and which trainer formats are written."""

    license: str = Field(
        "other", description="Hub licence id of the data (e.g. cc-by-4.0); `other` with license_name/link."
    )
    license_name: str | None = Field(None, description="Name of a licence that is `other` on the Hub.")
    license_link: str | None = Field(None, description="Where that licence's text is (a URL or a file path).")
    language: list[str] = Field(default_factory=lambda: ["en"], description="ISO 639-1 codes of the data.")
    pretty_name: str = Field("Refinery SFT dataset", description="Title of the dataset card.")
    dataset_name: str = Field(
        "refinery_sft", pattern=r"^[A-Za-z0-9_]+$", description="Prefix of the LLaMA-Factory dataset_info entries."
    )
    formats: list[Format] = Field(
        default_factory=lambda: ["messages", "prompt_completion", "alpaca", "sharegpt"],
        min_length=1,
        description="JSONL formats written: messages (OpenAI/TRL), prompt_completion (TRL), alpaca and sharegpt "
        "(LLaMA-Factory, listed in dataset_info.json). The axolotl snippet needs messages.",
    )
    card_stages: list[str] = Field(
        default_factory=list,
        description="Stages whose counters (`<paths.export.details_dir>/<stage>.json`) the card reports: rows in "
        "and out, rejects by reason, leakage and contamination checks.",
    )


class ExportPaths(PathsModel):
    """Inputs and outputs of export (relative to the SFT pipeline folder)."""

    split: str = Field("data/decontaminated", description="Folder with the final train/validation/test conversations.")
    rendered: str = Field("data/rendered", description="render's folder: which rows it kept, their token counts.")
    details_dir: str = Field("metrics/details", description="Folder of the stages' counters read for the card.")
    export: str = Field(
        "export",
        description="Output folder: README.md (card), dataset/ (DatasetDict), <format>/<split>.jsonl, "
        "dataset_info.json (LLaMA-Factory), axolotl.yaml.",
    )
    metrics: str = Field("metrics/export.json", description="Export headline metrics.")
    details: str = Field("metrics/details/export.json", description="Every counter of export (git-tracked).")
