"""Library code shared by the stages: I/O, hashing, logging. No stage logic here."""
