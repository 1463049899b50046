#!/usr/bin/env bash
# Data the stages read that pip does not install: WordNet 3.0 for EDA synonyms (augment, balance's synthetic).
#   scripts/setup_data.sh PYTHON [WORDNET_DIR]
# Installs Debian's wordnet-base when WORDNET_DIR (default /usr/share/wordnet) has no database, then copies the
# files (real copies: NLTK wants no links) into the NLTK data folder params.yaml names (paths.augment.nltk_data)
# and adds the `lexnames` file NLTK's reader needs; then writes the checksum stamp augment and balance depend on
# (paths.augment.wordnet_stamp). Elsewhere (macOS: `brew install wordnet`), pass the folder holding data.noun as
# WORDNET_DIR. Without WordNet the script warns and exits 0: only EDA synonym replacement and
# insertion need it, and they fail with a message saying how to install it.
set -euo pipefail
PY=${1:-python3}
SRC=${2:-/usr/share/wordnet}
cd "$(dirname "$0")/.."

if [ ! -f "$SRC/data.noun" ] && [ "$SRC" = /usr/share/wordnet ] && command -v apt-get >/dev/null 2>&1; then
  SUDO=""
  if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1; then SUDO=sudo; fi
  if [ "$(id -u)" = 0 ] || [ -n "$SUDO" ]; then
    # A failed install (no Debian mirror reachable...) is not fatal: the warning below says what is missing.
    { $SUDO apt-get update -q && $SUDO apt-get install -y -q --no-install-recommends wordnet-base; } ||
      echo "warning: could not install wordnet-base with apt-get" >&2
  fi
fi
if [ ! -f "$SRC/data.noun" ]; then
  echo "warning: no WordNet database in $SRC; EDA synonym replacement/insertion will not run." >&2
  echo "  Debian/Ubuntu: sudo apt-get install wordnet-base, then rerun $0 $PY" >&2
  echo "  elsewhere: $0 $PY /path/to/wordnet/dict (the folder holding data.noun)" >&2
fi
# The stamp (checksums of the files NLTK reads) is what augment and balance depend on in dvc.yaml.
"$PY" - "$SRC" <<'PY'
import sys
from pathlib import Path

from schemas import load_params
from stages.lib.text.wordnet import install_wordnet, write_wordnet_stamp

paths = load_params().paths.augment
if (Path(sys.argv[1]) / "data.noun").is_file():
    target = install_wordnet(sys.argv[1], paths.nltk_data)
    print(f"WordNet copied from {sys.argv[1]} to {target}")
print(f"WordNet checksums written to {write_wordnet_stamp(paths.nltk_data, paths.wordnet_stamp)}")
PY
