"""Text operations that write a new version of a row: EDA, character noise, masked-LM and model rewrites.

Plain functions of (words or text, counts, a `random.Random`) so each is testable
alone and deterministic: the caller seeds one Random per generated row from the
stage seed and the row, so a row's rewrite never depends on the other rows.

Hand-written rather than nlpaug/textattack: nlpaug's last release is from 2022 and
its WordNet path downloads data at run time; textattack pulls TensorFlow Hub
models. EDA and character noise are a few lines each; the model-based operations
use transformers directly.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from random import Random

from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from stages.lib.core.safety import from_pretrained

# A token is split into leading punctuation, a core and trailing punctuation: "(free!" -> "(", "free", "!"
_TOKEN = re.compile(r"^(\W*)(.*?)(\W*)$", re.DOTALL)

Synonyms = Callable[[str], Sequence[str]]


def split_token(token: str) -> tuple[str, str, str]:
    prefix, core, suffix = _TOKEN.match(token).groups()  # type: ignore[union-attr]
    return prefix, core, suffix


def is_content_word(core: str) -> bool:
    """A word worth replacing: alphabetic and not an English stop word (scikit-learn's list)."""
    return core.isalpha() and core.lower() not in ENGLISH_STOP_WORDS


def match_case(word: str, like: str) -> str:
    """`word` with the case pattern of `like` (UPPER, Title or lower)."""
    if like.isupper() and len(like) > 1:
        return word.upper()
    if like[:1].isupper():
        return word[:1].upper() + word[1:]
    return word


# ---------------------------------------------------------------- EDA (Wei & Zou 2019)


def eda_count(alpha: float, n_words: int) -> int:
    """Words changed by SR, RI and RS: max(1, int(alpha * l)), as in the paper's code."""
    return max(1, int(alpha * n_words))


def synonym_replacement(words: list[str], n: int, rng: Random, synonyms: Synonyms) -> list[str]:
    """Replace up to `n` distinct content words by a random WordNet synonym (fewer when fewer have one)."""
    out = list(words)
    order = [i for i, w in enumerate(words) if is_content_word(split_token(w)[1])]
    rng.shuffle(order)
    replaced = 0
    for i in order:
        if replaced >= n:
            break
        prefix, core, suffix = split_token(words[i])
        choices = synonyms(core.lower())
        if choices:
            out[i] = prefix + match_case(rng.choice(choices), core) + suffix
            replaced += 1
    return out


def random_insertion(words: list[str], n: int, rng: Random, synonyms: Synonyms) -> list[str]:
    """Insert `n` synonyms of random content words at random positions (none when no word has a synonym)."""
    out = list(words)
    with_synonyms = sorted({c.lower() for c in (split_token(w)[1] for w in words) if is_content_word(c)})
    with_synonyms = [w for w in with_synonyms if synonyms(w)]
    if not with_synonyms:
        return out
    for _ in range(n):
        word = rng.choice(with_synonyms)
        out.insert(rng.randint(0, len(out)), rng.choice(synonyms(word)))
    return out


def random_swap(words: list[str], n: int, rng: Random) -> list[str]:
    """Swap two random positions `n` times (rows of one word stay as they are)."""
    out = list(words)
    if len(out) < 2:
        return out
    for _ in range(n):
        i, j = rng.sample(range(len(out)), 2)
        out[i], out[j] = out[j], out[i]
    return out


def random_deletion(words: list[str], p: float, rng: Random) -> list[str]:
    """Delete each word with probability `p`; one word is always kept (a random one if all were drawn)."""
    if len(words) <= 1:
        return list(words)
    kept = [w for w in words if rng.random() >= p]
    return kept or [rng.choice(words)]


# ---------------------------------------------------------------- character noise

_KEY_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")


def _keyboard_neighbours() -> dict[str, str]:
    """QWERTY neighbours: left and right on the same row, and the touching keys of the rows above and below."""
    where = {ch: (r, c) for r, row in enumerate(_KEY_ROWS) for c, ch in enumerate(row)}
    out: dict[str, str] = {}
    for ch, (r, c) in where.items():
        # rows are staggered right by half a key: row r-1 touches columns c and c+1, row r+1 columns c-1 and c
        spots = [(r, c - 1), (r, c + 1), (r - 1, c), (r - 1, c + 1), (r + 1, c - 1), (r + 1, c)]
        out[ch] = "".join(sorted(_KEY_ROWS[rr][cc] for rr, cc in spots if 0 <= rr < 3 and 0 <= cc < len(_KEY_ROWS[rr])))
    return out


KEYBOARD_NEIGHBOURS = _keyboard_neighbours()


def char_noise_count(rate: float, n_letters: int) -> int:
    """Letters edited in a row of `n_letters` letters: max(1, round(rate * n)), never more than there are."""
    return min(n_letters, max(1, round(rate * n_letters)))


def char_noise(text: str, rate: float, actions: Sequence[str], rng: Random) -> str:
    """Edit `char_noise_count(rate, letters)` distinct letters, each by one of `actions`.

    'typo' puts a QWERTY neighbour (same case) in place of the letter, 'swap' swaps it
    with the next character, 'delete' removes it. Edits run right to left so the
    positions drawn stay valid. A letter with no neighbour key (é, ß) gets deleted
    instead of typo'd.
    """
    letters = [i for i, ch in enumerate(text) if ch.isalpha()]
    if not letters:
        return text
    positions = sorted(rng.sample(letters, char_noise_count(rate, len(letters))), reverse=True)
    chars = list(text)
    for i in positions:
        action = rng.choice(list(actions))
        ch = chars[i]
        if action == "typo":
            near = KEYBOARD_NEIGHBOURS.get(ch.lower())
            if near:
                new = rng.choice(near)
                chars[i] = new.upper() if ch.isupper() else new
                continue
            action = "delete"
        if action == "swap" and i + 1 < len(chars) and chars[i + 1] != ch:
            chars[i], chars[i + 1] = chars[i + 1], ch
        elif action == "swap" and i > 0 and chars[i - 1] != ch:
            chars[i - 1], chars[i] = ch, chars[i - 1]
        else:
            del chars[i]
    return "".join(chars)


# ---------------------------------------------------------------- masked-LM substitution


class MaskedLMSubstituter:
    """Masks a share of the content words of each row and puts one of the model's top-k words there.

    All chosen words of a row are masked at once and filled in one forward pass;
    only predictions that are a whole alphabetic word (not a subword piece, not the
    original word) count toward the top k.
    """

    def __init__(self, model_path: str, top_k: int, max_length: int, batch_size: int):
        import torch
        from transformers import AutoModelForMaskedLM, AutoTokenizer

        self.torch = torch
        self.tokenizer = AutoTokenizer.from_pretrained(model_path)
        if self.tokenizer.mask_token is None:
            raise ValueError(f"the tokenizer in {model_path} has no mask token: it is not a masked LM")
        self.model = from_pretrained(AutoModelForMaskedLM, model_path).eval()
        self.top_k = top_k
        self.max_length = max_length
        self.batch_size = batch_size
        self._word_ids = self._whole_word_ids()

    def _whole_word_ids(self) -> list[tuple[int, str]]:
        """(token id, word) for every vocabulary entry that is a whole alphabetic word."""
        vocab = self.tokenizer.get_vocab()
        # byte-level BPE marks a word start with Ġ, SentencePiece with ▁; WordPiece marks continuations with ##
        marker = next((m for m in ("Ġ", "▁") if any(t.startswith(m) for t in vocab)), "")
        special = set(self.tokenizer.all_special_ids)
        out = []
        for token, idx in vocab.items():
            if idx in special:
                continue
            if marker:
                if not token.startswith(marker):
                    continue
                word = token[len(marker) :]
            else:
                if token.startswith("##"):
                    continue
                word = token
            if len(word) > 1 and word.isalpha():
                out.append((idx, word))
        return sorted(out)

    def substitute(self, texts: Sequence[str], rngs: Sequence[Random], rate: float) -> list[str]:
        """One rewrite per text; a text with no content word comes back unchanged."""
        torch = self.torch
        plans: list[tuple[list[str], list[int]]] = []
        for text, rng in zip(texts, rngs):
            words = text.split()
            content = [i for i, w in enumerate(words) if is_content_word(split_token(w)[1])]
            k = min(len(content), max(1, round(rate * len(content)))) if content else 0
            plans.append((words, sorted(rng.sample(content, k))))
        allowed = torch.tensor([i for i, _ in self._word_ids])
        allowed_words = [w for _, w in self._word_ids]
        out: list[str] = []
        for start in range(0, len(plans), self.batch_size):
            batch = plans[start : start + self.batch_size]
            masked = []
            for words, chosen in batch:
                ws = list(words)
                for i in chosen:
                    prefix, _, suffix = split_token(ws[i])
                    ws[i] = prefix + self.tokenizer.mask_token + suffix
                masked.append(" ".join(ws))
            enc = self.tokenizer(masked, return_tensors="pt", padding=True, truncation=True, max_length=self.max_length)
            with torch.no_grad():
                logits = self.model(**enc).logits
            for b, (words, chosen) in enumerate(batch):
                rng = rngs[start + b]
                mask_rows = (enc["input_ids"][b] == self.tokenizer.mask_token_id).nonzero().flatten().tolist()
                ws = list(words)
                # masks past max_length were truncated away: those words stay as they were
                for i, pos in zip(chosen, mask_rows):
                    prefix, core, suffix = split_token(words[i])
                    scores = logits[b, pos, allowed]
                    order = torch.argsort(scores, descending=True, stable=True).tolist()
                    picks = []
                    for j in order:
                        if allowed_words[j].lower() != core.lower():
                            picks.append(allowed_words[j])
                            if len(picks) == self.top_k:
                                break
                    if picks:
                        ws[i] = prefix + match_case(rng.choice(picks), core) + suffix
                out.append(" ".join(ws) if ws != words else texts[start + b])
        return out


# ---------------------------------------------------------------- paraphrase / back-translation


class TextGenerator:
    """Rewrites texts with a local seq2seq or causal LM (`config.is_encoder_decoder` decides which)."""

    def __init__(
        self, model_path: str, max_new_tokens: int, sample: bool, temperature: float, top_p: float, batch_size: int
    ):
        import torch
        from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer

        self.torch = torch
        self.seq2seq = bool(getattr(AutoConfig.from_pretrained(model_path), "is_encoder_decoder", False))
        self.tokenizer = AutoTokenizer.from_pretrained(model_path)
        if not self.seq2seq:
            self.tokenizer.padding_side = "left"  # generation continues after the prompt, so pad before it
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        cls = AutoModelForSeq2SeqLM if self.seq2seq else AutoModelForCausalLM
        self.model = from_pretrained(cls, model_path).eval()
        self.kwargs = {
            "max_new_tokens": max_new_tokens,
            "do_sample": sample,
            "pad_token_id": self.tokenizer.pad_token_id,
        }
        if sample:
            self.kwargs |= {"temperature": temperature, "top_p": top_p}
        self.batch_size = batch_size

    def generate(self, prompts: Sequence[str], seeds: Sequence[int]) -> list[str]:
        """One output per prompt; each batch is seeded with the seed of its first prompt."""
        torch = self.torch
        out: list[str] = []
        for start in range(0, len(prompts), self.batch_size):
            batch = list(prompts[start : start + self.batch_size])
            torch.manual_seed(seeds[start])
            enc = self.tokenizer(batch, return_tensors="pt", padding=True, truncation=True)
            with torch.no_grad():
                ids = self.model.generate(**enc, **self.kwargs)
            if not self.seq2seq:
                ids = ids[:, enc["input_ids"].shape[1] :]
            out.extend(t.strip() for t in self.tokenizer.batch_decode(ids, skip_special_tokens=True))
        return out
