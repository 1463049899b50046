"""The review gate of `make report` (scripts/report.py): no stage imports it."""
