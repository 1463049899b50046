"""The SFT pipeline's params file (sft/params.yaml, `task: sft`): its own sections, same validation rules.

`schemas.load_params` picks this model when the file says `task: sft`; paths are relative to sft/, where
DVC runs the stages.
"""

from __future__ import annotations

import posixpath
import warnings
from typing import Literal

from pydantic import Field, model_validator

from schemas.base import StrictModel
from schemas.chat import ChatCleanParams, ChatIngestParams, ChatSplitParams
from schemas.decontam import DecontamParams
from schemas.engine import EngineParams
from schemas.export import ExportParams, ExportPaths
from schemas.paths import CleanPaths, IngestPaths, PathsModel, SplitPaths
from schemas.render import RenderParams, RenderPaths, TokenizerParams, TokenizerPaths


class ChatCleanPaths(CleanPaths):
    conflicts: str = Field(
        "data/cleaned/conflicts.parquet",
        description="Conversations whose prompts are (near) duplicates with different answers, by prompt cluster.",
    )


class DecontamPaths(PathsModel):
    dir: str = Field(
        "data/decontaminated",
        description="train (decontaminated), validation, test and unlabeled .parquet, plus rejects.parquet.",
    )
    metrics: str = Field("metrics/decontaminate.json", description="Decontaminate headline metrics.")
    details: str = Field(
        "metrics/details/decontaminate.json", description="Every counter of decontaminate (git-tracked)."
    )
    benchmarks: str = Field("data/benchmarks", description="Folder of the benchmark files; the stage depends on it.")


class SftPaths(StrictModel):
    ingest: IngestPaths = Field(default_factory=IngestPaths, description="ingest inputs and outputs.")
    clean: ChatCleanPaths = Field(default_factory=ChatCleanPaths, description="clean outputs.")
    split: SplitPaths = Field(default_factory=SplitPaths, description="split outputs.")
    decontaminate: DecontamPaths = Field(default_factory=DecontamPaths, description="decontaminate outputs.")
    tokenizer: TokenizerPaths = Field(default_factory=TokenizerPaths, description="tokenizer input and output.")
    render: RenderPaths = Field(default_factory=RenderPaths, description="render inputs and outputs.")
    export: ExportPaths = Field(default_factory=ExportPaths, description="export inputs and outputs.")


class SftParams(StrictModel):
    """Everything the SFT pipeline depends on. Every field is written in sft/params.yaml."""

    task: Literal["sft"] = Field(description="The task family of this params file: `sft` (instruction tuning).")
    paths: SftPaths = Field(default_factory=SftPaths, description="Inputs and outputs of every stage.")
    engine: EngineParams = Field(default_factory=EngineParams, description="Where the data stages run.")
    ingest: ChatIngestParams = Field(description="ingest: raw conversations in any supported format to rows.")
    clean: ChatCleanParams = Field(default_factory=ChatCleanParams, description="clean: per turn, then dedup.")
    split: ChatSplitParams = Field(default_factory=ChatSplitParams, description="split: grouped by cluster.")
    decontaminate: DecontamParams = Field(
        default_factory=DecontamParams, description="decontaminate: train against evaluation text."
    )
    tokenizer: TokenizerParams = Field(
        default_factory=TokenizerParams, description="tokenizer: the demo's chat tokenizer, from train text."
    )
    render: RenderParams = Field(
        default_factory=RenderParams, description="render: chat template, tokens, loss masks, lengths, packing."
    )
    export: ExportParams = Field(
        default_factory=ExportParams, description="export: DatasetDict with a card, trainer formats."
    )

    @model_validator(mode="after")
    def _cross_section(self) -> SftParams:
        """Sources and benchmarks must sit in the folders dvc.yaml lists as dependencies."""
        problems = []
        if self.engine.kind == "ray":
            from schemas.ingest import ParamsWarning

            warnings.warn(
                "engine.kind: ray runs decontaminate on Ray; ingest, clean and split of conversations run locally",
                ParamsWarning,
                stacklevel=2,
            )
        folders = [self.paths.ingest.raw, self.paths.ingest.sample]
        for name, source in self.ingest.sources.items():
            if not _under(source.path, folders):
                problems.append(
                    f"ingest.sources.{name}.path: {source.path} is outside {', '.join(folders)}, the folders ingest "
                    f"depends on in sft/dvc.yaml; move the data under {self.paths.ingest.raw}/"
                )
        for name, bench in self.decontaminate.benchmarks.items():
            if not _under(bench.path, [self.paths.decontaminate.benchmarks]):
                problems.append(
                    f"decontaminate.benchmarks.{name}.path: {bench.path} is outside "
                    f"{self.paths.decontaminate.benchmarks}, the folder decontaminate depends on; move it there"
                )
        if problems:
            raise ValueError("\n".join(problems))
        return self


def _under(path: str, folders: list[str]) -> bool:
    path = posixpath.normpath(path)
    return any(path == f or path.startswith(f.rstrip("/") + "/") for f in map(posixpath.normpath, folders))
