import hashlib
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from stages import render
from stages.lib.core.errors import StageError
from tests.render_helpers import CONVERSATIONS, conv, params, setup, tokenizer


def _read(paths, split="train"):
    return pq.read_table(Path(paths.rendered) / f"{split}.parquet").to_pylist()


def _trained_text(tok, row):
    return tok.decode([t for t, lab in zip(row["input_ids"], row["labels"], strict=True) if lab != -100])


@pytest.mark.parametrize(("template", "eot"), [("chatml", "<|im_end|>"), ("llama3", "<|eot_id|>")])
def test_masks_train_exactly_the_answers_and_their_end_of_turn(tmp_path, template, eot):
    paths = setup(tmp_path, template=template)
    m = render.run(params(template=template), paths)
    assert m["rows_in"] == 10 and m["rows_out"] == 10 and sum(m["dropped"].values()) == 0
    assert m["mask_audit"]["failed_rows"] == 0
    assert m["mask_audit"]["bos_doubled_rows"] == 0
    assert m["mask_audit"]["turns_without_end_of_turn"] == 0
    tok = tokenizer(template)
    out = _read(paths)
    for row, c in zip(out, CONVERSATIONS, strict=True):
        answers = "".join(t["content"] + eot for t in c if t["role"] == "assistant")
        assert _trained_text(tok, row) == answers
        assert row["labels"][0] == -100 and row["length"] == len(row["input_ids"])
        assert row["answer"] == c[-1]["content"]
        assert row["prompt"] == tok.apply_chat_template(c[:-1], tokenize=False, add_generation_prompt=True)
        # tokenised once: the same ids as the tokenizer's own apply_chat_template(tokenize=True)
        assert row["input_ids"] == tok.apply_chat_template(c, tokenize=True, return_dict=True)["input_ids"]
    if template == "llama3":
        assert all(r["input_ids"][0] == tok.bos_token_id and r["input_ids"][1] != tok.bos_token_id for r in out)


def test_policies_and_prompt_weight(tmp_path):
    paths = setup(tmp_path)
    tok = tokenizer("chatml")
    render.run(params(mask_policy="last_assistant"), paths)
    row = _read(paths)[1]
    assert _trained_text(tok, row) == "They pulled the canoe up on the bank.<|im_end|>"
    render.run(params(train_on_eos=False), paths)
    assert _trained_text(tok, _read(paths)[0]) == "A member of the genus Canis."
    m = render.run(params(mask_policy="all"), paths)
    assert all(r["labels"] == r["input_ids"] for r in _read(paths))
    assert m["mask_audit"]["trained_share"] == 1.0
    render.run(params(prompt_loss_weight=0.1), paths)
    row = _read(paths)[0]
    assert row["labels"][0] == -100
    assert {round(w, 3) for w in row["weights"]} == {0.1, 1.0}


def test_output_is_byte_deterministic(tmp_path):
    paths = setup(tmp_path)
    digest = {}
    for attempt in range(2):
        render.run(params(packing=True, max_length=64, truncation="left"), paths)
        digest[attempt] = {
            str(p.relative_to(paths.rendered)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(Path(paths.rendered).rglob("*.parquet"))
        }
    assert digest[0] == digest[1] and len(digest[0]) == 7


def test_truncation_policies(tmp_path):
    long_prompt = conv(("user", "word " * 80 + "?"), ("assistant", "Short answer."))
    long_answer = conv(("user", "Hi?"), ("assistant", "word " * 80))
    two_turns = conv(("user", "a " * 30), ("assistant", "b " * 30), ("user", "c?"), ("assistant", "Yes."))
    paths = setup(tmp_path, [long_prompt, long_answer, two_turns], template="llama3")
    tok = tokenizer("llama3")
    m = render.run(params(template="llama3", max_length=40, truncation="drop"), paths)
    assert m["dropped"]["too_long"] == 7 and m["rows_out"] == 0  # validation and test hold the first two
    assert m["length"]["over_max_length_share"] > 0
    m = render.run(params(template="llama3", max_length=40, truncation="left"), paths)
    assert m["dropped"]["answer_truncated"] == 3  # the long answer, in train, validation and test
    kept = {r["id"]: r for r in _read(paths)}
    r = kept["r000"]
    assert r["length"] == 40 and r["input_ids"][0] == tok.bos_token_id and r["input_ids"][1] != tok.bos_token_id
    assert _trained_text(tok, r) == "Short answer.<|eot_id|>"
    assert _trained_text(tok, kept["r002"]).endswith("Yes.<|eot_id|>")
    assert m["length"]["assistant_tokens_lost"] > 0  # the first answer of the two-turn row was cut
    assert m["rows_in"] == m["rows_out"] + sum(m["dropped"].values())
    m = render.run(params(template="llama3", max_length=40, truncation="right"), paths)
    # right cuts answers: the long answers stay cut (counted lost); rows whose last answer is cut away entirely go
    assert m["dropped"]["answer_truncated"] == 4 and {r["id"] for r in _read(paths)} == {"r001"}
    assert all(r["length"] == 40 for r in _read(paths))
    with pytest.raises(StageError, match="length gate"):
        render.run(params(template="llama3", max_length=40, max_over_length_share=0.1), paths)


def test_special_token_in_content_and_rejects_file(tmp_path):
    bad = conv(("user", "Say <|im_end|> please"), ("assistant", "No."))
    paths = setup(tmp_path, [*CONVERSATIONS, bad, conv(("user", "Anyone?"))])
    m = render.run(params(), paths)
    assert m["dropped"]["special_token_in_content"] == 1 and m["dropped"]["no_trained_tokens"] == 1
    rej = pq.read_table(Path(paths.rendered) / "rejects.parquet").to_pylist()
    assert [(r["reason"], r["id"], r["location"]) for r in rej] == [
        ("no_trained_tokens", "r007", "train"),
        ("special_token_in_content", "r006", "train"),
    ]
    assert "<|im_end|>" in rej[1]["detail"] and "Say" in rej[1]["raw"]


REWRITES = (
    "{%- for m in messages %}{{- '<|im_start|>' + m['role'] + '\\n' + m['content'] | upper + '<|im_end|>\\n' }}"
    "{%- endfor %}"
)
DROPS_SYSTEM = (
    "{%- for m in messages if m['role'] != 'system' %}{{- '<|im_start|>' + m['role'] + '\\n' + m['content'] "
    "+ '<|im_end|>\\n' }}{%- endfor %}"
)


def test_audit_fails_on_a_template_that_rewrites_content(tmp_path):
    paths = setup(tmp_path)
    with pytest.raises(StageError, match=r"(?s)10 of 10 rows fail with template 'inline'.*rewrites content"):
        render.run(params(template=REWRITES), paths)
    assert not Path(paths.rendered).exists()  # a failed stage writes nothing
    m = render.run(params(template=DROPS_SYSTEM, max_audit_failure_share=1.0), paths)
    assert m["dropped"]["template_mismatch"] == 1 and m["mask_audit"]["failed_rows"] == 1
    rej = pq.read_table(Path(paths.rendered) / "rejects.parquet").to_pylist()
    assert "drops the content of message 0 (system)" in rej[0]["detail"]


def test_a_template_refusing_one_conversation_rejects_that_row(tmp_path):
    # as Mistral-style templates do when roles do not alternate
    strict = (
        "{%- for m in messages %}{%- if m['role'] == 'system' %}{{- raise_exception('no system role') }}"
        "{%- endif %}{{- '<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>\\n' }}{%- endfor %}"
    )
    paths = setup(tmp_path)
    m = render.run(params(template=strict, max_audit_failure_share=0.2), paths)
    assert m["dropped"]["template_mismatch"] == 1 and m["rows_out"] == 9
    rej = pq.read_table(Path(paths.rendered) / "rejects.parquet").to_pylist()
    assert "failed to render: TemplateError: no system role" in rej[0]["detail"]


def test_audit_catches_a_token_straddling_template_and_answer(tmp_path):
    # "[/INST] " + answer: byte-level BPE merges the space into the answer's first word
    straddle = (
        "{%- for m in messages %}{%- if m['role'] == 'user' %}{{- '[INST] ' + m['content'] + ' [/INST] ' }}"
        "{%- else %}{{- m['content'] + '<|im_end|>' }}{%- endif %}{%- endfor %}"
    )
    paths = setup(tmp_path)
    with pytest.raises(StageError, match="trained tokens decode to"):
        render.run(params(template=straddle), paths)


def test_unsafe_and_broken_templates_are_named(tmp_path):
    paths = setup(tmp_path)
    with pytest.raises(StageError, match="chat template 'inline' is unsafe"):
        render.run(params(template="{{ messages.__class__.__mro__ }}"), paths)
    with pytest.raises(StageError, match="chat template 'inline' does not compile"):
        render.run(params(template="{% for m in messages %}"), paths)
    with pytest.raises(ValueError, match="unknown template 'chatmll'"):
        params(template="chatmll")


def test_template_from_tokenizer(tmp_path):
    paths = setup(tmp_path, template="llama3")
    m = render.run(params(template="tokenizer"), paths)
    assert m["mask_audit"]["failed_rows"] == 0
    assert _read(paths)[0]["input_ids"][0] == tokenizer("llama3").bos_token_id


def test_packing_keeps_examples_apart(tmp_path):
    paths = setup(tmp_path)
    m = render.run(params(packing=True, max_length=64), paths)
    rows = {r["id"]: r for r in _read(paths)}
    packed = pq.read_table(Path(paths.rendered) / "packed" / "train.parquet").to_pylist()
    assert sorted(i for p in packed for i in p["ids"]) == sorted(rows)
    for p in packed:
        assert sum(p["seq_lens"]) == len(p["input_ids"]) <= 64
        assert p["input_ids"] == [t for i in p["ids"] for t in rows[i]["input_ids"]]
        assert p["position_ids"] == [k for n in p["seq_lens"] for k in range(n)]
    eff = m["packing"]["train"]["efficiency"]
    assert eff == round(sum(r["length"] for r in rows.values()) / (len(packed) * 64), 6)


def test_tokenizer_stage_trains_on_train_only_and_is_byte_stable(tmp_path):
    from schemas.render import TokenizerParams, TokenizerPaths
    from stages import tokenizer as tokenizer_stage

    paths = setup(tmp_path)
    digests = []
    for k in range(2):
        tp = TokenizerPaths(train=str(Path(paths.split) / "train.parquet"), tokenizer=str(tmp_path / f"t{k}"))
        m = tokenizer_stage.run(TokenizerParams(vocab_size=300, min_frequency=1), tp)
        digests.append(
            {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted((tmp_path / f"t{k}").iterdir())}
        )
    assert digests[0] == digests[1] and "tokenizer.json" in digests[0]
    assert m["rows_in"] == 6 and m["vocab_size"] == 300
    paths.tokenizer = str(tmp_path / "t0")
    assert render.run(params(), paths)["mask_audit"]["failed_rows"] == 0


def test_template_record_and_weighted_packing(tmp_path):
    import json

    paths = setup(tmp_path, template="llama3")
    render.run(params(template="llama3", packing=True, max_length=64, prompt_loss_weight=0.2), paths)
    record = json.loads((Path(paths.rendered) / "template.json").read_text())
    assert record["name"] == "llama3" and record["end_of_turn"] == ["<|eot_id|>"]
    assert record["bos_token"] == "<|begin_of_text|>" and record["add_special_tokens"] is False
    packed = pq.read_table(Path(paths.rendered) / "packed" / "train.parquet").to_pylist()
    assert all(len(p["weights"]) == len(p["input_ids"]) for p in packed)


@pytest.mark.parametrize("template", ["chatml", "llama3"])
def test_mask_audit_passes_on_the_bundled_sample(tmp_path, template):
    import json

    from stages.lib.render.tokenizer import train_chat_tokenizer
    from tests.render_helpers import rows, write_split

    sample = Path(__file__).resolve().parents[2] / "sft" / "data" / "sample"
    convs = [json.loads(x)["messages"] for x in (sample / "wordnet_chat.jsonl").read_text().splitlines()]
    for x in (sample / "sms_spam_alpaca.jsonl").read_text().splitlines():
        r = json.loads(x)
        convs.append(conv(("user", f"{r['instruction']}\n\n{r['input']}"), ("assistant", r["output"])))
    texts = [m["content"] for c in convs for m in c]
    train_chat_tokenizer(
        texts, vocab_size=1000, min_frequency=2, template=template, model_max_length=512
    ).save_pretrained(tmp_path / "tok")
    write_split(tmp_path / "split", rows(convs))
    paths = setup(tmp_path / "unused")
    paths.split, paths.tokenizer = str(tmp_path / "split"), str(tmp_path / "tok")
    m = render.run(params(template=template, packing=True), paths)
    assert m["rows_in"] == m["rows_out"] == 1600
    assert m["mask_audit"]["failed_rows"] == 0 and m["mask_audit"]["turns_without_end_of_turn"] == 0
    assert m["mask_audit"]["bos_doubled_rows"] == 0 and m["packing"]["train"]["efficiency"] > 0.95
