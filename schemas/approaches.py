"""Params of the fine-tuning approaches: `approaches` maps a name to one approach.

Each entry becomes the DVC stages train@<name> and evaluate@<name>. `kind`
picks the approach: feature (frozen backbone plus a trained head), full (every
parameter) or adapter (a PEFT method; the `peft` block is validated by PEFT's
own config classes, each problem reported at its dotted path such as
`approaches.adapter.peft.r`).
"""

from __future__ import annotations

import dataclasses
import difflib
import typing
from typing import Annotated, Any, ClassVar, Literal, Union

from pydantic import (
    AfterValidator,
    Field,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    WrapValidator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from schemas.base import StrictModel
from stages.lib.model.peft_config import peft_config_class, peft_kwargs

Pooling = Literal["mean", "cls"]


class Head(StrictModel):
    """The classification head on the pooled text vector."""

    type: Literal["linear", "mlp"] = Field("linear", description="linear, or mlp with `hidden_sizes`.")
    hidden_sizes: list[int] = Field(
        default_factory=list, description="mlp: widths of the hidden layers (ReLU between), e.g. [256]."
    )
    dropout: float = Field(0.1, ge=0, lt=1, description="Dropout before each layer of the head.")

    @model_validator(mode="after")
    def _sizes_match_type(self) -> Head:
        if self.type == "mlp" and not self.hidden_sizes:
            raise ValueError("head.type 'mlp' needs hidden_sizes, e.g. [256]; or use type: linear")
        if self.type == "linear" and self.hidden_sizes:
            raise ValueError("head.hidden_sizes is only used by type: mlp; remove it or set type: mlp")
        if any(s < 1 for s in self.hidden_sizes):
            raise ValueError("head.hidden_sizes must all be >= 1")
        return self


class _Common(StrictModel):
    learning_rate: float = Field(description="Peak learning rate of this approach.", gt=0)
    epochs: float | None = Field(None, gt=0, description="Overrides train.epochs for this approach; null keeps it.")
    pooling: Pooling = Field(
        "mean",
        description="How the token vectors become one text vector: mean (masked average; the sensible choice "
        "after masked-LM-only pretraining) or cls (first token).",
    )
    head: Head = Field(default_factory=Head, description="Classification head.")


class FeatureApproach(_Common):
    """Frozen backbone (all of it, or all but its last layers) and a trained head."""

    module: ClassVar[str] = "stages.lib.model.approaches.feature"

    kind: Literal["feature"] = Field(description="Feature-based: the pre-trained model stays frozen.")
    learning_rate: float = Field(1e-3, gt=0, description="Peak learning rate of the head (and unfrozen layers).")
    trainable_layers: int = Field(
        0, ge=0, description="Unfreeze the last N transformer layers (0: the whole backbone stays frozen)."
    )
    layer: int = Field(
        -1, description="Hidden state that is pooled: -1 the last layer, 0 the embeddings, k the k-th layer."
    )
    cache_embeddings: bool = Field(
        True,
        description="Compute the pooled features once and train the head on them (many times faster); "
        "needs trainable_layers: 0.",
    )

    @model_validator(mode="after")
    def _cache_needs_frozen(self) -> FeatureApproach:
        if self.cache_embeddings and self.trainable_layers:
            raise ValueError(
                "cache_embeddings needs a fully frozen backbone: set trainable_layers: 0 or cache_embeddings: false"
            )
        if self.trainable_layers and self.layer != -1:
            raise ValueError("trainable_layers needs layer: -1 (unfrozen layers above the pooled one would not train)")
        return self


class FullApproach(_Common):
    """Every parameter of the backbone and the head is trained."""

    module: ClassVar[str] = "stages.lib.model.approaches.full"

    kind: Literal["full"] = Field(description="Full fine-tuning.")
    learning_rate: float = Field(1e-4, gt=0, description="Peak learning rate.")


# -- the `peft` block: handed to PEFT's own config class, every problem reported at its key -------------

# PEFT checks these only when it builds the model, minutes into a run; check them with the params.
_MINIMUMS = {"r": 1, "num_virtual_tokens": 1}
_PROMPT_LEARNING = {"PROMPT_TUNING", "PREFIX_TUNING", "P_TUNING", "MULTITASK_PROMPT_TUNING"}


def _problem(loc: tuple[Any, ...], value: Any, message: str) -> InitErrorDetails:
    return {"type": PydanticCustomError("peft", message), "loc": loc, "input": value}


def _check_peft(block: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
    """Validate the block with PEFT's config class; raise every problem at its own key (peft.r, peft.alpha...).

    Importing PEFT costs about 5 s (it imports torch and transformers), so stages that do not train
    (ingest, clean...) validate with context `{"check_peft": False}`: only the block's shape is checked there,
    and the full check runs in `python -m schemas` and in the train and evaluate stages before any work.
    """
    if info.context is not None and not info.context.get("check_peft", True):
        if not isinstance(block.get("peft_type"), str):
            raise ValueError("needs `peft_type`, the PEFT method (LORA, IA3, LOHA, PREFIX_TUNING...)")
        return block
    import peft

    cls = peft_config_class(block.get("peft_type"))
    if cls is None:
        known = ", ".join(sorted(k.value for k in peft.PEFT_TYPE_TO_CONFIG_MAPPING))
        raise ValidationError.from_exception_data(
            "peft", [_problem(("peft_type",), block.get("peft_type"), f"must name a PEFT method: {known}")]
        )
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    hints = _type_hints(cls)
    problems: list[InitErrorDetails] = []
    for key, value in block.items():
        if key == "peft_type":
            continue
        if key == "task_type":
            problems.append(_problem((key,), value, "Refinery sets task_type itself (the head is its own); remove it"))
            continue
        if key not in fields:
            close = difflib.get_close_matches(key, list(fields), n=1, cutoff=0.6)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            problems.append(_problem((key,), value, f"not an option of peft.{cls.__name__}{hint}"))
            continue
        message = _check_value(hints.get(key), value)
        if message is None and key in _MINIMUMS and isinstance(value, int) and value < _MINIMUMS[key]:
            message = f"must be >= {_MINIMUMS[key]}"
        if message is None:
            try:
                cls(**peft_kwargs({key: value}))
            except (TypeError, ValueError) as exc:
                message = f"peft.{cls.__name__} rejects it: {exc}"
        if message:
            problems.append(_problem((key,), value, message))
    if not problems:
        try:
            cls(**peft_kwargs(block))
        except (TypeError, ValueError) as exc:
            problems.append(_problem((), block, f"peft.{cls.__name__} rejects the combination: {exc}"))
    if problems:
        raise ValidationError.from_exception_data("peft", problems)
    return block


def _type_hints(cls: type) -> dict[str, Any]:
    try:
        return typing.get_type_hints(cls)
    except Exception:  # a PEFT annotation this Python cannot resolve: skip type checks, PEFT still checks
        return {}


def _check_value(hint: Any, value: Any) -> str | None:
    """The value against the field's annotation in PEFT's dataclass (which PEFT itself never checks)."""
    if hint is None:
        return None
    try:
        adapter = TypeAdapter(hint)
    except Exception:  # an annotation pydantic cannot build a validator for: leave it to PEFT
        return None
    try:
        adapter.validate_python(value, strict=False)
    except ValidationError as exc:
        return f"expected {_hint_name(hint)}: {exc.errors()[0]['msg']}"
    return None


def _hint_name(hint: Any) -> str:
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")


PeftBlock = Annotated[dict[str, Any], AfterValidator(_check_peft)]


class AdapterApproach(_Common):
    """A PEFT method on the frozen backbone, with the head trained alongside and saved with the adapter."""

    module: ClassVar[str] = "stages.lib.model.approaches.adapter"

    kind: Literal["adapter"] = Field(description="Adapter-based (PEFT).")
    learning_rate: float = Field(1e-3, gt=0, description="Peak learning rate of the adapter and the head.")
    peft: PeftBlock = Field(
        default_factory=lambda: {"peft_type": "LORA", "r": 8, "lora_alpha": 16, "lora_dropout": 0.1},
        description="Arguments of the PEFT config class named by `peft_type` (LORA, IA3, LOHA, LOKR, "
        "PROMPT_TUNING, PREFIX_TUNING...), validated by PEFT itself; task_type is set by Refinery.",
    )
    merge: bool = Field(
        False, description="Save the adapter merged into a full backbone (LoRA-like methods) instead of alone."
    )

    @model_validator(mode="after")
    def _merge_needs_mergeable(self) -> AdapterApproach:
        peft_type = str(self.peft.get("peft_type", "")).upper()
        if self.merge and peft_type in _PROMPT_LEARNING:
            raise ValueError(f"merge: true is impossible with {peft_type} (nothing to merge); set merge: false")
        return self


# -- the one registration of approach kinds -----------------------------------------------------------
# Each params model names its kind (the `kind` literal) and its module (`module`: the four functions build, train,
# save, load, see stages/lib/model/approaches/__init__.py). To add a kind: a params model here, a module there,
# and one entry in this tuple; the validator, the union, the defaults and the stages all derive from it.
REGISTERED: tuple[type[_Common], ...] = (FeatureApproach, FullApproach, AdapterApproach)


def kind_of(model: type[_Common]) -> str:
    """The value of the model's `kind` literal."""
    (kind,) = typing.get_args(model.model_fields["kind"].annotation)
    return kind


KINDS: dict[str, type[_Common]] = {kind_of(m): m for m in REGISTERED}


def _by_kind(value: Any, handler: Any, info: ValidationInfo) -> Any:
    """Validate with the model that `kind` names. Unlike a pydantic discriminated union this keeps the kind
    out of error locations: `approaches.lora.peft.r`, not `approaches.lora.adapter.peft.r`."""
    if isinstance(value, _Common):
        return value
    kind = value.get("kind") if isinstance(value, dict) else None
    if kind not in KINDS:
        raise ValidationError.from_exception_data(
            "approach",
            [_problem(("kind",), kind, f"must be one of {', '.join(KINDS)}")],
        )
    return KINDS[kind].model_validate(value, context=info.context)


Approach = Annotated[Union[REGISTERED], WrapValidator(_by_kind)]  # noqa: UP007 (a union built from the tuple)


def _names_usable(approaches: dict[str, Any]) -> dict[str, Any]:
    """Each name becomes models/<name>/ beside models/base/ and a stage name: keep them apart."""
    if not approaches:
        raise ValueError("name at least one approach, e.g. full: {kind: full}")
    if "base" in approaches:
        raise ValueError("'base' is the base model's folder (models/base); rename the approach")
    return approaches


Approaches = Annotated[
    dict[Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]+$")], Approach], AfterValidator(_names_usable)
]


def default_approaches() -> dict[str, Any]:
    """One approach of each registered kind, named after its kind."""
    return {kind: model(kind=kind) for kind, model in KINDS.items()}
