"""Params of the causal-LM (SFT) models: the base model, the approaches and the evaluation.

The SFT pipeline's params.yaml uses these in place of the classifier's `model`, `approaches` and the
classifier's evaluation settings; `train` (schemas/train.py) is shared, with `early_stopping.metric: loss`.
Each approach kind names its module in stages/lib/model/causal/ (`module`), as schemas/approaches.py does for
the classifiers; `peft` blocks are validated by PEFT's own config classes, each problem at its dotted path.
"""

from __future__ import annotations

import typing
from typing import Annotated, Any, ClassVar, Literal, Union

from pydantic import AfterValidator, Field, ValidationError, ValidationInfo, WrapValidator, model_validator

from schemas.approaches import PeftBlock, _names_usable, _problem
from schemas.base import StrictModel, check_inside_repo

# Every linear layer but the output layer: in a Llama block the attention (q, k, v, o) and MLP (gate, up,
# down) projections; PEFT resolves the name per architecture, so GPT-2's Conv1D layers are found too.
DEFAULT_LORA: dict[str, Any] = {
    "peft_type": "LORA",
    "r": 8,
    "lora_alpha": 16,
    "lora_dropout": 0.05,
    "target_modules": "all-linear",
}


class ScratchCausalModel(StrictModel):
    """A small Llama-architecture model pre-trained on the train split's text (the offline default)."""

    hidden_size: int = Field(64, ge=8, le=8192, description="Width of every layer (at most 8192).")
    num_layers: int = Field(2, ge=1, le=128, description="Decoder blocks (at most 128).")
    num_heads: int = Field(4, ge=1, le=256, description="Attention heads per block; must divide hidden_size.")
    num_kv_heads: int | None = Field(
        None, ge=1, description="Key/value heads (grouped-query attention); null: as many as num_heads."
    )
    intermediate_size: int = Field(
        256, ge=8, le=65_536, description="Width of the gated MLP of each block (at most 65536)."
    )
    max_length: int = Field(
        256,
        ge=8,
        le=32_768,
        description="Tokens per pre-training block and the model's positions (rotary; at most 32768); at least "
        "render.max_length so that rendered rows fit.",
    )
    steps: int = Field(
        150,
        ge=1,
        le=10_000_000,
        description="Causal-LM pre-training steps (at most 10 million); about 0.6 s each at the defaults on one core.",
    )
    batch_size: int = Field(8, ge=1, le=65_536, description="Blocks of max_length tokens per step.")
    learning_rate: float = Field(3e-3, gt=0, description="Peak AdamW learning rate (linear warm-up then decay).")
    warmup_steps: int = Field(15, ge=0, description="Linear warm-up steps.")
    weight_decay: float = Field(0.01, ge=0, description="AdamW weight decay.")
    seed: int = Field(42, description="Seed of initialisation and batch order.")

    @model_validator(mode="after")
    def _heads_divide(self) -> ScratchCausalModel:
        if self.hidden_size % self.num_heads:
            raise ValueError(
                f"model.scratch.num_heads ({self.num_heads}) must divide hidden_size ({self.hidden_size}); "
                "pick e.g. num_heads: 4 with hidden_size: 64"
            )
        if self.num_kv_heads is not None and self.num_heads % self.num_kv_heads:
            raise ValueError(
                f"model.scratch.num_kv_heads ({self.num_kv_heads}) must divide num_heads ({self.num_heads}); "
                "or set it to null"
            )
        return self


class CausalModelParams(StrictModel):
    """Where the causal LM that every approach fine-tunes comes from; written to models/base/."""

    source: Literal["scratch", "local"] = Field(
        "scratch",
        description="scratch: a small Llama-architecture model pre-trained on the train split's text (offline); "
        "local: a Hugging Face causal-LM folder with safetensors weights at `path`, pinned by `sha256`.",
    )
    path: str | None = Field(
        None, description="local: the model folder, relative to the repository root (copy it in or `dvc add` it)."
    )
    sha256: str | None = Field(
        None,
        pattern=r"^[0-9a-fA-F]{64}$",
        description="local: sha256 of the weights (model.safetensors; for sharded weights, of the lines "
        "'<name> <sha256>' of every *.safetensors file in name order). Required: the offline analogue of a "
        "pinned hub revision.",
    )
    trust_remote_code: bool = Field(
        False, description="Allow model code shipped with the folder (runs that code on your machine)."
    )
    attn_implementation: Literal["sdpa", "eager"] = Field(
        "sdpa",
        description="Attention kernel. Both take the block-diagonal mask of packed rows; FlashAttention is not "
        "offered because it ignores such a mask.",
    )
    num_threads: int = Field(
        1, ge=1, le=1024, description="torch CPU threads (seeded runs are bit-identical only with the same count)."
    )
    scratch: ScratchCausalModel = Field(default_factory=ScratchCausalModel, description="source: scratch settings.")

    @model_validator(mode="after")
    def _local_needs_path_and_pin(self) -> CausalModelParams:
        if self.source == "local":
            missing = [k for k in ("path", "sha256") if getattr(self, k) is None]
            if missing:
                raise ValueError(
                    f"model.source is local: set model.{' and model.'.join(missing)} (the folder, and "
                    "`python -m stages.lib.model.causal.base FOLDER` prints its sha256)"
                )
            check_inside_repo(self.path, "copy the model folder into the repository (or `dvc add` it)")
        return self


# -- approaches -----------------------------------------------------------------------------------------


class _CausalCommon(StrictModel):
    learning_rate: float = Field(description="Peak learning rate of this approach.", gt=0)
    epochs: float | None = Field(None, gt=0, description="Overrides train.epochs for this approach; null keeps it.")


class CausalFullApproach(_CausalCommon):
    """Every weight of the causal LM is trained."""

    module: ClassVar[str] = "stages.lib.model.causal.full"

    kind: Literal["full"] = Field(description="Full fine-tuning.")
    learning_rate: float = Field(3e-4, gt=0, description="Peak learning rate.")


class CausalAdapterApproach(_CausalCommon):
    """A PEFT method on the frozen causal LM (LoRA on every attention and MLP projection by default)."""

    module: ClassVar[str] = "stages.lib.model.causal.adapter"

    kind: Literal["adapter"] = Field(description="Adapter-based (PEFT), task type CAUSAL_LM.")
    learning_rate: float = Field(2e-3, gt=0, description="Peak learning rate of the adapter.")
    peft: PeftBlock = Field(
        default_factory=lambda: dict(DEFAULT_LORA),
        description="Arguments of the PEFT config class named by `peft_type` (LORA, IA3, LOHA, PROMPT_TUNING...), "
        "validated by PEFT itself; task_type is set by Refinery (CAUSAL_LM). Default: LoRA r 8 on all-linear "
        "(the attention and MLP projections, never the LM head).",
    )
    merge: bool = Field(
        True,
        description="Also save the adapter merged into a full model folder (LoRA-like methods), which "
        "pipeline('text-generation') loads; the adapter alone is always kept.",
    )

    @model_validator(mode="after")
    def _merge_needs_mergeable(self) -> CausalAdapterApproach:
        peft_type = str(self.peft.get("peft_type", "")).upper()
        if self.merge and peft_type in {"PROMPT_TUNING", "PREFIX_TUNING", "P_TUNING", "MULTITASK_PROMPT_TUNING"}:
            raise ValueError(f"merge: true is impossible with {peft_type} (nothing to merge); set merge: false")
        return self


class CausalFeatureApproach(_CausalCommon):
    """The pre-trained body frozen; the top `trainable_blocks` decoder blocks and the LM head trained.

    The causal-LM reading of feature-based: a classifier trains a head on frozen features; a causal LM's head
    is its LM head (hidden state -> next-token logits), so `trainable_blocks: 0` is a linear probe of the
    frozen model's last hidden states, and each unfrozen block lets the features adapt a little. Prompt or
    prefix tuning are adapters in PEFT's sense and run through kind adapter.
    """

    module: ClassVar[str] = "stages.lib.model.causal.feature"

    kind: Literal["feature"] = Field(description="Feature-based: frozen body, trained top blocks and LM head.")
    learning_rate: float = Field(1e-3, gt=0, description="Peak learning rate of the unfrozen blocks and head.")
    trainable_blocks: int = Field(
        1, ge=0, description="Top decoder blocks trained with the LM head (0: the LM head and final norm only)."
    )


CAUSAL_REGISTERED: tuple[type[_CausalCommon], ...] = (CausalFeatureApproach, CausalFullApproach, CausalAdapterApproach)


def _kind(model: type[_CausalCommon]) -> str:
    (kind,) = typing.get_args(model.model_fields["kind"].annotation)
    return kind


CAUSAL_KINDS: dict[str, type[_CausalCommon]] = {_kind(m): m for m in CAUSAL_REGISTERED}


def _by_kind(value: Any, handler: Any, info: ValidationInfo) -> Any:
    """Validate with the model `kind` names, keeping the kind out of error paths (approaches.lora.peft.r)."""
    if isinstance(value, _CausalCommon):
        return value
    kind = value.get("kind") if isinstance(value, dict) else None
    if kind not in CAUSAL_KINDS:
        raise ValidationError.from_exception_data(
            "approach", [_problem(("kind",), kind, f"must be one of {', '.join(CAUSAL_KINDS)}")]
        )
    return CAUSAL_KINDS[kind].model_validate(value, context=info.context)


CausalApproach = Annotated[Union[CAUSAL_REGISTERED], WrapValidator(_by_kind)]  # noqa: UP007
CausalApproaches = Annotated[
    dict[Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]+$")], CausalApproach], AfterValidator(_names_usable)
]


def default_causal_approaches() -> dict[str, Any]:
    """One approach of each kind, named after its kind."""
    return {kind: model(kind=kind) for kind, model in CAUSAL_KINDS.items()}


# -- evaluation and the retrieval baseline --------------------------------------------------------------


class RetrievalBaseline(StrictModel):
    """Answer with the reference answer of the most similar train prompt (TF-IDF cosine)."""

    ngram_range: tuple[int, int] = Field((1, 2), description="Word n-gram range of the TF-IDF vectors.")
    min_df: int = Field(1, ge=1, description="Ignore terms in fewer train prompts than this.")
    sublinear_tf: bool = Field(True, description="1 + log(tf) instead of raw counts.")
    lowercase: bool = Field(True, description="Lower-case prompts before vectorising.")

    @model_validator(mode="after")
    def _range_ordered(self) -> RetrievalBaseline:
        lo, hi = self.ngram_range
        if lo < 1 or hi < lo:
            raise ValueError(f"ngram_range must be [min, max] with 1 <= min <= max; got [{lo}, {hi}]")
        return self


class CausalEvalParams(StrictModel):
    """How evaluate@<approach> scores a causal LM on validation and test."""

    max_new_tokens: int = Field(
        64, ge=1, le=8192, description="Greedy generation stops here; a generation that reaches it never stopped."
    )
    batch_size: int = Field(16, ge=1, le=4096, description="Prompts per generation batch (and rows per loss batch).")
    limit: int | None = Field(
        None, ge=1, description="Generate for the first N test prompts only (by id); null: all. Loss uses all rows."
    )
    retrieval: RetrievalBaseline = Field(default_factory=RetrievalBaseline, description="The retrieval baseline.")
