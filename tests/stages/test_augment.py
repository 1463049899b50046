"""augment stage and the text operations it runs (stages/lib/text/textops.py, augmentation.py, wordnet.py)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from random import Random

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from schemas.augment import AugmentParams
from schemas.paths import AugmentPaths
from stages.augment import run
from stages.lib.core.errors import StageError
from stages.lib.text import textops
from stages.lib.text.wordnet import DEBIAN_WORDNET, MISSING_MESSAGE, install_wordnet, synonym_finder, wordnet_dir

SPAM = [
    "Free entry to win a prize call now",
    "Your account has been selected for a cash reward",
    "Claim your free holiday voucher by texting back today",
    "Urgent you have won a guaranteed cash award",
]
HAM = [
    "Hey are we still meeting for lunch today",
    "Can you pick up some milk on the way home",
    "I will call you later tonight ok",
    "Sorry I missed your call my phone was off",
    "Happy birthday hope you have a lovely day",
    "The train is late again see you soon",
    "Did you finish the report for the meeting",
    "Thanks for dinner it was really good",
]


def write_split(folder: Path, train: list[tuple[str, str | None]], test_texts: tuple[str, ...] = ()) -> Path:
    """A split folder with the four files; validation/test/unlabeled hold a few fixed rows."""
    folder.mkdir(parents=True, exist_ok=True)
    schema = pa.schema(
        [
            ("id", pa.string()),
            ("text", pa.string()),
            ("label", pa.string()),
            ("source", pa.string()),
            ("split", pa.string()),
        ]
    )

    def table(rows: list[tuple[str, str | None]], split: str) -> pa.Table:
        return pa.Table.from_pylist(
            [
                {"id": f"{split}{i:03d}", "text": t, "label": lab, "source": "sms", "split": split}
                for i, (t, lab) in enumerate(rows)
            ],
            schema=schema,
        )

    pq.write_table(table(train, "train"), folder / "train.parquet")
    pq.write_table(
        table([("see you at noon", "ham"), *((t, "spam") for t in test_texts)], "test"), folder / "test.parquet"
    )
    pq.write_table(table([("where are you now", "ham")], "validation"), folder / "validation.parquet")
    pq.write_table(table([("some text with no label", None)], "unlabeled"), folder / "unlabeled.parquet")
    return folder


@pytest.fixture
def split_dir(tmp_path: Path) -> Path:
    return write_split(tmp_path / "split", [(t, "spam") for t in SPAM] + [(t, "ham") for t in HAM])


def wordnet_source() -> Path:
    """Debian's WordNet files, or the copy scripts/setup_data.sh made in the project; skip when neither exists."""
    for folder in (DEBIAN_WORDNET, wordnet_dir(AugmentPaths().nltk_data)):
        if (folder / "data.noun").is_file():
            return folder
    pytest.skip(f"WordNet files not installed in {DEBIAN_WORDNET}: run scripts/setup_data.sh (apt wordnet-base)")


@pytest.fixture(scope="module")
def nltk_data(tmp_path_factory: pytest.TempPathFactory) -> str:
    """An NLTK data folder built in the test from the WordNet files, as scripts/setup_data.sh builds it."""
    folder = tmp_path_factory.mktemp("nltk_data")
    install_wordnet(wordnet_source(), folder)
    return str(folder)


def params(**kw: object) -> AugmentParams:
    return AugmentParams.model_validate(kw)


def paths(tmp_path: Path, nltk_data: str | None = None) -> AugmentPaths:
    return AugmentPaths(
        dir=str(tmp_path / "augmented"),
        metrics=str(tmp_path / "m.json"),
        nltk_data=nltk_data or str(tmp_path / "no_nltk_data"),
    )


def read(tmp_path: Path, name: str = "train") -> list[dict]:
    return pq.read_table(tmp_path / "augmented" / f"{name}.parquet").to_pylist()


# ---------------------------------------------------------------- operations, one at a time


def test_eda_count_follows_the_paper() -> None:
    assert textops.eda_count(0.1, 25) == 2
    assert textops.eda_count(0.1, 5) == 1  # at least one word
    assert textops.eda_count(0.05, 100) == 5


def test_synonym_replacement_replaces_n_words_with_wordnet_synonyms(nltk_data: str) -> None:
    synonyms = synonym_finder(nltk_data)
    words = ["The", "quick", "brown", "fox", "jumps", "over", "the", "lazy", "dog", "near", "the", "river", "bank"]
    out = textops.synonym_replacement(words, 3, Random(1), synonyms)
    changed = [(a, b) for a, b in zip(words, out) if a != b]
    assert len(out) == len(words)
    assert len(changed) == 3
    for before, after in changed:
        assert after.lower() in synonyms(before.lower())
    assert out == textops.synonym_replacement(words, 3, Random(1), synonyms)
    assert any(textops.synonym_replacement(words, 3, Random(s), synonyms) != out for s in range(2, 6))


def test_synonym_replacement_keeps_punctuation_and_case(nltk_data: str) -> None:
    out = textops.synonym_replacement(["Quickly!"], 1, Random(0), synonym_finder(nltk_data))
    assert out[0].endswith("!") and out[0][0].isupper() and out[0] != "Quickly!"


def test_random_insertion_adds_n_synonyms(nltk_data: str) -> None:
    synonyms = synonym_finder(nltk_data)
    words = ["please", "call", "me", "about", "the", "prize", "money"]
    out = textops.random_insertion(words, 2, Random(3), synonyms)
    assert len(out) == len(words) + 2
    inserted = list((Counter(out) - Counter(words)).elements())
    allowed = {s for w in words for s in synonyms(w)}
    assert len(inserted) == 2 and all(w in allowed for w in inserted)


def test_random_insertion_without_synonyms_changes_nothing(nltk_data: str) -> None:
    assert textops.random_insertion(["the", "of", "xqzt"], 2, Random(0), synonym_finder(nltk_data)) == [
        "the", "of", "xqzt"]  # fmt: skip


def test_random_swap_moves_words_and_keeps_them() -> None:
    words = [f"w{i}" for i in range(20)]
    out = textops.random_swap(words, 3, Random(7))
    assert sorted(out) == sorted(words)
    moved = sum(a != b for a, b in zip(words, out))
    assert 2 <= moved <= 6  # 3 swaps move at most 6 words
    assert out == textops.random_swap(words, 3, Random(7))
    assert textops.random_swap(["one"], 3, Random(7)) == ["one"]


def test_random_deletion_deletes_at_rate_p() -> None:
    words = [f"w{i}" for i in range(2000)]
    out = textops.random_deletion(words, 0.3, Random(11))
    assert 0.27 < 1 - len(out) / len(words) < 0.33
    assert all(w in set(words) for w in out)
    assert textops.random_deletion(["solo"], 0.9, Random(0)) == ["solo"]
    assert len(textops.random_deletion(["a", "b"], 1.0, Random(0))) == 1  # never empty


LETTERS_50 = "the quick brown fox jumps over the lazy dog and then the cat naps"  # 50 letters


def test_char_noise_typos_edit_rate_times_letters_with_neighbour_keys() -> None:
    assert sum(c.isalpha() for c in LETTERS_50) == 52
    out = textops.char_noise(LETTERS_50, 0.1, ["typo"], Random(5))
    assert len(out) == len(LETTERS_50)
    diffs = [(a, b) for a, b in zip(LETTERS_50, out) if a != b]
    assert len(diffs) == textops.char_noise_count(0.1, 52) == 5
    assert all(b in textops.KEYBOARD_NEIGHBOURS[a] for a, b in diffs)


def test_char_noise_deletes_and_swaps_as_declared() -> None:
    deleted = textops.char_noise(LETTERS_50, 0.1, ["delete"], Random(5))
    assert len(deleted) == len(LETTERS_50) - 5
    swapped = textops.char_noise(LETTERS_50, 0.1, ["swap"], Random(5))
    assert sorted(swapped) == sorted(LETTERS_50) and swapped != LETTERS_50
    assert textops.char_noise(LETTERS_50, 0.1, ["typo", "swap", "delete"], Random(5)) == textops.char_noise(
        LETTERS_50, 0.1, ["typo", "swap", "delete"], Random(5)
    )
    assert textops.char_noise("1234 !!", 0.5, ["typo"], Random(0)) == "1234 !!"  # no letter, no edit


def test_keyboard_neighbours_are_adjacent_keys() -> None:
    assert textops.KEYBOARD_NEIGHBOURS["g"] == "bfhtvy"
    assert textops.KEYBOARD_NEIGHBOURS["q"] == "aw"


# ---------------------------------------------------------------- the stage


def test_stage_generates_rows_with_provenance_for_the_chosen_class(
    tmp_path: Path, split_dir: Path, nltk_data: str
) -> None:
    cfg = params(
        operations=[{"kind": "eda", "n_aug": 2}, {"kind": "char_noise", "n_aug": 1}],
        per_class={"spam": 1.0},
        default_multiplier=0.0,
    )
    metrics = run(cfg, paths(tmp_path, nltk_data), split_dir)
    rows = read(tmp_path)
    originals = {r["id"]: r for r in rows if r["origin_id"] is None}
    generated = [r for r in rows if r["origin_id"] is not None]
    assert len(originals) == len(SPAM) + len(HAM)
    assert len(generated) == metrics["generated"] == metrics["rows_out"] - metrics["rows_in"]
    assert metrics["candidates"] == len(SPAM) * 3 == metrics["generated"] + sum(metrics["dropped"].values())
    assert len({r["id"] for r in rows}) == len(rows)  # new, unique ids
    for r in generated:
        origin = originals[r["origin_id"]]
        assert r["label"] == origin["label"] == "spam"  # inherited, and only spam was augmented
        assert r["text"] != origin["text"]
        assert r["aug_op"] in {"eda_sr", "eda_ri", "eda_rs", "eda_rd", "char_noise"}
        assert r["source"] == origin["source"] and r["split"] == "train"
    assert metrics["class_counts"]["before"] == {"ham": 8, "spam": 4}
    assert metrics["class_counts"]["after"]["spam"] == 4 + len(generated)
    assert metrics["imbalance_ratio"]["before"] == 2.0
    assert metrics["operations"]["char_noise"]["candidates"] == 4
    assert ids_sorted(rows)


def ids_sorted(rows: list[dict]) -> bool:
    return [r["id"] for r in rows] == sorted(r["id"] for r in rows)


def test_eda_uses_each_technique_in_turn(tmp_path: Path, split_dir: Path, nltk_data: str) -> None:
    metrics = run(
        params(operations=[{"kind": "eda", "n_aug": 4}], per_class={"spam": 1.0}, default_multiplier=0),
        paths(tmp_path, nltk_data),
        split_dir,
    )
    tried = Counter(r["aug_op"] for r in read(tmp_path) if r["aug_op"]) + Counter(
        r["detail"].split(" ")[0] for r in pq.read_table(tmp_path / "augmented" / "rejects.parquet").to_pylist()
    )
    assert tried == {"eda_sr": 4, "eda_ri": 4, "eda_rs": 4, "eda_rd": 4}  # n_aug/4 of each, per row
    assert metrics["operations"]["eda"]["candidates"] == 16


def test_minority_multiplier_augments_every_class_but_the_largest(tmp_path: Path, split_dir: Path) -> None:
    """The class-agnostic default: the same rows as naming the minority class, without naming it."""
    ops = [{"kind": "char_noise", "n_aug": 1}]
    named = run(params(operations=ops, per_class={"spam": 1.0}, default_multiplier=0), paths(tmp_path / "a"), split_dir)
    agnostic = run(
        params(operations=ops, minority_multiplier=1.0, default_multiplier=0), paths(tmp_path / "b"), split_dir
    )
    assert named["generated"] == agnostic["generated"] > 0
    assert (tmp_path / "a/augmented/train.parquet").read_bytes() == (
        tmp_path / "b/augmented/train.parquet"
    ).read_bytes()


def test_validation_test_unlabeled_are_byte_identical(tmp_path: Path, split_dir: Path) -> None:
    run(params(operations=[{"kind": "char_noise", "n_aug": 2}]), paths(tmp_path), split_dir)
    for name in ("validation", "test", "unlabeled"):
        assert (tmp_path / "augmented" / f"{name}.parquet").read_bytes() == (split_dir / f"{name}.parquet").read_bytes()


def test_output_is_byte_deterministic_and_seed_dependent(tmp_path: Path, split_dir: Path) -> None:
    cfg = params(operations=[{"kind": "char_noise", "n_aug": 2}, {"kind": "eda", "alpha_sr": 0, "alpha_ri": 0}])
    outputs = []
    for i, seed in enumerate((1, 1, 2)):
        cfg.seed = seed
        run(cfg, AugmentPaths(dir=str(tmp_path / f"a{i}"), nltk_data=str(tmp_path)), split_dir)
        outputs.append((tmp_path / f"a{i}" / "train.parquet").read_bytes())
    assert outputs[0] == outputs[1]
    assert outputs[0] != outputs[2]


def test_fractional_multiplier_augments_that_share_of_rows(tmp_path: Path) -> None:
    split = write_split(tmp_path / "split", [(f"message number {i} about things", "ham") for i in range(200)])
    metrics = run(
        params(operations=[{"kind": "char_noise", "n_aug": 1}], default_multiplier=0.25), paths(tmp_path), split
    )
    assert 35 <= metrics["operations"]["char_noise"]["candidates"] <= 65  # 200 * 0.25 = 50 expected


def test_unchanged_duplicate_and_evaluation_rows_are_dropped_and_counted(tmp_path: Path) -> None:
    # swapping the two words of 'hello world' can only give 'world hello': 1 kept, 2 duplicates;
    # 'ok ok' cannot change; 'buy now' swaps to 'now buy', which is a test row
    split = write_split(
        tmp_path / "split", [("hello world", "a"), ("ok ok", "a"), ("buy now", "b")], test_texts=("now buy",)
    )
    cfg = params(operations=[{"kind": "eda", "n_aug": 3, "alpha_sr": 0, "alpha_ri": 0, "p_rd": 0}])
    metrics = run(cfg, paths(tmp_path), split)
    assert metrics["dropped"] == {"unchanged": 3, "duplicate": 2, "eval_overlap": 3, "max_rows": 0}
    assert metrics["generated"] == 1
    assert [r["text"] for r in read(tmp_path) if r["aug_op"]] == ["world hello"]
    rejects = pq.read_table(tmp_path / "augmented" / "rejects.parquet").to_pylist()
    assert Counter(r["reason"] for r in rejects) == {"unchanged": 3, "duplicate": 2, "eval_overlap": 3}
    assert {r["raw"] for r in rejects if r["reason"] == "eval_overlap"} == {"now buy"}
    assert all(r["stage"] == "augment" for r in rejects)


def test_max_rows_keeps_a_seeded_subset(tmp_path: Path, split_dir: Path) -> None:
    metrics = run(params(operations=[{"kind": "char_noise", "n_aug": 3}], max_rows=10), paths(tmp_path), split_dir)
    assert metrics["generated"] == 10
    assert metrics["dropped"]["max_rows"] == 36 - 10 - metrics["dropped"]["duplicate"] - metrics["dropped"]["unchanged"]
    assert metrics["operations"]["char_noise"]["kept"] == 10


def test_apply_to_all_chains_operations_in_declared_order(tmp_path: Path, split_dir: Path) -> None:
    cfg = params(
        operations=[
            {"kind": "eda", "alpha_sr": 0, "alpha_ri": 0, "p_rd": 0},
            {"kind": "char_noise", "apply_to": "all"},
        ],
        per_class={"spam": 1.0},
        default_multiplier=0,
    )
    run(cfg, paths(tmp_path), split_dir)
    rows = read(tmp_path)
    ops = Counter(r["aug_op"] for r in rows if r["aug_op"])
    assert ops == {"eda_rs": 4, "char_noise": 4, "eda_rs+char_noise": 4}
    originals = {r["id"] for r in rows if r["origin_id"] is None}
    assert all(r["origin_id"] in originals for r in rows if r["aug_op"] == "eda_rs+char_noise")


def test_per_class_label_not_in_train_is_an_error(tmp_path: Path, split_dir: Path) -> None:
    with pytest.raises(StageError, match=r"augment.per_class names labels that are not in the train split: \['sapm'\]"):
        run(params(operations=[{"kind": "char_noise"}], per_class={"sapm": 2.0}), paths(tmp_path), split_dir)


def test_missing_split_file_is_an_error(tmp_path: Path, split_dir: Path) -> None:
    (split_dir / "unlabeled.parquet").unlink()
    with pytest.raises(StageError, match=r"lacks unlabeled\.parquet"):
        run(params(), paths(tmp_path), split_dir)


def test_missing_wordnet_message_is_exact(tmp_path: Path, split_dir: Path) -> None:
    folder = tmp_path / "empty_nltk_data"
    with pytest.raises(StageError) as err:
        run(params(operations=[{"kind": "eda"}]), paths(tmp_path, str(folder)), split_dir)
    assert str(err.value) == (
        f"WordNet is not installed in {folder}/corpora/wordnet (EDA synonym replacement and random insertion "
        "need it). Install it with `scripts/setup_data.sh .venv/bin/python` (runs `apt-get install -y "
        f"wordnet-base` and copies /usr/share/wordnet into {folder}/corpora/wordnet), or run EDA without "
        "synonyms by setting alpha_sr and alpha_ri to 0."
    )
    assert str(err.value) == MISSING_MESSAGE.format(folder=folder / "corpora" / "wordnet")
    assert not (tmp_path / "augmented").exists()  # failed before writing


def test_eda_without_synonyms_needs_no_wordnet(tmp_path: Path, split_dir: Path) -> None:
    metrics = run(params(operations=[{"kind": "eda", "alpha_sr": 0, "alpha_ri": 0}]), paths(tmp_path), split_dir)
    assert metrics["generated"] > 0


def test_install_wordnet_copies_files_and_writes_lexnames(tmp_path: Path) -> None:
    target = install_wordnet(wordnet_source(), tmp_path / "nd")
    assert not any(p.is_symlink() for p in target.iterdir())
    lexnames = (target / "lexnames").read_text().splitlines()
    assert len(lexnames) == 45 and lexnames[0] == "00\tadj.all\t3" and lexnames[44] == "44\tadj.ppl\t3"
    with pytest.raises(StageError, match="is not a WordNet database"):
        install_wordnet(tmp_path, tmp_path / "other")


# ---------------------------------------------------------------- model-based operations (tiny local models)


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A byte-level BPE tokenizer trained here, and a tiny masked LM, causal LM and seq2seq model on it."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import (
        BartConfig,
        BartForConditionalGeneration,
        BertConfig,
        BertForMaskedLM,
        GPT2Config,
        GPT2LMHeadModel,
        PreTrainedTokenizerFast,
    )

    torch.manual_seed(0)
    # byte-level BPE: deterministic training (WordPiece training is not, huggingface/tokenizers#1794)
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    tok.decoder = decoders.ByteLevel()
    specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    trainer = trainers.BpeTrainer(
        vocab_size=400, min_frequency=1, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator((SPAM + HAM) * 3, trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        unk_token="<unk>",
        mask_token="<mask>",
        model_input_names=["input_ids", "attention_mask"],
    )
    ids = {
        "vocab_size": len(fast),
        "pad_token_id": fast.pad_token_id,
        "bos_token_id": fast.bos_token_id,
        "eos_token_id": fast.eos_token_id,
    }
    built = {
        "mlm": BertForMaskedLM(BertConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                          intermediate_size=64, max_position_embeddings=64, **ids)),
        "causal": GPT2LMHeadModel(GPT2Config(n_embd=32, n_layer=2, n_head=2, n_positions=128, **ids)),
        "seq2seq": BartForConditionalGeneration(BartConfig(
            d_model=32, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2, decoder_attention_heads=2,
            encoder_ffn_dim=64, decoder_ffn_dim=64, max_position_embeddings=128,
            decoder_start_token_id=fast.eos_token_id, **ids)),
    }  # fmt: skip
    root = tmp_path_factory.mktemp("models")
    out = {}
    for name, model in built.items():
        model.save_pretrained(root / name)
        fast.save_pretrained(root / name)
        out[name] = str(root / name)
    return out


def test_masked_lm_substitutes_rate_of_content_words(tiny_models: dict[str, str]) -> None:
    mlm = textops.MaskedLMSubstituter(tiny_models["mlm"], top_k=3, max_length=64, batch_size=2)
    texts = SPAM[:3]
    outs = mlm.substitute(texts, [Random(i) for i in range(3)], rate=0.5)
    for text, out in zip(texts, outs):
        words, new = text.split(), out.split()
        content = [w for w in words if textops.is_content_word(w)]
        changed = [(a, b) for a, b in zip(words, new) if a != b]
        assert len(new) == len(words)
        assert len(changed) == round(0.5 * len(content))
        assert all(textops.is_content_word(a) and b.isalpha() for a, b in changed)
    assert outs == mlm.substitute(texts, [Random(i) for i in range(3)], rate=0.5)


def test_stage_runs_masked_lm_and_paraphrase_deterministically(
    tmp_path: Path, split_dir: Path, tiny_models: dict[str, str]
) -> None:
    cfg = params(
        operations=[
            {"kind": "mlm", "model": tiny_models["mlm"], "n_aug": 2, "rate": 0.3},
            {"kind": "paraphrase", "model": tiny_models["causal"], "prompt": "paraphrase: {text}",
             "max_new_tokens": 8},
            # back-translation through a seq2seq model and back through the causal one
            {"kind": "paraphrase", "name": "back_translation", "model": tiny_models["seq2seq"],
             "back_model": tiny_models["causal"], "max_new_tokens": 8},
        ],
        per_class={"spam": 1.0}, default_multiplier=0,
    )  # fmt: skip
    first = run(cfg, paths(tmp_path), split_dir)
    data = (tmp_path / "augmented" / "train.parquet").read_bytes()
    second = run(cfg, paths(tmp_path), split_dir)
    assert first == second
    assert (tmp_path / "augmented" / "train.parquet").read_bytes() == data
    for name, n in (("mlm", 8), ("paraphrase", 4), ("back_translation", 4)):
        assert first["operations"][name]["candidates"] == n
    assert first["aug_op"].get("mlm", 0) > 0 and first["aug_op"].get("paraphrase", 0) > 0
    rows = read(tmp_path)
    assert all(r["label"] == "spam" for r in rows if r["aug_op"])


def test_missing_model_folder_is_an_error(tmp_path: Path, split_dir: Path) -> None:
    with pytest.raises(StageError, match=r"operation 'mlm': model folder models/nope does not exist"):
        run(params(operations=[{"kind": "mlm", "model": "models/nope"}]), paths(tmp_path), split_dir)


def test_a_rewrite_that_changes_no_word_is_unchanged_not_a_whitespace_variant(tmp_path: Path) -> None:
    # one word cannot be swapped: EDA must not return 'hello' (whitespace-normalised) as a new row
    split = write_split(tmp_path / "split", [("hello  \n", "a"), ("good  morning", "a")])
    cfg = params(operations=[{"kind": "eda", "n_aug": 2, "alpha_sr": 0, "alpha_ri": 0, "p_rd": 0}])
    metrics = run(cfg, paths(tmp_path), split)
    assert metrics["dropped"]["unchanged"] == 2
    assert [r["text"] for r in read(tmp_path) if r["aug_op"]] == ["morning good"]
