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


class CleanPaths(StrictModel):
    rows: str = Field(
        "data/cleaned/rows.parquet",
        description="Cleaned, de-duplicated rows (adds text_raw, dup_cluster, dup_count), sorted by id.",
    )
    rejects: str = Field(
        "data/cleaned/rejects.parquet",
        description="Rows clean dropped, with the reason; duplicates name their surviving row in `detail`.",
    )
    metrics: str = Field("metrics/clean.json", description="Clean metrics file.")


class Paths(StrictModel):
    """Every stage's inputs and outputs, relative to the repository root."""

    ingest: IngestPaths = Field(default_factory=IngestPaths, description="Paths of the ingest stage.")
    clean: CleanPaths = Field(default_factory=CleanPaths, description="Paths of the clean stage.")
