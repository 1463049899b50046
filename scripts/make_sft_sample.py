"""Build the bundled SFT sample (sft/data/sample/) from data already in the project: WordNet 3.0 and the SMS
Spam Collection. Deterministic: the same inputs give the same bytes.

    .venv/bin/python scripts/make_sft_sample.py [NLTK_DATA] [OUT_DIR]

- `wordnet_chat.jsonl` (OpenAI/TRL messages): for a lemma's most common sense, "What does the noun 'X' mean?"
  -> the WordNet gloss; for two thirds of them a second turn "Use it in a sentence." -> a WordNet usage example
  of that sense; one in ten starts with a system turn.
- `sms_spam_alpaca.jsonl` (alpaca): "Is this text message spam? ..." with the raw SMS as `input` and the
  collection's label (`spam` or `ham`) as `output`, the same task the classification demo solves.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from stages.lib.text.wordnet import load_wordnet  # noqa: E402

N_WORDNET = 1200
N_SMS = 400
POS_NAME = {"n": "noun", "v": "verb", "a": "adjective", "s": "adjective", "r": "adverb"}
SYSTEM = "You are a concise English dictionary. Answer in one sentence."
SMS_INSTRUCTION = "Is this message spam?"


def _key(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def _sentence(text: str) -> str:
    """WordNet writes glosses and examples in lower case without a full stop; answers read as sentences."""
    text = text.strip().strip('"').strip()
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?" else text + "."


def wordnet_conversations(nltk_data: str) -> list[dict]:
    wn = load_wordnet(nltk_data)
    candidates = []
    for pos in ("n", "v", "a", "r"):
        for lemma in sorted(set(wn.all_lemma_names(pos=pos))):
            if not lemma.isalpha() or not lemma.islower() or len(lemma) < 4:
                continue
            synset = wn.synsets(lemma, pos=pos)[0]  # the most common sense: one answer per question
            examples = [e for e in synset.examples() if lemma in e.lower().split()]
            if examples:
                candidates.append((_key("wordnet", pos, lemma), pos, lemma, synset, examples[0]))
    candidates.sort(key=lambda c: c[0])
    out = []
    for key, pos, lemma, synset, example in candidates[:N_WORDNET]:
        pick = int(key[:8], 16)
        messages = [{"role": "system", "content": SYSTEM}] if pick % 10 == 0 else []
        messages += [
            {"role": "user", "content": f"What does the {POS_NAME[pos]} '{lemma}' mean?"},
            {"role": "assistant", "content": _sentence(synset.definition())},
        ]
        if pick % 3 != 0:
            messages += [
                {"role": "user", "content": "Use it in a sentence."},
                {"role": "assistant", "content": _sentence(example)},
            ]
        out.append({"messages": messages, "wordnet_synset": synset.name()})
    out.sort(key=lambda r: r["wordnet_synset"])
    return out


def sms_instructions(collection: Path) -> list[dict]:
    rows = []
    for line in collection.read_text(encoding="utf-8").splitlines():
        label, text = line.split("\t", 1)
        rows.append((_key("sms", line), label, text))
    rows.sort()
    return [{"instruction": SMS_INSTRUCTION, "input": text, "output": label} for _, label, text in rows[:N_SMS]]


def write_jsonl(rows: list[dict], path: Path) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rows), encoding="utf-8")


def main() -> None:
    nltk_data = sys.argv[1] if len(sys.argv) > 1 else str(ROOT / ".nltk_data")
    out = Path(sys.argv[2]) if len(sys.argv) > 2 else ROOT / "sft" / "data" / "sample"
    out.mkdir(parents=True, exist_ok=True)
    write_jsonl(wordnet_conversations(nltk_data), out / "wordnet_chat.jsonl")
    write_jsonl(
        sms_instructions(ROOT / "data" / "sample" / "sms_spam_collection" / "SMSSpamCollection"),
        out / "sms_spam_alpaca.jsonl",
    )
    for name in ("wordnet_chat.jsonl", "sms_spam_alpaca.jsonl"):
        data = (out / name).read_bytes()
        rows = data.count(b"\n")
        print(f"{name}: {rows} rows, {len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()}")


if __name__ == "__main__":
    main()
