"""audit: out-of-fold probabilities, confident learning, outliers and conflicting duplicates."""
