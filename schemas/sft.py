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
from schemas.causal import CausalApproaches, CausalEvalParams, CausalModelParams, default_causal_approaches
from schemas.chat import ChatCleanParams, ChatIngestParams, ChatSplitParams
from schemas.compare import Bootstrap
from schemas.curve import SftCurveParams
from schemas.decontam import DecontamParams
from schemas.engine import EngineParams
from schemas.export import ExportParams, ExportPaths
from schemas.paths import CleanPaths, IngestPaths, LabelPaths, PathsModel, SplitPaths
from schemas.render import RenderParams, RenderPaths, TokenizerParams, TokenizerPaths
from schemas.sft_audit import SftAuditParams
from schemas.sft_refine import SftLabelParams, SftReviewParams, SftReviewPaths
from schemas.train import TrainParams


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


class SftBaseModelPaths(PathsModel):
    train: str = Field(
        "data/decontaminated/train.parquet",
        description="The train split whose message contents pre-train a scratch model (never validation or test).",
    )
    tokenizer: str = Field("models/tokenizer", description="The chat tokenizer a scratch model is built with.")
    out: str = Field("models/base", description="The base model folder every approach fine-tunes.")
    metrics: str = Field("metrics/base_model.json", description="base_model headline metrics.")
    details: str = Field("metrics/details/base_model.json", description="Every counter of base_model.")


class SftTrainPaths(PathsModel):
    rendered: str = Field("data/rendered", description="render's output: <split>.parquet and packed/<split>.parquet.")
    models_dir: str = Field("models", description="Each approach writes models/<approach>/.")
    metrics_dir: str = Field("metrics/train", description="Each approach writes metrics/train/<approach>.json.")
    details_dir: str = Field("metrics/details/train", description="Every counter of train@<approach>.")
    live_dir: str = Field("dvclive/train", description="dvclive curves per approach (<live_dir>/<approach>/plots).")
    checkpoints_dir: str = Field(
        "checkpoints", description="Resumable Trainer checkpoints per approach (ignored by git and DVC)."
    )


class SftEvaluatePaths(PathsModel):
    metrics_dir: str = Field("metrics/eval", description="Each approach writes metrics/eval/<approach>.json.")
    details_dir: str = Field("metrics/details/eval", description="Every counter of evaluate@<approach>.")
    predictions_dir: str = Field(
        "data/predictions", description="Test predictions per approach and baseline (<name>.parquet)."
    )


class SftComparePaths(PathsModel):
    baselines: str = Field(
        "data/baselines", description="Test predictions of the untuned base model and the retrieval baseline."
    )
    report: str = Field("reports/comparison.md", description="The comparison report (git-tracked).")
    metrics: str = Field("metrics/compare.json", description="compare headline metrics.")
    details: str = Field("metrics/details/compare.json", description="Every row of the comparison.")


class SftAuditPaths(PathsModel):
    issues: str = Field(
        "data/audit/issues.parquet",
        description="One row per (conversation, issue kind): id, split, source, kind, score, detail; by kind, worst "
        "first (review reads it).",
    )
    metrics: str = Field("metrics/audit.json", description="audit headline: problem_share.")
    details: str = Field(
        "metrics/details/audit.json", description="Every counter of audit: issues by kind and source, the interval."
    )


class SftCurvePaths(PathsModel):
    metrics: str = Field("metrics/curve.json", description="Fits, exponent intervals, crossings, rows needed.")
    runs: str = Field(
        "plots/curve.json", description="One row per (approach, train conversations): the mean test score."
    )
    report: str = Field("reports/curve.md", description="Which approach for how many conversations, and the fits.")
    work: str = Field("checkpoints/curve", description="Scratch space for the checkpoints (removed at the end).")


class SftPaths(StrictModel):
    ingest: IngestPaths = Field(default_factory=IngestPaths, description="ingest inputs and outputs.")
    clean: ChatCleanPaths = Field(default_factory=ChatCleanPaths, description="clean outputs.")
    label: LabelPaths = Field(
        default_factory=LabelPaths, description="label: corrections in, corrected rows, rejects, history out."
    )
    split: SplitPaths = Field(default_factory=SplitPaths, description="split outputs.")
    decontaminate: DecontamPaths = Field(default_factory=DecontamPaths, description="decontaminate outputs.")
    tokenizer: TokenizerPaths = Field(default_factory=TokenizerPaths, description="tokenizer input and output.")
    render: RenderPaths = Field(default_factory=RenderPaths, description="render inputs and outputs.")
    export: ExportPaths = Field(default_factory=ExportPaths, description="export inputs and outputs.")
    base_model: SftBaseModelPaths = Field(default_factory=SftBaseModelPaths, description="base_model stage.")
    train: SftTrainPaths = Field(default_factory=SftTrainPaths, description="train@<approach> stages.")
    evaluate: SftEvaluatePaths = Field(default_factory=SftEvaluatePaths, description="evaluate@<approach>.")
    compare: SftComparePaths = Field(default_factory=SftComparePaths, description="compare stage.")
    audit: SftAuditPaths = Field(default_factory=SftAuditPaths, description="audit stage.")
    review: SftReviewPaths = Field(default_factory=SftReviewPaths, description="review inputs and outputs.")
    curve: SftCurvePaths = Field(default_factory=SftCurvePaths, description="curve stage.")
    timings: str = Field(
        "reports/timings",
        description="Wall-clock seconds and peak memory per stage: ignored by git and DVC (not versioned metrics).",
    )


class SftCompareParams(StrictModel):
    """How compare ranks the causal-LM approaches and judges them against the baselines."""

    metric: Literal["token_f1", "rouge_l", "exact_match"] = Field(
        "token_f1", description="Per-answer test score that ranks the approaches and the paired verdicts use."
    )
    bootstrap: Bootstrap = Field(default_factory=Bootstrap, description="Confidence intervals and verdicts.")


class SftParams(StrictModel):
    """Everything the SFT pipeline depends on. Every field is written in sft/params.yaml."""

    task: Literal["sft"] = Field(description="The task family of this params file: `sft` (instruction tuning).")
    paths: SftPaths = Field(default_factory=SftPaths, description="Inputs and outputs of every stage.")
    engine: EngineParams = Field(default_factory=EngineParams, description="Where the data stages run.")
    ingest: ChatIngestParams = Field(description="ingest: raw conversations in any supported format to rows.")
    clean: ChatCleanParams = Field(default_factory=ChatCleanParams, description="clean: per turn, then dedup.")
    label: SftLabelParams = Field(
        default_factory=SftLabelParams, description="label: reviewed answers and ratings back into the rows."
    )
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
    model: CausalModelParams = Field(
        default_factory=CausalModelParams, description="base_model: the causal LM every approach fine-tunes."
    )
    approaches: CausalApproaches = Field(
        default_factory=default_causal_approaches, description="train@<approach>: full, adapter, feature."
    )
    train: TrainParams = Field(default_factory=TrainParams, description="Training options every approach shares.")
    eval: CausalEvalParams = Field(default_factory=CausalEvalParams, description="evaluate@<approach>: loss, answers.")
    compare: SftCompareParams = Field(default_factory=SftCompareParams, description="compare: the report.")
    audit: SftAuditParams = Field(
        default_factory=SftAuditParams, description="audit: conversations that look wrong, and their share."
    )
    review: SftReviewParams = Field(
        default_factory=SftReviewParams, description="review: conversations and draft answers for annotators."
    )
    curve: SftCurveParams = Field(
        default_factory=SftCurveParams, description="curve: learning curves over nested subsets of conversations."
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
        if self.train.early_stopping.metric != "loss":
            problems.append(
                f"train.early_stopping.metric: {self.train.early_stopping.metric} is a classifier metric; a causal LM "
                "keeps the checkpoint with the lowest validation loss: set it to loss"
            )
        if self.review.approach not in self.approaches:
            problems.append(
                f"review.approach: {self.review.approach} is not a key of approaches "
                f"({', '.join(self.approaches) or 'none'}); name the approach whose answers annotators should see"
            )
        if self.model.source == "scratch" and self.model.scratch.max_length < self.render.max_length:
            problems.append(
                f"model.scratch.max_length ({self.model.scratch.max_length}) is below render.max_length "
                f"({self.render.max_length}): rendered rows would not fit the model's positions; raise it"
            )
        if self.audit.approach not in self.approaches:
            problems.append(
                f"audit.approach: {self.audit.approach} is not an entry of approaches "
                f"({', '.join(self.approaches)}); name the approach whose model scores the losses"
            )
        if problems:
            raise ValueError("\n".join(problems))
        return self


def _under(path: str, folders: list[str]) -> bool:
    path = posixpath.normpath(path)
    return any(path == f or path.startswith(f.rstrip("/") + "/") for f in map(posixpath.normpath, folders))
