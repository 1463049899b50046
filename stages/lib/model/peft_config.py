"""The `peft` block of an adapter approach as PEFT's own config: the class it names and its keyword arguments.

A leaf module (PEFT is imported only when called): the adapter approach builds its config with it, and
schemas/approaches.py validates the block with the very same calls.
"""

from __future__ import annotations

from typing import Any


def peft_config_class(peft_type: Any) -> type | None:
    """PEFT's config class for a peft_type such as 'LORA' (case-insensitive), or None."""
    import peft

    return peft.PEFT_TYPE_TO_CONFIG_MAPPING.get(str(peft_type).upper())


def peft_kwargs(block: dict[str, Any]) -> dict[str, Any]:
    """The block as keyword arguments of its config class. The adapter wraps the backbone alone (the head is
    Refinery's), so the task type is always feature extraction."""
    return {k: v for k, v in block.items() if k != "peft_type"} | {"task_type": "FEATURE_EXTRACTION"}
