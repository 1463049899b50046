"""Property: with the named templates and the byte-level chat tokenizer, any conversation's trained tokens decode
to exactly its assistant contents plus their end-of-turn tokens (the mask audit never fails), and the token ids
are the tokenizer's own apply_chat_template ids."""

from hypothesis import given
from hypothesis import strategies as st

from stages.lib.render.files import make_renderer
from stages.lib.render.tokens import Tally, encode_rows, special_pattern
from tests.render_helpers import tokenizer
from tests.stages.lib.fuzz import FUZZ

content = st.text(
    alphabet=st.one_of(st.characters(blacklist_categories=("Cs",)), st.sampled_from([" ", "\n", "\t", "é", "😀"])),
    max_size=40,
)
turns = st.lists(st.tuples(content, content), min_size=1, max_size=3)
system = st.one_of(st.none(), content)


def _conversation(sys_text, pairs):
    messages = [{"role": "system", "content": sys_text}] if sys_text is not None else []
    for user, answer in pairs:
        messages += [{"role": "user", "content": user}, {"role": "assistant", "content": answer}]
    return messages


@FUZZ
@given(sys_text=system, pairs=turns, template=st.sampled_from(["chatml", "llama3"]))
def test_any_conversation_masks_exactly(sys_text, pairs, template):
    tok = tokenizer(template)
    messages = _conversation(sys_text, pairs)
    tally = Tally()
    rows, rejects = encode_rows(
        [{"id": "x", "source": "f", "messages": messages}],
        make_renderer(template, tok),
        tok,
        tally,
        special_pattern(tok),
        mask_policy="assistant",
        train_on_eos=True,
        prompt_loss_weight=0.0,
        max_length=100_000,
        truncation="drop",
    )
    if rejects:  # the only reason a random conversation may be set aside: it types a special token
        assert [r["reason"] for r in rejects] == ["special_token_in_content"]
        return
    eot = tok.eos_token
    (row,) = rows
    assert tally.audit_failed == 0
    trained = [t for t, lab in zip(row["input_ids"], row["labels"], strict=True) if lab != -100]
    assert tok.decode(trained) == "".join(m["content"] + eot for m in messages if m["role"] == "assistant")
    assert row["input_ids"] == tok.apply_chat_template(messages, tokenize=True, return_dict=True)["input_ids"]
