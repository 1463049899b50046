"""monitor: a batch of new text against the training data."""
