"""Where every stage reads and writes. Declared once here and used by dvc.yaml.

`dvc.yaml` refers to these with `${paths.<stage>.<name>}`, so a path is written
in exactly one place (params.yaml) and the stage code never hard-codes one.
A file inside another stage's folder is not a setting of its own: it is derived
from that folder with the folder contract's file names
(stages/lib/core/folders.py), so it follows when the folder moves.
"""

from __future__ import annotations

from pydantic import Field, ValidationInfo, field_validator

from schemas.base import StrictModel, check_inside_repo
from stages.lib.core.folders import class_weights_file, split_file


class PathsModel(StrictModel):
    """The paths of one stage: each must be relative and stay inside the repository (no absolute, no `..` out)."""

    @field_validator("*")
    @classmethod
    def _inside_repo(cls, value: str, info: ValidationInfo) -> str:
        # Checked when a params file is validated (load_params/validate_params pass a context); code that
        # builds a PathsModel itself, as the tests do with temporary folders, chooses its own paths.
        if info.context is None:
            return value
        return check_inside_repo(value, "stage inputs and outputs live in the repository (DVC tracks them there)")


class IngestPaths(PathsModel):
    rows: str = Field("data/ingested/rows.parquet", description="Canonical rows written by ingest.")
    rejects: str = Field(
        "data/ingested/rejects.parquet",
        description="Rows ingest could not read, with source, location and reason.",
    )
    metrics: str = Field("metrics/ingest.json", description="Ingest headline metrics (rows in and out).")
    details: str = Field(
        "metrics/details/ingest.json", description="Every counter of ingest (git-tracked, not a metric)."
    )
    raw: str = Field(
        "data/raw",
        description="Folder of your own data (`dvc add` it); ingest depends on it, so a source read from it reruns "
        "ingest when its data changes.",
    )
    sample: str = Field("data/sample", description="Folder of the bundled sample data; ingest depends on it too.")


class CleanPaths(PathsModel):
    rows: str = Field(
        "data/cleaned/rows.parquet",
        description="Cleaned, de-duplicated rows (adds text_raw, dup_cluster, dup_count), sorted by id.",
    )
    rejects: str = Field(
        "data/cleaned/rejects.parquet",
        description="Rows clean dropped, with the reason; duplicates name their surviving row in `detail`.",
    )
    metrics: str = Field("metrics/clean.json", description="Clean metrics file.")
    details: str = Field(
        "metrics/details/clean.json", description="Every counter of clean (git-tracked, not a metric)."
    )


class LabelPaths(PathsModel):
    annotations: str = Field(
        "data/annotations",
        description="Folder of annotation exports; dvc.yaml watches it, so a new export reruns label.",
    )
    rows: str = Field("data/labeled/rows.parquet", description="Rows with aggregated labels, votes and agreement.")
    rejects: str = Field(
        "data/labeled/rejects.parquet", description="Rejected annotations (unknown label...) and dropped rows."
    )
    unmatched: str = Field("data/labeled/unmatched.parquet", description="Annotations that matched no row.")
    history: str = Field(
        "data/labeled/history.parquet",
        description="Every label a review round changed: id, old_label, new_label, source (the import), round.",
    )
    metrics: str = Field("metrics/label.json", description="Label metrics file (counts, agreement).")
    details: str = Field(
        "metrics/details/label.json", description="Every counter of label (git-tracked, not a metric)."
    )


class SplitPaths(PathsModel):
    dir: str = Field(
        "data/split",
        description="Folder of train, validation, test and unlabeled .parquet written by split, plus rejects.parquet "
        "(rows dropped for leakage).",
    )
    metrics: str = Field("metrics/split.json", description="Split metrics file.")
    details: str = Field(
        "metrics/details/split.json", description="Every counter of split (git-tracked, not a metric)."
    )

    def split(self, name: str) -> str:
        """The `name` split file of dir (train, validation, test, unlabeled)."""
        return split_file(self.dir, name)


class CollectPaths(PathsModel):
    pages: str = Field(
        "data/collected",
        description="Snapshot folder: <name>/pages.parquet per source (url, title, text...). Byte-identical when "
        "the pages did not change, so ingest reruns only on new content.",
    )
    manifest: str = Field(
        "data/collect_manifest.parquet",
        description="Every URL tried, with final URL, status, fetch time, content hash and reason when rejected. "
        "Kept out of the pages folder because its fetch times change on every run.",
    )
    metrics: str = Field("metrics/collect.json", description="Collect metrics file.")
    details: str = Field(
        "metrics/details/collect.json", description="Every counter of collect (git-tracked, not a metric)."
    )


class AugmentPaths(PathsModel):
    dir: str = Field(
        "data/augmented",
        description="Folder of the four split files (train augmented, the others byte-identical copies) and "
        "rejects.parquet (generated rows dropped, with the reason).",
    )
    metrics: str = Field("metrics/augment.json", description="Augment metrics file.")
    details: str = Field(
        "metrics/details/augment.json", description="Every counter of augment (git-tracked, not a metric)."
    )
    nltk_data: str = Field(
        ".nltk_data",
        description="NLTK data folder holding corpora/wordnet (written by scripts/setup_data.sh); read by EDA "
        "synonym replacement and insertion in augment and in balance's synthetic strategy.",
    )
    wordnet_stamp: str = Field(
        ".nltk_data/wordnet.sha256",
        description="SHA-256 of each WordNet file NLTK reads, written by scripts/setup_data.sh: augment and balance "
        "depend on it, so the same WordNet version gives the same dependency on every machine.",
    )


class BalancePaths(PathsModel):
    dir: str = Field(
        "data/balanced",
        description="Folder of the four split files (train resampled, the others byte-identical copies), "
        "class_weights.json and rejects.parquet (rows removed by under-sampling or cleaning).",
    )
    metrics: str = Field("metrics/balance.json", description="Balance metrics file.")
    details: str = Field(
        "metrics/details/balance.json", description="Every counter of balance (git-tracked, not a metric)."
    )
    plot: str = Field(
        "plots/balance_class_counts.json",
        description="Rows per class after split, augment and balance, for `dvc plots show` (bar_horizontal).",
    )


class BaseModelPaths(PathsModel):
    """The scratch model pre-trains on paths.split.dir's train and unlabeled files (never validation/test)."""

    out: str = Field("models/base", description="The base model and tokenizer every approach starts from.")
    metrics: str = Field("metrics/base_model.json", description="base_model metrics file.")
    details: str = Field(
        "metrics/details/base_model.json", description="Every counter of base_model (git-tracked, not a metric)."
    )


class TrainPaths(PathsModel):
    data_dir: str = Field(
        "data/balanced",
        description="Folder of the four split files the approaches train, validate and are tested on, and "
        "class_weights.json (the balance stage's output).",
    )
    models_dir: str = Field("models", description="Each approach writes models/<approach>/.")
    metrics_dir: str = Field("metrics/train", description="Each approach writes metrics/train/<approach>.json.")
    details_dir: str = Field(
        "metrics/details/train", description="Every counter of each approach's training (git-tracked, not a metric)."
    )
    live_dir: str = Field(
        "dvclive/train",
        description="Learning curves under dvclive/train/<approach>/plots/metrics (git-tracked, no timestamps).",
    )
    checkpoints_dir: str = Field(
        "checkpoints", description="Trainer checkpoints for resume (not a DVC output: they must survive a crash)."
    )

    def split(self, name: str) -> str:
        """The `name` split file of data_dir (train, validation, test, unlabeled)."""
        return split_file(self.data_dir, name)

    @property
    def class_weights(self) -> str:
        """data_dir's class_weights.json (it may hold null, or be absent when data_dir is not balance's)."""
        return class_weights_file(self.data_dir)


class EvaluatePaths(PathsModel):
    """The approaches are scored on the test file of paths.train.data_dir."""

    metrics_dir: str = Field("metrics/eval", description="Each approach writes metrics/eval/<approach>.json.")
    details_dir: str = Field(
        "metrics/details/eval", description="Every score of each approach (per class...), git-tracked, not a metric."
    )
    predictions_dir: str = Field("data/predictions", description="Predictions with probabilities per approach.")
    confusion_dir: str = Field("plots/confusion", description="Confusion-matrix plot data per approach.")


class ComparePaths(PathsModel):
    metrics: str = Field("metrics/compare.json", description="Every approach and the baseline, side by side.")
    details: str = Field(
        "metrics/details/compare.json", description="Every counter of compare (git-tracked, not a metric)."
    )
    report: str = Field("reports/comparison.md", description="The comparison table a reviewer reads.")
    plot: str = Field("plots/compare.json", description="Bar chart data of the ranking metric.")
    curves: str = Field(
        "plots/validation_macro_f1.json",
        description="Validation macro-F1 by step of every approach, overlaid in one plot.",
    )
    baseline_model: str = Field(
        "models/tfidf_logreg",
        description="The fitted TF-IDF baseline (terms, idf, coefficients; no pickle), for "
        "`predict --approach tfidf_logreg`.",
    )


class CurvePaths(PathsModel):
    base: str = Field("models/curve_base", description="The scratch model the curves train on (curve.base: scratch).")
    metrics: str = Field("metrics/curve.json", description="Fits, exponent intervals, crossings, rows needed.")
    runs: str = Field("plots/curve.json", description="One row per training run: approach, rows, seed, macro-F1.")
    report: str = Field("reports/curve.md", description="The recommendation table and the fit check.")
    work: str = Field("checkpoints/curve", description="Scratch space for the subsets and checkpoints.")


class AuditPaths(PathsModel):
    issues: str = Field(
        "data/audit/issues.parquet",
        description="One row per (row, issue kind): id, text, label, suggested_label, issue, score, fold.",
    )
    details: str = Field(
        "data/audit/details.json",
        description="Thresholds, confident joint and calibrated joint (the detail behind metrics/audit.json).",
    )
    metrics: str = Field(
        "metrics/audit.json", description="Audit headline: estimated label-error rate overall, per class."
    )
    counts: str = Field(
        "metrics/details/audit.json", description="Every counter of audit, issues by kind (git-tracked, not a metric)."
    )
    plot: str = Field("plots/audit_issues.json", description="Issues per class and kind, for `dvc plots show`.")
    model: str = Field(
        "models/audit",
        description="The audit's TF-IDF + logistic regression fitted on every audited row, and its out-of-fold "
        "probabilities: review and monitor read it instead of refitting.",
    )


class ReviewPaths(PathsModel):
    dir: str = Field(
        "data/review",
        description="One folder per queue (issues/, active/) with tasks in each tool's format.",
    )
    metrics: str = Field("metrics/review.json", description="Review headline: rows per queue.")
    details: str = Field(
        "metrics/details/review.json", description="Every counter of review (git-tracked, not a metric)."
    )


class MonitorPaths(PathsModel):
    incoming: str = Field(
        "data/incoming", description="Folder watched for new batches (dvc.yaml depends on it); sources read there."
    )
    dir: str = Field(
        "data/monitor",
        description="scored.parquet (every incoming row with its drift and confidence scores) and review/ "
        "(the worst rows as annotation tasks).",
    )
    metrics: str = Field("metrics/monitor.json", description="Monitor headline: batch, drift flag, AUC, p-value.")
    details: str = Field(
        "metrics/details/monitor.json", description="Every counter of monitor, shifts (git-tracked, not a metric)."
    )
    plot: str = Field("plots/monitor.json", description="Descriptor shifts, train vs incoming.")


class Paths(StrictModel):
    """Every stage's inputs and outputs, relative to the repository root."""

    ingest: IngestPaths = Field(default_factory=IngestPaths, description="Paths of the ingest stage.")
    clean: CleanPaths = Field(default_factory=CleanPaths, description="Paths of the clean stage.")
    label: LabelPaths = Field(default_factory=LabelPaths, description="Paths of the label stage.")
    split: SplitPaths = Field(default_factory=SplitPaths, description="Paths of the split stage.")
    collect: CollectPaths = Field(default_factory=CollectPaths, description="Paths of the collect stage.")
    augment: AugmentPaths = Field(default_factory=AugmentPaths, description="Paths of the augment stage.")
    balance: BalancePaths = Field(default_factory=BalancePaths, description="Paths of the balance stage.")
    base_model: BaseModelPaths = Field(default_factory=BaseModelPaths, description="base_model stage.")
    train: TrainPaths = Field(default_factory=TrainPaths, description="train@<approach> stages.")
    evaluate: EvaluatePaths = Field(default_factory=EvaluatePaths, description="evaluate@<approach>.")
    compare: ComparePaths = Field(default_factory=ComparePaths, description="compare stage.")
    curve: CurvePaths = Field(default_factory=CurvePaths, description="curve stage.")
    audit: AuditPaths = Field(default_factory=AuditPaths, description="audit stage.")
    review: ReviewPaths = Field(default_factory=ReviewPaths, description="review stage.")
    monitor: MonitorPaths = Field(default_factory=MonitorPaths, description="monitor stage.")
    timings: str = Field(
        "reports/timings",
        description="Wall-clock seconds and peak memory per stage (<stage>.json, train/<approach>.json): ignored "
        "by git and by DVC, so a rerun leaves dvc.lock and the metrics unchanged.",
    )
