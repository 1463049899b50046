"""The whole params.yaml: one top-level section per stage, one model per section."""

from __future__ import annotations

from pydantic import Field

from schemas.approaches import Approaches, default_approaches
from schemas.base import StrictModel
from schemas.compare import CompareParams
from schemas.ingest import IngestParams
from schemas.model import ModelParams
from schemas.paths import Paths
from schemas.train import TrainParams


class Params(StrictModel):
    """Everything a Refinery run depends on. Every field is written in params.yaml."""

    paths: Paths = Field(default_factory=Paths, description="Inputs and outputs of every stage.")
    ingest: IngestParams = Field(description="ingest stage: raw files to canonical rows.")
    model: ModelParams = Field(default_factory=ModelParams, description="base_model stage: the model to fine-tune.")
    train: TrainParams = Field(default_factory=TrainParams, description="Options shared by every approach.")
    approaches: Approaches = Field(
        default_factory=default_approaches,
        description="Fine-tuning approaches by name; each is a train@<name> and evaluate@<name> stage.",
    )
    compare: CompareParams = Field(default_factory=CompareParams, description="compare stage: the table and gate.")
