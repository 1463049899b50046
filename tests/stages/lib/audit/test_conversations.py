"""The SFT audit's findings on hand-made conversations whose answers are known."""

from __future__ import annotations

import pytest

from schemas.clean import NearDupParams
from schemas.sft_audit import BoilerplateParams
from stages.lib.audit.conversations import (
    conflicting_answers,
    empty_and_boilerplate,
    loss_outliers,
    robust_scale,
    truncations,
    wilson,
)

# clean.prompt_near_dup as sft/params.yaml sets it
NEAR = NearDupParams(unit="char", ngram=5, lowercase=True, threshold=0.9).model_dump()
# 20 ordinary losses around 2.0 (spread 0.1)
ORDINARY = [2.0 + 0.1 * ((i * 7) % 10 - 4.5) / 4.5 for i in range(20)]


def test_a_planted_loss_outlier_is_flagged_and_nothing_else():
    ids = [f"r{i:02d}" for i in range(21)]
    found, groups = loss_outliers(ids, ["wordnet/train"] * 21, [*ORDINARY, 3.5], k=3.5, min_rows=10)
    assert [f["id"] for f in found] == ["r20"]
    assert found[0]["kind"] == "loss_outlier" and found[0]["score"] > 3.5
    assert "loss 3.50 vs wordnet/train median 2.0" in found[0]["detail"]
    assert groups["wordnet/train"]["rows"] == 21 and groups["wordnet/train"]["threshold"] < 3.5


def test_a_clean_set_flags_no_loss_outlier():
    ids = [f"r{i:02d}" for i in range(20)]
    found, _ = loss_outliers(ids, ["s"] * 20, ORDINARY, k=3.5, min_rows=10)
    assert found == []


def test_loss_outliers_are_judged_within_their_group():
    # 3.5 is ordinary for source b, an outlier in a; a small group is not scored at all
    losses = [*ORDINARY, 3.5, *(x + 1.5 for x in ORDINARY), 9.0, 1.0, 1.0, 9.0]
    groups = ["a"] * 21 + ["b"] * 21 + ["c"] * 3
    ids = [f"r{i:02d}" for i in range(len(losses))]
    found, summary = loss_outliers(ids, groups, losses, k=3.5, min_rows=10)
    assert sorted(f["id"] for f in found) == ["r20", "r41"]
    assert summary["c"]["threshold"] is None


def test_a_zero_mad_falls_back_to_the_mean_absolute_deviation():
    losses = [1.0] * 15 + [1.2, 3.0]
    assert robust_scale(__import__("numpy").asarray(losses))[1] > 0
    found, _ = loss_outliers([f"r{i:02d}" for i in range(17)], ["s"] * 17, losses, k=3.5, min_rows=10)
    assert [f["id"] for f in found] == ["r16"]
    same, _ = loss_outliers([f"r{i:02d}" for i in range(12)], ["s"] * 12, [1.0] * 12, k=3.5, min_rows=10)
    assert same == []


def test_near_duplicate_prompts_with_different_answers_conflict():
    ids = ["a", "b", "c", "d", "e", "f"]
    prompts = [
        "<|user|>\nIs this message spam?\n\nWINNER!! You have won a prize, call now to claim it!",
        "<|user|>\nIs this message spam?\n\nWINNER!! You have won a prize, call now to claim it!!",
        "<|user|>\nWhat does the noun 'bank' mean?",
        "<|user|>\nWhat does the noun 'bank' mean?",
        "<|user|>\nWhat does the adjective 'deviant' mean?",
        "<|user|>\nWhat does the adjective 'primordial' mean?",
    ]
    answers = [
        "spam",
        "ham",
        "Sloping land beside a body of water.",
        "Sloping land beside a body of water!",  # the same answer: no conflict
        "Markedly different from an accepted norm.",
        "Having existed from the beginning.",
    ]
    found = conflicting_answers(ids, prompts, answers, answer_threshold=0.5, near=NEAR)
    assert sorted(f["id"] for f in found) == ["a", "b"]
    assert all(f["kind"] == "conflicting_answer" and f["score"] == 1.0 for f in found)
    assert "prompt near-duplicate of b" in next(f for f in found if f["id"] == "a")["detail"]


def test_no_conflict_without_near_duplicate_prompts():
    prompts = ["<|user|>\nWhat does 'dog' mean?", "<|user|>\nTranslate 'chat' to English."]
    assert conflicting_answers(["a", "b"], prompts, ["A canine.", "Cat."], answer_threshold=0.5, near=NEAR) == []


def test_truncated_rows():
    rows = [
        {"id": "dropped", "dropped": "600 tokens > max_length 512 (truncation: left)"},
        {"id": "answer", "length": 512, "n_trained": 30, "full_length": 600, "full_trained": 80},
        {"id": "prompt", "length": 512, "n_trained": 80, "full_length": 640, "full_trained": 80},
        {"id": "fits", "length": 512, "n_trained": 80, "full_length": 512, "full_trained": 80},
    ]
    found = {f["id"]: f for f in truncations(rows, prompt_cut=True)}
    assert set(found) == {"dropped", "answer", "prompt"}
    assert found["dropped"]["score"] == 1.0 and "dropped by render" in found["dropped"]["detail"]
    assert found["answer"]["score"] == pytest.approx(88 / 600, abs=1e-6)
    assert found["answer"]["detail"] == "answer cut: 50 of 80 trained tokens lost"
    assert found["prompt"]["detail"].startswith("prompt cut: 128 of 640 tokens lost")
    assert {f["id"] for f in truncations(rows, prompt_cut=False)} == {"dropped", "answer"}


def test_empty_and_boilerplate_answers():
    settings = BoilerplateParams(repeated_min_prompts=3, repeated_min_words=4).model_dump()
    repeated = "Please consult the official documentation."
    turns = {
        "empty": [("<|user|>\nHi", " \n\t ")],
        "dots": [("<|user|>\nHi?", "...")],
        "ai": [("<|user|>\nWho are you?", "As an AI language model, I have no opinion.")],
        "refusal": [("<|user|>\nDo it", "I'm sorry, but I can't do that.")],
        "rep1": [("<|user|>\nHow do I install it?", repeated)],
        "rep2": [("<|user|>\nHow do I upgrade it?", repeated)],
        "rep3": [("<|user|>\nWhy does it crash?", "  please consult the OFFICIAL documentation. ")],
        "spam1": [("<|user|>\nIs this spam? a", "spam")],
        "spam2": [("<|user|>\nIs this spam? b", "spam")],
        "spam3": [("<|user|>\nIs this spam? c", "spam")],
        "second_turn": [("<|user|>\nDefine dog", "A canine."), ("<|user|>\nMore?", "")],
        "fine": [("<|user|>\nWhat does 'dog' mean?", "A member of the genus Canis.")],
    }
    found = empty_and_boilerplate(list(turns), list(turns.values()), **settings)
    kinds = {(f["id"], f["kind"]) for f in found}
    assert kinds == {
        ("empty", "empty_answer"),
        ("dots", "empty_answer"),
        ("second_turn", "empty_answer"),
        ("ai", "boilerplate"),
        ("refusal", "boilerplate"),
        ("rep1", "boilerplate"),
        ("rep2", "boilerplate"),
        ("rep3", "boilerplate"),
    }
    rep = next(f for f in found if f["id"] == "rep1")
    assert rep["score"] == pytest.approx(1 - 1 / 3, abs=1e-6) and "to 3 different prompts" in rep["detail"]
    assert "assistant turn 1" in next(f for f in found if f["id"] == "second_turn")["detail"]


def test_a_clean_set_flags_nothing():
    ids = ["a", "b", "c"]
    prompts = ["<|user|>\nWhat does 'dog' mean?", "<|user|>\nWhat does 'cat' mean?", "<|user|>\nIs it spam? x"]
    answers = ["A member of the genus Canis.", "A small domesticated feline.", "ham"]
    assert conflicting_answers(ids, prompts, answers, answer_threshold=0.5, near=NEAR) == []
    turns = [[(p, a)] for p, a in zip(prompts, answers)]
    assert empty_and_boilerplate(ids, turns, **BoilerplateParams().model_dump()) == []


def test_wilson_interval_known_values():
    assert wilson(5, 10, 0.95) == pytest.approx((0.236593, 0.763407), abs=1e-5)
    low, high = wilson(0, 10, 0.95)
    assert low == 0.0 and high == pytest.approx(0.277533, abs=1e-5)
    assert wilson(0, 0, 0.95) == (0.0, 1.0)
