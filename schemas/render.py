"""Params of the render stage (conversations to training tokens) and of the demo's chat tokenizer step."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from schemas.base import StrictModel
from schemas.paths import PathsModel

# The named templates of stages/lib/render/templates.py (a test keeps the two lists equal; schemas import no
# stage code, so each stage's DVC deps stay its own).
TEMPLATES = ("chatml", "chatml_generation", "llama3", "llama3_generation")
FROM_TOKENIZER = "tokenizer"


def is_inline(template: str) -> bool:
    """Inline Jinja text rather than a template name."""
    return "{{" in template or "{%" in template


class RenderParams(StrictModel):
    """Apply the chat template, tokenise once, mask the loss exactly, report lengths, optionally pack."""

    template: str = Field(
        "chatml",
        description="Chat template: a named one (chatml, chatml_generation, llama3, llama3_generation), "
        "`tokenizer` (the tokenizer folder's own chat_template), or the Jinja text itself. Rendered with "
        "transformers' sandboxed Jinja; an unsafe or broken template fails the stage, naming it.",
    )
    mask_policy: Literal["assistant", "last_assistant", "all"] = Field(
        "assistant",
        description="Which tokens are trained: every assistant turn's content, the last assistant turn only, "
        "or every token (plain language modelling).",
    )
    train_on_eos: bool = Field(
        True,
        description="Also train the end-of-turn token that closes each trained assistant turn (the special "
        "token the template writes right after it), so the model learns to stop.",
    )
    prompt_loss_weight: float = Field(
        0.0,
        ge=0.0,
        le=1.0,
        description="Loss weight of the untrained tokens; above 0 the rows get a `weights` column "
        "(1.0 on trained tokens) and labels on every token.",
    )
    max_length: int = Field(512, ge=8, description="Most tokens per row (and per packed sequence).")
    truncation: Literal["drop", "left", "right"] = Field(
        "left",
        description="A row over max_length: `drop` it (reject too_long); `left` cuts the prompt from the left "
        "(a leading BOS stays) and keeps the whole last answer, rejecting the row as answer_truncated when the "
        "answer alone does not fit; `right` cuts the end, answers included (counted in "
        "length.assistant_tokens_lost).",
    )
    max_over_length_share: float = Field(
        1.0,
        ge=0.0,
        le=1.0,
        description="Length gate: fail the stage when a larger share of rows exceeds max_length (1.0 = no gate).",
    )
    max_audit_failure_share: float = Field(
        0.0,
        ge=0.0,
        le=1.0,
        description="Mask-audit gate: fail when a larger share of rows has trained tokens that do not decode to "
        "exactly the assistant contents plus end-of-turn markers, or a template that drops, reorders or "
        "rewrites content (0.0 = every row must pass).",
    )
    packing: bool = Field(
        False,
        description="Also write best-fit-decreasing packed sequences of up to max_length tokens, with per-example "
        "position_ids and seq_lens (for a block-diagonal attention mask).",
    )
    batch_size: int = Field(1000, ge=1, description="Conversations rendered and tokenised per batch (memory).")

    @field_validator("template")
    @classmethod
    def _known_template(cls, value: str) -> str:
        if value != FROM_TOKENIZER and not is_inline(value) and value not in TEMPLATES:
            raise ValueError(
                f"unknown template '{value}'; use one of {sorted(TEMPLATES)}, 'tokenizer', or inline Jinja"
            )
        return value

    @model_validator(mode="after")
    def _weight_needs_a_mask(self) -> RenderParams:
        if self.mask_policy == "all" and self.prompt_loss_weight > 0:
            raise ValueError("prompt_loss_weight applies to untrained tokens; with mask_policy 'all' there are none")
        return self


class TokenizerParams(StrictModel):
    """The demo's chat tokenizer: byte-level BPE trained on the train split's text (never validation or test)."""

    vocab_size: int = Field(2000, ge=300, description="Vocabulary size, special tokens and 256 bytes included.")
    min_frequency: int = Field(2, ge=1, description="Fewest occurrences for a merge to be learnt.")
    template: str = Field("chatml", description="Named chat template attached to the tokenizer.")
    model_max_length: int = Field(512, ge=8, description="The tokenizer's model_max_length.")

    @field_validator("template")
    @classmethod
    def _named(cls, value: str) -> str:
        if value not in TEMPLATES:
            raise ValueError(f"unknown template '{value}'; use one of {sorted(TEMPLATES)}")
        return value


class RenderPaths(PathsModel):
    """Inputs and outputs of render (relative to the SFT pipeline folder)."""

    split: str = Field(
        "data/decontaminated", description="Folder with train, validation and test .parquet conversations."
    )
    tokenizer: str = Field("models/tokenizer", description="Tokenizer folder (tokenizer.json, tokenizer_config.json).")
    rendered: str = Field(
        "data/rendered",
        description="Output folder: train/validation/test.parquet (input_ids, labels, prompt, answer), "
        "packed/<split>.parquet with packing, rejects.parquet.",
    )
    metrics: str = Field("metrics/render.json", description="Render headline metrics.")
    details: str = Field("metrics/details/render.json", description="Every counter of render (git-tracked).")


class TokenizerPaths(PathsModel):
    """Input and output of the demo's tokenizer step."""

    train: str = Field("data/decontaminated/train.parquet", description="Train split whose text trains the tokenizer.")
    tokenizer: str = Field("models/tokenizer", description="Output tokenizer folder.")
    metrics: str = Field("metrics/tokenizer.json", description="Tokenizer headline metrics (vocabulary size).")
    details: str = Field("metrics/details/tokenizer.json", description="Every counter of the tokenizer step.")
