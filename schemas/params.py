"""The whole params.yaml: one top-level section per stage, one model per section."""

from __future__ import annotations

from pydantic import Field

from schemas.approaches import Approaches, default_approaches
from schemas.audit import AuditParams
from schemas.augment import AugmentParams
from schemas.balance import BalanceParams
from schemas.base import StrictModel
from schemas.clean import CleanParams
from schemas.collect import CollectParams
from schemas.compare import CompareParams
from schemas.curve import CurveParams
from schemas.ingest import IngestParams
from schemas.label import LabelParams
from schemas.model import ModelParams
from schemas.monitor import MonitorParams
from schemas.paths import Paths
from schemas.review import ReviewParams
from schemas.split import SplitParams
from schemas.train import TrainParams


class Params(StrictModel):
    """Everything a Refinery run depends on. Every field is written in params.yaml."""

    paths: Paths = Field(default_factory=Paths, description="Inputs and outputs of every stage.")
    ingest: IngestParams = Field(description="ingest stage: raw files to canonical rows.")
    clean: CleanParams = Field(
        default_factory=CleanParams, description="clean stage: normalise, filter, mask PII, remove duplicates."
    )
    label: LabelParams = Field(default_factory=LabelParams, description="label stage: annotations to labels.")
    split: SplitParams = Field(default_factory=SplitParams, description="split stage: train/validation/test.")
    collect: CollectParams = Field(
        default_factory=CollectParams, description="collect stage: web pages to a snapshot that ingest reads."
    )
    augment: AugmentParams = Field(
        default_factory=AugmentParams, description="augment stage: generated training rows (train split only)."
    )
    balance: BalanceParams = Field(
        default_factory=BalanceParams, description="balance stage: resampling and class weights (train split only)."
    )
    model: ModelParams = Field(default_factory=ModelParams, description="base_model stage: the model to fine-tune.")
    train: TrainParams = Field(default_factory=TrainParams, description="Options shared by every approach.")
    approaches: Approaches = Field(
        default_factory=default_approaches,
        description="Fine-tuning approaches by name; each is a train@<name> and evaluate@<name> stage.",
    )
    compare: CompareParams = Field(default_factory=CompareParams, description="compare stage: the table and gate.")
    curve: CurveParams = Field(
        default_factory=CurveParams, description="curve stage: learning curves over nested train subsets."
    )
    audit: AuditParams = Field(default_factory=AuditParams, description="audit stage: label issues, error estimate.")
    review: ReviewParams = Field(default_factory=ReviewParams, description="review stage: tasks for annotators.")
    monitor: MonitorParams = Field(default_factory=MonitorParams, description="monitor stage: drift of new text.")
