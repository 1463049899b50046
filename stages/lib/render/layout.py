"""Where each message's content lands in the rendered text, and which characters a loss mask trains.

A template is rendered once per role sequence with each content replaced by a sentinel; the sentinels give the
exact character span of every message, and the text the template writes around them (headers, end-of-turn
markers). The real conversation is rendered too, and must equal the skeleton with the sentinels replaced by the
contents: a template that drops, repeats, reorders or rewrites content (strips whitespace, drops the system
turn, changes case) fails that check, and the row is set aside as `template_mismatch` with what went wrong,
never masked by guesswork. This works with every template: no `{% generation %}` markers needed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from stages.lib.render.templates import TemplateRenderError, compile_template, render_messages

# Private-use code points: no template filter (trim, upper, escape) changes them, and clean never keeps them.
_OPEN, _CLOSE = "\ue000", "\ue001"
_SENTINEL = re.compile(f"{_OPEN}(\\d+){_CLOSE}")

POLICIES = ("assistant", "last_assistant", "all")


class TemplateMismatch(ValueError):
    """The template does not write a message's content once, in order and unchanged (the detail says how)."""


@dataclass(frozen=True)
class Skeleton:
    """A template's text around the contents for one role sequence: `pieces[i]` comes before content i."""

    pieces: list[str]
    end_of_turn: list[str]  # per message: whitespace plus the special token right after its content ('' if none)


@dataclass
class Located:
    """One conversation rendered, with the character spans that the mask trains."""

    text: str
    spans: list[tuple[int, int]]  # trained character spans, in order
    expected: str  # what the trained tokens must decode to (the mask audit)
    answer_span: tuple[int, int]  # the last assistant turn's trained span (truncation keeps it whole)
    turns_without_end: int = 0  # trained assistant turns with no end-of-turn token after them
    extra: dict[str, Any] = field(default_factory=dict)


class Renderer:
    """A compiled template plus what it needs (special tokens), with one skeleton cached per role sequence."""

    def __init__(self, name: str, source: str, special: dict[str, str | None], markers: list[str]):
        self.name = name
        self.source = source
        self.compiled = compile_template(name, source)
        self.special = special
        self.markers = list(markers)
        self.seen_elsewhere: set[str] = set()  # end-of-turn markers that Ray workers' copies found
        # the longest marker first, so `<|im_end|>` is not read as a shorter token that prefixes it
        ordered = sorted(set(markers), key=lambda m: (-len(m), m))
        self._marker = re.compile(r"\s*(?:" + "|".join(re.escape(m) for m in ordered) + ")") if ordered else None
        self._skeletons: dict[tuple[str, ...], Skeleton] = {}

    def render(self, messages: list[dict[str, str]], add_generation_prompt: bool) -> str:
        """The rendered text; TemplateMismatch when the template refuses this conversation."""
        try:
            return render_messages(self.compiled, self.name, messages, add_generation_prompt, self.special)
        except TemplateRenderError as exc:
            raise TemplateMismatch(str(exc).replace(f"chat template '{self.name}' ", "", 1)) from None

    def skeleton(self, roles: tuple[str, ...]) -> Skeleton:
        if roles not in self._skeletons:
            self._skeletons[roles] = self._build(roles)
        return self._skeletons[roles]

    def end_of_turn_markers(self) -> list[str]:
        """The end-of-turn markers seen after assistant turns so far (sorted; whitespace before them dropped)."""
        return sorted(
            {
                skel.end_of_turn[i].strip()
                for roles, skel in self._skeletons.items()
                for i, role in enumerate(roles)
                if role == "assistant" and skel.end_of_turn[i]
            }
            | self.seen_elsewhere
        )

    def _build(self, roles: tuple[str, ...]) -> Skeleton:
        text = self.render([{"role": r, "content": f"{_OPEN}{i}{_CLOSE}"} for i, r in enumerate(roles)], False)
        found = [int(m.group(1)) for m in _SENTINEL.finditer(text)]
        if found != list(range(len(roles))):
            missing = [i for i in range(len(roles)) if i not in found]
            if missing:
                what = f"drops the content of message {missing[0]} ({roles[missing[0]]})"
            elif len(found) > len(roles):
                what = "writes a message's content more than once"
            else:
                what = f"reorders the messages (writes them as {found})"
            raise TemplateMismatch(what)
        parts = _SENTINEL.split(text)  # text, index, text, index, ..., text
        pieces = parts[0::2]
        ends = []
        for piece in pieces[1:]:
            m = self._marker.match(piece) if self._marker else None
            ends.append(m.group(0) if m else "")
        return Skeleton(pieces=pieces, end_of_turn=ends)

    def locate(self, messages: list[dict[str, str]], policy: str, train_on_eos: bool) -> Located:
        """The rendered conversation and its trained spans under `policy`; TemplateMismatch if unfaithful."""
        skel = self.skeleton(tuple(m["role"] for m in messages))
        text = self.render(messages, False)
        starts, out, pos = [], [], 0
        for piece, message in zip(skel.pieces, messages, strict=False):
            pos += len(piece)
            starts.append(pos)
            out.append(piece)
            out.append(message["content"])
            pos += len(message["content"])
        out.append(skel.pieces[-1])
        if "".join(out) != text:
            at = _diff_at(faithful := "".join(out), text)
            raise TemplateMismatch(
                f"rewrites content: at character {at} it writes {text[at : at + 24]!r} "
                f"where the messages hold {faithful[at : at + 24]!r}"
            )
        assistant = [i for i, m in enumerate(messages) if m["role"] == "assistant"]
        if policy == "all":
            return Located(text, [(0, len(text))], text, _answer(assistant, starts, messages, skel, train_on_eos))
        chosen = assistant[-1:] if policy == "last_assistant" else assistant
        spans, expected, no_end = [], [], 0
        for i in chosen:
            end = starts[i] + len(messages[i]["content"])
            eot = skel.end_of_turn[i] if train_on_eos else ""
            no_end += train_on_eos and not eot
            spans.append((starts[i], end + len(eot)))
            expected.append(messages[i]["content"] + eot)
        answer = _answer(assistant, starts, messages, skel, train_on_eos)
        return Located(text, spans, "".join(expected), answer, turns_without_end=no_end)


def _answer(assistant: list[int], starts: list[int], messages, skel: Skeleton, train_on_eos: bool) -> tuple[int, int]:
    if not assistant:
        return (0, 0)
    i = assistant[-1]
    eot = skel.end_of_turn[i] if train_on_eos else ""
    return (starts[i], starts[i] + len(messages[i]["content"]) + len(eot))


def _diff_at(a: str, b: str) -> int:
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return i
    return min(len(a), len(b))


def prompt_and_answer(renderer: Renderer, messages: list[dict[str, str]]) -> tuple[str, str]:
    """The conversation up to its last assistant turn, rendered with the generation prompt, and that turn's text
    (what evaluation feeds the model and compares its answer with)."""
    last = max(i for i, m in enumerate(messages) if m["role"] == "assistant")
    return renderer.render(messages[:last], True), messages[last]["content"]
