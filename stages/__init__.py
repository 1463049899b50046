"""Refinery stages: one module per DVC stage (`python -m stages.<name>`).

Shared library code lives in `stages.lib`; stages never import each other.
"""
