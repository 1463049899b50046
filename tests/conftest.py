"""Fixtures shared by all tests."""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]

# datasets and transformers must never touch the network or the user's cache in tests.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")


@pytest.fixture(scope="session")
def repo_params() -> dict[str, Any]:
    """The committed params.yaml as plain data (tests copy and edit it)."""
    return yaml.safe_load((REPO / "params.yaml").read_text())


@pytest.fixture
def params_data(repo_params: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(repo_params)
