"""WordNet for EDA, read offline through NLTK's own reader from a project-local NLTK data folder.

Debian's `wordnet-base` package holds the WordNet 3.0 database in /usr/share/wordnet
but not the `lexnames` file NLTK's reader opens first; `install_wordnet` copies the
files (NLTK wants real files, not links) into `<nltk_data>/corpora/wordnet` and writes
`lexnames`. The folder is then read with `nltk.data.find(..., paths=[nltk_data])`, never
through NLTK's default search path or NLTK_DATA, so which WordNet a run uses is set by
params.yaml (`paths.augment.nltk_data`).
"""

from __future__ import annotations

import functools
import hashlib
import shutil
import warnings
from pathlib import Path
from typing import Any

from stages.lib.core.errors import StageError
from stages.lib.core.io import atomic_path

DEBIAN_WORDNET = Path("/usr/share/wordnet")

# The 45 lexicographer files of WordNet 3.0 (man 5 lexnames): number, name, syntactic category.
LEXNAMES = (
    ("adj.all", 3), ("adj.pert", 3), ("adv.all", 4), ("noun.Tops", 1), ("noun.act", 1), ("noun.animal", 1),
    ("noun.artifact", 1), ("noun.attribute", 1), ("noun.body", 1), ("noun.cognition", 1),
    ("noun.communication", 1), ("noun.event", 1), ("noun.feeling", 1), ("noun.food", 1), ("noun.group", 1),
    ("noun.location", 1), ("noun.motive", 1), ("noun.object", 1), ("noun.person", 1), ("noun.phenomenon", 1),
    ("noun.plant", 1), ("noun.possession", 1), ("noun.process", 1), ("noun.quantity", 1), ("noun.relation", 1),
    ("noun.shape", 1), ("noun.state", 1), ("noun.substance", 1), ("noun.time", 1), ("verb.body", 2),
    ("verb.change", 2), ("verb.cognition", 2), ("verb.communication", 2), ("verb.competition", 2),
    ("verb.consumption", 2), ("verb.contact", 2), ("verb.creation", 2), ("verb.emotion", 2), ("verb.motion", 2),
    ("verb.perception", 2), ("verb.possession", 2), ("verb.social", 2), ("verb.stative", 2), ("verb.weather", 2),
    ("adj.ppl", 3),
)  # fmt: skip

# Files NLTK's WordNetCorpusReader reads; the rest of /usr/share/wordnet is not needed.
REQUIRED = tuple(f"{kind}.{pos}" for kind in ("data", "index") for pos in ("adj", "adv", "noun", "verb"))

# What EDA's synonym lookups make NLTK open (lexnames first, the exception lists, the index and data files).
# Only these go into the stamp: a WordNet package's other files (sents.vrb, README...) differ between
# distributions and do not change a synonym.
NLTK_READS = ("lexnames", *REQUIRED, *(f"{pos}.exc" for pos in ("adj", "adv", "noun", "verb")))
NO_WORDNET = "no WordNet installed\n"

MISSING_MESSAGE = (
    "WordNet is not installed in {folder} (EDA synonym replacement and random insertion need it). "
    "Install it with `scripts/setup_data.sh .venv/bin/python` (runs `apt-get install -y wordnet-base` and copies "
    "/usr/share/wordnet into {folder}), or run EDA without synonyms by setting alpha_sr and alpha_ri to 0."
)


def wordnet_dir(nltk_data: str | Path) -> Path:
    """Where the WordNet files live inside an NLTK data folder."""
    return Path(nltk_data) / "corpora" / "wordnet"


def install_wordnet(source: str | Path, nltk_data: str | Path) -> Path:
    """Copy a WordNet 3.0 database (e.g. Debian's /usr/share/wordnet) into `<nltk_data>/corpora/wordnet`.

    Copies every regular file (no links: NLTK's reader and DVC both want real files),
    adds `lexnames`, and replaces the folder atomically. Raises StageError when the
    source lacks one of the data or index files.
    """
    source = Path(source)
    missing = [name for name in REQUIRED if not (source / name).is_file()]
    if missing:
        raise StageError(f"{source} is not a WordNet database: {', '.join(missing)} missing")
    target = wordnet_dir(nltk_data)
    with atomic_path(target) as tmp:
        tmp.mkdir()
        for path in sorted(source.iterdir()):
            if path.is_file():
                shutil.copyfile(path, tmp / path.name)  # follows links: a real copy
        lines = "".join(f"{i:02d}\t{name}\t{pos}\n" for i, (name, pos) in enumerate(LEXNAMES))
        (tmp / "lexnames").write_text(lines)
    return target


def write_wordnet_stamp(nltk_data: str | Path, stamp: str | Path) -> Path:
    """Write `sha256sum`-style lines for the WordNet files NLTK reads, the dependency of augment and balance.

    The same WordNet version gives the same stamp on every machine, whatever else its package installs; with no
    WordNet the stamp says so, so the stages still run (EDA then fails only if it needs synonyms).
    """
    folder = wordnet_dir(nltk_data)
    lines = [
        f"{hashlib.sha256((folder / name).read_bytes()).hexdigest()}  {name}\n"
        for name in NLTK_READS
        if (folder / name).is_file()
    ]
    with atomic_path(stamp) as tmp:
        tmp.write_text("".join(lines) or NO_WORDNET)
    return Path(stamp)


@functools.lru_cache(maxsize=4)
def load_wordnet(nltk_data: str) -> Any:
    """NLTK's WordNetCorpusReader over `<nltk_data>/corpora/wordnet` (folder or NLTK's wordnet.zip).

    Raises StageError with MISSING_MESSAGE when it is not there.
    """
    import nltk
    from nltk.corpus.reader.wordnet import WordNetCorpusReader

    class EnglishWordNet(WordNetCorpusReader):
        """The reader without the WordNet-version mapping of the multilingual (OMW) data.

        That mapping needs `index.sense` (not in wordnet-base) and makes opening about
        2x slower (benchmarks/bench_wordnet.py); EDA reads English synonyms only.
        """

        def map_wn(self, version: str = "wordnet") -> None:
            return None

    folder = str(Path(nltk_data).resolve())
    # NLTK (3.9.3+) refuses to read outside nltk.data.path, so the configured folder is added to it
    if folder not in nltk.data.path:
        nltk.data.path.insert(0, folder)
    try:
        root = nltk.data.find("corpora/wordnet", paths=[folder])
    except LookupError:
        raise StageError(MISSING_MESSAGE.format(folder=wordnet_dir(nltk_data))) from None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "multilingual functions are not available": we only read English
        return EnglishWordNet(root, None)


def synonym_finder(nltk_data: str | Path) -> Any:
    """A function word -> sorted synonyms (multi-word lemmas with spaces), cached per word."""
    reader = load_wordnet(str(nltk_data))

    @functools.lru_cache(maxsize=100_000)
    def synonyms(word: str) -> tuple[str, ...]:
        found = {
            lemma.name().replace("_", " ").replace("-", " ").lower()
            for synset in reader.synsets(word)
            for lemma in synset.lemmas()
        }
        found.discard(word)
        # sorted: set order changes between processes, and the choice must not
        return tuple(sorted(s for s in found if s.replace(" ", "").isalpha()))

    return synonyms
