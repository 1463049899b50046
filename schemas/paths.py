"""Where every stage reads and writes. Declared once here and used by dvc.yaml.

`dvc.yaml` refers to these with `${paths.<stage>.<name>}`, so a path is written
in exactly one place (params.yaml) and the stage code never hard-codes one.
"""

from __future__ import annotations

from pydantic import Field

from schemas.base import StrictModel


class IngestPaths(StrictModel):
    rows: str = Field("data/ingested/rows.parquet", description="Canonical rows written by ingest.")
    rejects: str = Field(
        "data/ingested/rejects.parquet",
        description="Rows ingest could not read, with source, location and reason.",
    )
    metrics: str = Field("metrics/ingest.json", description="Ingest metrics file.")


class BaseModelPaths(StrictModel):
    train: str = Field(
        "data/split/train.parquet", description="Train split: its text (never validation/test) pre-trains scratch."
    )
    unlabeled: str = Field("data/split/unlabeled.parquet", description="Unlabelled rows, also pre-training text.")
    out: str = Field("models/base", description="The base model and tokenizer every approach starts from.")
    metrics: str = Field("metrics/base_model.json", description="base_model metrics file.")


class TrainPaths(StrictModel):
    data_dir: str = Field(
        "data/balanced", description="Folder with train.parquet and validation.parquet (balance stage output)."
    )
    class_weights: str = Field(
        "data/balanced/class_weights.json", description="Class weights of the balance stage (may hold null)."
    )
    models_dir: str = Field("models", description="Each approach writes models/<approach>/.")
    metrics_dir: str = Field("metrics/train", description="Each approach writes metrics/train/<approach>.json.")
    live_dir: str = Field("dvclive/train", description="dvclive learning curves under dvclive/train/<approach>/.")
    checkpoints_dir: str = Field(
        "checkpoints", description="Trainer checkpoints for resume (not a DVC output: they must survive a crash)."
    )


class EvaluatePaths(StrictModel):
    test: str = Field("data/balanced/test.parquet", description="Test split the approaches are scored on.")
    metrics_dir: str = Field("metrics/eval", description="Each approach writes metrics/eval/<approach>.json.")
    predictions_dir: str = Field("data/predictions", description="Predictions with probabilities per approach.")
    confusion_dir: str = Field("plots/confusion", description="Confusion-matrix plot data per approach.")


class ComparePaths(StrictModel):
    metrics: str = Field("metrics/compare.json", description="Every approach and the baseline, side by side.")
    report: str = Field("reports/comparison.md", description="The comparison table a reviewer reads.")
    plot: str = Field("plots/compare.json", description="Bar chart data of the ranking metric.")


class Paths(StrictModel):
    """Every stage's inputs and outputs, relative to the repository root."""

    ingest: IngestPaths = Field(default_factory=IngestPaths, description="Paths of the ingest stage.")
    base_model: BaseModelPaths = Field(default_factory=BaseModelPaths, description="base_model stage.")
    train: TrainPaths = Field(default_factory=TrainPaths, description="train@<approach> stages.")
    evaluate: EvaluatePaths = Field(default_factory=EvaluatePaths, description="evaluate@<approach>.")
    compare: ComparePaths = Field(default_factory=ComparePaths, description="compare stage.")
