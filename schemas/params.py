"""The whole params.yaml: one top-level section per stage, one model per section."""

from __future__ import annotations

import posixpath
from typing import Any, Literal

from pydantic import Field, model_validator

from schemas.approaches import Approaches, default_approaches
from schemas.audit import AuditParams
from schemas.augment import AugmentParams
from schemas.balance import BalanceParams
from schemas.base import StrictModel
from schemas.clean import CleanParams
from schemas.collect import CollectParams
from schemas.compare import CompareParams
from schemas.curve import CurveParams
from schemas.engine import EngineParams
from schemas.gate import Gate, default_gate
from schemas.ingest import IngestParams
from schemas.label import LabelParams
from schemas.model import ModelParams
from schemas.monitor import MonitorParams
from schemas.paths import Paths
from schemas.review import ReviewParams
from schemas.split import SplitParams
from schemas.tfidf import solver_problems
from schemas.train import TrainParams


class Params(StrictModel):
    """Everything a Refinery run depends on. Every field is written in params.yaml."""

    # Not dumped: params.yaml need not say it (classification is the default) and no stage output depends on it.
    task: Literal["classification"] = Field(
        "classification",
        exclude=True,
        description="The task family: classification (the default); sft/params.yaml says `task: sft`.",
    )
    paths: Paths = Field(default_factory=Paths, description="Inputs and outputs of every stage.")
    engine: EngineParams = Field(
        default_factory=EngineParams, description="Where ingest, clean and split run: local or on Ray."
    )
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
    gate: Gate = Field(
        default_factory=default_gate,
        description="Regression gate of `make report`: test scores by a paired bootstrap against the base's "
        "predictions (scores), counters by tolerance (rules). No stage reads it.",
    )

    @model_validator(mode="after")
    def _cross_section(self) -> Params:
        """Checks that need two sections: class names against label.classes, sources against ingest's folders, the
        classifiers of compare and audit against the number of classes, token lengths against the scratch model's
        position embeddings."""
        declared = dict.fromkeys(self.label.classes, None) if self.label.classes else None
        problems = (
            class_name_problems(self)
            + source_folder_problems(self)
            + class_setting_problems(self, declared)
            + length_problems(self)
        )
        if problems:
            raise ValueError("\n".join(problems))
        return self


def class_name_problems(params: Params) -> list[str]:
    """Every class named in augment or balance that is not in `label.classes` (none when classes is empty)."""
    classes = params.label.classes
    if not classes:
        return []
    fold = str.casefold if params.label.ignore_case else str
    known = {fold(c) for c in classes}
    named: dict[str, Any] = {"augment.per_class": list(params.augment.per_class)}
    strategy = params.balance.sampling_strategy
    if isinstance(strategy, (dict, list)):
        named["balance.sampling_strategy"] = list(strategy)
    if isinstance(params.balance.class_weights, dict):
        named["balance.class_weights"] = list(params.balance.class_weights)
    return [
        f"{where}.{name}: '{name}' is not one of label.classes {classes}; fix the name or add the class"
        for where, names in named.items()
        for name in names
        if fold(str(name)) not in known
    ]


def class_setting_problems(params: Params, counts: dict[str, int | None] | None) -> list[str]:
    """What compare, audit and review need from the classes, checked before any training.

    `counts`: rows per class of the audited splits (`audit.splits`) from the data, or the classes of
    `label.classes` with None counts when only params are known; None checks nothing. The training stages call
    this with the split's counts (stages/lib/model/preflight.py), so a setting that cannot work fails in seconds
    instead of after the trainings.
    """
    if counts is None:
        return []
    classes = sorted(counts)
    problems = []
    if len(classes) < 2 and all(n is not None for n in counts.values()):  # the data's classes, not label.classes
        problems.append(f"the labelled rows hold {len(classes)} class(es) {classes}; a classifier needs two or more")
    problems += solver_problems("compare.baseline.classifier", params.compare.baseline.classifier.solver, classes)
    problems += solver_problems("audit.classifier", params.audit.classifier.solver, classes)
    few = {c: n for c, n in counts.items() if n is not None and n < params.audit.folds}
    if few:
        problems.append(
            f"audit.folds: {params.audit.folds} folds need {params.audit.folds} labelled rows per class in "
            f"{' and '.join(params.audit.splits)}; {few} have fewer: lower audit.folds or label more rows"
        )
    return problems


def source_folder_problems(params: Params) -> list[str]:
    """Sources outside the folders dvc.yaml's ingest stage depends on would not rerun ingest when they change."""
    folders = [params.paths.ingest.raw, params.paths.ingest.sample, params.paths.collect.pages]
    problems = []
    for name, source in params.ingest.sources.items():
        path = posixpath.normpath(source.path)
        if not any(path == f or path.startswith(f.rstrip("/") + "/") for f in map(posixpath.normpath, folders)):
            problems.append(
                f"ingest.sources.{name}.path: {source.path} is outside {', '.join(folders)}, the folders ingest "
                f"depends on in dvc.yaml; move the data under {params.paths.ingest.raw}/ (and `dvc add` it)"
            )
    return problems


def length_problems(params: Params) -> list[str]:
    """audit embeds texts with models/base at audit.max_length tokens; a scratch model has position embeddings
    for model.scratch.max_length only, so a longer text would fail with an index error mid-run (train clamps
    to the tokenizer's limit itself)."""
    audit, model = params.audit, params.model
    if audit.features != "base" or model.source != "scratch" or audit.max_length <= model.scratch.max_length:
        return []
    return [
        f"audit.max_length ({audit.max_length}) exceeds model.scratch.max_length ({model.scratch.max_length}), the "
        "longest input the scratch base model has positions for; lower audit.max_length or raise "
        "model.scratch.max_length"
    ]
