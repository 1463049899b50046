"""Opening WordNet for EDA: NLTK's reader as shipped vs the reader without the OMW version mapping.

NLTK's WordNetCorpusReader builds a WordNet-version map for its multilingual data
on opening, which needs `index.sense` (Debian's wordnet-sense-index package, not in
wordnet-base) and dominates the opening time. stages/lib/text/wordnet.py skips it.
Run: pytest benchmarks/bench_wordnet.py --benchmark-only
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import pytest

from stages.lib.text.wordnet import DEBIAN_WORDNET, install_wordnet, load_wordnet

SENSE_INDEX = DEBIAN_WORDNET / "index.sense"


@pytest.fixture(scope="module")
def nltk_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not SENSE_INDEX.is_file():
        pytest.skip("needs /usr/share/wordnet with index.sense (apt-get install wordnet-base wordnet-sense-index)")
    folder = tmp_path_factory.mktemp("nltk_data")
    install_wordnet(DEBIAN_WORDNET, folder)
    shutil.copyfile(SENSE_INDEX, folder / "corpora" / "wordnet" / "index.sense")
    return folder


def test_nltk_reader_as_shipped(benchmark, nltk_data: Path) -> None:
    import nltk
    from nltk.corpus.reader.wordnet import WordNetCorpusReader

    load_wordnet(str(nltk_data))  # puts the folder on nltk.data.path, as the stage does
    root = nltk.data.find("corpora/wordnet", paths=[str(nltk_data.resolve())])

    def open_reader() -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            WordNetCorpusReader(root, None)

    benchmark.pedantic(open_reader, rounds=3, iterations=1)


def test_reader_without_omw_mapping(benchmark, nltk_data: Path) -> None:
    def open_reader() -> None:
        load_wordnet.cache_clear()
        load_wordnet(str(nltk_data))

    benchmark.pedantic(open_reader, rounds=3, iterations=1)
