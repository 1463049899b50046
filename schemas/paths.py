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


class SplitPaths(StrictModel):
    dir: str = Field(
        "data/split",
        description="Folder of train.parquet, validation.parquet, test.parquet and unlabeled.parquet written by split.",
    )
    metrics: str = Field("metrics/split.json", description="Split metrics file.")


class AugmentPaths(StrictModel):
    dir: str = Field(
        "data/augmented",
        description="Folder of the four split files (train augmented, the others byte-identical copies) and "
        "rejects.parquet (generated rows dropped, with the reason).",
    )
    metrics: str = Field("metrics/augment.json", description="Augment metrics file.")
    nltk_data: str = Field(
        ".nltk_data",
        description="NLTK data folder holding corpora/wordnet (written by scripts/setup_data.sh); read by EDA "
        "synonym replacement and insertion in augment and in balance's synthetic strategy.",
    )


class BalancePaths(StrictModel):
    dir: str = Field(
        "data/balanced",
        description="Folder of the four split files (train resampled, the others byte-identical copies), "
        "class_weights.json and rejects.parquet (rows removed by under-sampling or cleaning).",
    )
    metrics: str = Field("metrics/balance.json", description="Balance metrics file.")
    plot: str = Field(
        "plots/balance_class_counts.json",
        description="Rows per class after split, augment and balance, for `dvc plots show` (bar_horizontal).",
    )


class Paths(StrictModel):
    """Every stage's inputs and outputs, relative to the repository root."""

    ingest: IngestPaths = Field(default_factory=IngestPaths, description="Paths of the ingest stage.")
    split: SplitPaths = Field(default_factory=SplitPaths, description="Paths of the split stage.")
    augment: AugmentPaths = Field(default_factory=AugmentPaths, description="Paths of the augment stage.")
    balance: BalancePaths = Field(default_factory=BalancePaths, description="Paths of the balance stage.")
