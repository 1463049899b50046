#!/usr/bin/env bash
# Install PyTorch into the given Python before the project, so pip never picks a build by accident:
# an unpinned `torch` on a machine without a GPU would pull a multi-GB CUDA build it cannot use.
#   - torch already importable: keep it (a user's own build wins).
#   - an NVIDIA GPU present: the default PyPI build (CUDA).
#   - otherwise: torch==$TORCH_VERSION from a local wheel if pip finds one (this project's CI machines
#     have one), else the CPU build from PyTorch's CPU index.
set -euo pipefail
PY=${1:-python3}
TORCH_VERSION=${TORCH_VERSION:-2.13.0}
if "$PY" -c "import torch" 2>/dev/null; then
  echo "torch $("$PY" -c 'import torch; print(torch.__version__)') already installed"
elif command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
  "$PY" -m pip install "torch>=2.6"
elif "$PY" -m pip install --quiet --no-deps --no-index "torch==${TORCH_VERSION}" 2>/dev/null; then
  # the wheel was found locally (pip's find-links); now its dependencies from the usual index
  "$PY" -m pip install --quiet "torch==${TORCH_VERSION}"
  echo "installed torch ${TORCH_VERSION} (CPU) from a local wheel"
else
  "$PY" -m pip install "torch==${TORCH_VERSION}" --index-url https://download.pytorch.org/whl/cpu
fi
