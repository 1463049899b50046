"""Where the data stages run: in this process (local) or on a Ray cluster (ray). Outputs are the same bytes."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from schemas.base import StrictModel


class RayParams(StrictModel):
    """How to reach Ray. With no address and no RAY_ADDRESS in the environment, a local Ray starts and stops."""

    address: str | None = Field(
        None,
        description="Cluster to join, e.g. 'ray://head:10001' or 'auto'; null: RAY_ADDRESS, else a local Ray.",
    )
    num_cpus: int | None = Field(
        None,
        ge=1,
        le=4096,
        description="CPUs of the local Ray started when there is no address (at most 4096); null: all of them.",
    )
    connect_timeout_s: float = Field(
        10.0,
        gt=0,
        le=600,
        description="Seconds to wait for the cluster at `address` (or RAY_ADDRESS) to answer before failing with a "
        "clear error; Ray itself retries for minutes. At most 600.",
    )


class EngineParams(StrictModel):
    """Engine of ingest, clean and split. `ray` gives byte-identical outputs to `local` (tested)."""

    kind: Literal["local", "ray"] = Field(
        "local", description="local: this process (and clean.num_proc forks); ray: Ray Data on a Ray cluster."
    )
    ray: RayParams = Field(default_factory=RayParams, description="Used when kind is ray.")
