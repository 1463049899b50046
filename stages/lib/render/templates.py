"""Named chat templates and how a template is chosen, compiled and rendered (transformers' sandboxed Jinja).

Each named template uses only the special tokens in `SPECIAL_TOKENS`, so one tokenizer trained by
`tokenizer.train_chat_tokenizer` serves all of them and a change of template keeps the token ids.
The `_generation` variants render the same text with `{% generation %}` markers, which TRL's
`assistant_only_loss` and transformers' `return_assistant_tokens_mask` need; render itself never needs them
(its masks come from character offsets).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from schemas.render import FROM_TOKENIZER, is_inline
from stages.lib.core.errors import StageError

PAD, BOS, EOS = "<|pad|>", "<|begin_of_text|>", "<|end_of_text|>"
# Fixed order: the ids of these tokens are 0..7 in every tokenizer trained here.
SPECIAL_TOKENS = [
    PAD,
    BOS,
    EOS,
    "<|im_start|>",
    "<|im_end|>",
    "<|start_header_id|>",
    "<|end_header_id|>",
    "<|eot_id|>",
]


@dataclass(frozen=True)
class NamedTemplate:
    """A chat template shipped with Refinery: its Jinja source and the token that ends an assistant turn."""

    name: str
    source: str
    end_of_turn: str  # the tokenizer's eos_token with this template: generation stops here


# ChatML as Qwen and many others ship it (no BOS; `<|im_end|>` closes every turn).
_CHATML = (
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)
_CHATML_GENERATION = (
    "{%- for message in messages %}"
    "{%- if message['role'] == 'assistant' %}"
    "{{- '<|im_start|>assistant\\n' }}{% generation %}{{- message['content'] + '<|im_end|>' }}{% endgeneration %}"
    "{{- '\\n' }}"
    "{%- else %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)
# Llama 3 style: BOS first, role headers, `<|eot_id|>` closes every turn. Meta's own template also trims each
# content; this one keeps content as it is (clean has already stripped it), so the mask audit stays exact.
_LLAMA3 = (
    "{{- bos_token }}"
    "{%- for message in messages %}"
    "{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] + '<|eot_id|>' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{%- endif %}"
)
_LLAMA3_GENERATION = (
    "{{- bos_token }}"
    "{%- for message in messages %}"
    "{%- if message['role'] == 'assistant' %}"
    "{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}"
    "{% generation %}{{- message['content'] + '<|eot_id|>' }}{% endgeneration %}"
    "{%- else %}"
    "{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] + '<|eot_id|>' }}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{%- endif %}"
)

TEMPLATES: dict[str, NamedTemplate] = {
    t.name: t
    for t in (
        NamedTemplate("chatml", _CHATML, "<|im_end|>"),
        NamedTemplate("chatml_generation", _CHATML_GENERATION, "<|im_end|>"),
        NamedTemplate("llama3", _LLAMA3, "<|eot_id|>"),
        NamedTemplate("llama3_generation", _LLAMA3_GENERATION, "<|eot_id|>"),
    )
}


def named(name: str) -> NamedTemplate:
    """The named template `name`; StageError listing the names otherwise."""
    if name not in TEMPLATES:
        raise StageError(f"unknown chat template '{name}'; choose one of {sorted(TEMPLATES)}")
    return TEMPLATES[name]


def resolve(template: str, tokenizer_template: str | None) -> tuple[str, str]:
    """(name for messages, Jinja source) of the template that params ask for.

    `template` is a named template, `tokenizer` (the tokenizer folder's own `chat_template`), or inline Jinja.
    """
    if template == FROM_TOKENIZER:
        if not tokenizer_template:
            raise StageError(
                "render.template is 'tokenizer' but the tokenizer has no chat_template; "
                f"name one of {sorted(TEMPLATES)} or give the Jinja text inline"
            )
        return "tokenizer", tokenizer_template
    if is_inline(template):
        return "inline", template
    return template, named(template).source


def compile_template(name: str, source: str) -> Any:
    """Compile `source` with transformers' sandboxed Jinja environment; StageError naming the template if broken."""
    from transformers.utils.chat_template_utils import _compile_jinja_template

    try:
        return _compile_jinja_template(source)
    except Exception as exc:  # jinja2.TemplateSyntaxError and friends
        raise StageError(f"chat template '{name}' does not compile: {type(exc).__name__}: {exc}") from None


class TemplateRenderError(StageError):
    """The template raised while rendering a conversation (its own `raise_exception`, a missing key...)."""


def render_messages(
    compiled: Any,
    name: str,
    messages: list[dict[str, str]],
    add_generation_prompt: bool,
    special: dict[str, str | None],
) -> str:
    """Render one conversation with a compiled template; StageError naming the template on any failure.

    A template that reaches outside the sandbox (attribute access such as `__class__`) raises jinja2's
    SecurityError here; it is reported as an unsafe template (StageError), never run. Any other failure is a
    TemplateRenderError, which render counts against the row (a template may refuse one conversation, as
    templates that `raise_exception` on roles out of order do).
    """
    from jinja2.exceptions import SecurityError

    try:
        return compiled.render(messages=messages, add_generation_prompt=add_generation_prompt, **special)
    except SecurityError as exc:
        raise StageError(f"chat template '{name}' is unsafe (the sandbox refused it): {exc}") from None
    except Exception as exc:
        raise TemplateRenderError(f"chat template '{name}' failed to render: {type(exc).__name__}: {exc}") from None


def source_of(template: str) -> str | None:
    """The Jinja text of params' `template` without a tokenizer at hand: None for `tokenizer` (its own)."""
    if template == FROM_TOKENIZER:
        return None
    return template if is_inline(template) else named(template).source
