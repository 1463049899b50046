"""Library code the stages share, one folder per domain (core, text, ingest, clean, model, ...): the logic
behind every stage. Stage files only orchestrate."""
