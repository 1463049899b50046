"""The whole params.yaml: one top-level section per stage, one model per section."""

from __future__ import annotations

from pydantic import Field

from schemas.base import StrictModel
from schemas.collect import CollectParams
from schemas.ingest import IngestParams
from schemas.paths import Paths


class Params(StrictModel):
    """Everything a Refinery run depends on. Every field is written in params.yaml."""

    paths: Paths = Field(default_factory=Paths, description="Inputs and outputs of every stage.")
    ingest: IngestParams = Field(description="ingest stage: raw files to canonical rows.")
    collect: CollectParams = Field(
        default_factory=CollectParams, description="collect stage: web pages to a snapshot that ingest reads."
    )
