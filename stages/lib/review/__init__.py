"""review: pick rows for annotators and export them in the annotation tools' own formats."""
