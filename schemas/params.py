"""The whole params.yaml: one top-level section per stage, one model per section."""

from __future__ import annotations

from pydantic import Field

from schemas.base import StrictModel
from schemas.clean import CleanParams
from schemas.ingest import IngestParams
from schemas.paths import Paths


class Params(StrictModel):
    """Everything a Refinery run depends on. Every field is written in params.yaml."""

    paths: Paths = Field(default_factory=Paths, description="Inputs and outputs of every stage.")
    ingest: IngestParams = Field(description="ingest stage: raw files to canonical rows.")
    clean: CleanParams = Field(
        default_factory=CleanParams, description="clean stage: normalise, filter, mask PII, remove duplicates."
    )
