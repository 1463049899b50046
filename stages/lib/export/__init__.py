"""Hand prepared data to any trainer: Hugging Face DatasetDicts with a dataset card, and the JSONL formats that
TRL, axolotl and LLaMA-Factory read (used by both task families)."""
