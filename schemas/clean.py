"""Params of the clean stage: normalisation, quality filters, PII masking, exact and near-duplicate removal."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from schemas.base import Seed, StrictModel, check_regexes


class NormalizeParams(StrictModel):
    """Text repairs, applied in this order; each can be switched off. `metrics.changed.<step>` counts rows."""

    ftfy: bool = Field(
        True,
        description="Repair mojibake and broken Unicode with ftfy (also turns stray Windows-1252 C1 controls such "
        "as \\x92 into the characters they meant). ftfy's own HTML and Unicode-form steps are left to the steps below.",
    )
    html: bool = Field(
        True,
        description="Strip HTML tags, then unescape entities (`&lt;#&gt;` becomes `<#>`); tags are stripped first so "
        "escaped text is never mistaken for a tag.",
    )
    unicode_form: Literal["NFC", "NFKC", "NFD", "NFKD"] | None = Field(
        "NFKC",
        description="Unicode normal form; NFKC folds compatibility characters (full-width, ligatures). null: off.",
    )
    control_chars: bool = Field(
        True,
        description="Remove control characters (except tab and newline) and zero-width / bidi format characters.",
    )
    whitespace: bool = Field(
        True, description="Collapse runs of spaces and tabs to one space, strip every line and the text."
    )
    keep_newlines: bool = Field(
        True,
        description="With `whitespace`: keep line breaks (at most one blank line in a row), which the repetition "
        "filter's duplicate-line rule needs; false turns every line break into a space.",
    )


class FilterParams(StrictModel):
    """Quality filters, applied in this order after normalisation; null switches a rule off.

    Each rule returns keep or a drop reason; the reason names the rule (`too_short_chars`, `language`...).
    """

    min_chars: int | None = Field(1, ge=1, description="Drop texts shorter than this many characters.")
    max_chars: int | None = Field(None, ge=1, description="Drop texts longer than this many characters.")
    min_words: int | None = Field(None, ge=1, description="Drop texts with fewer whitespace-separated words.")
    max_words: int | None = Field(None, ge=1, description="Drop texts with more whitespace-separated words.")
    languages: list[str] | None = Field(
        None,
        description="Keep only texts whose detected language (py3langid, ISO 639-1 codes such as 'en') is in this "
        "list; null: no language filter.",
    )
    min_language_confidence: float = Field(
        0.0,
        ge=0.0,
        le=1.0,
        description="With `languages`: also drop texts whose detection confidence (normalised probability) is lower.",
    )
    min_alpha_ratio: float | None = Field(
        None, ge=0.0, le=1.0, description="Drop texts whose share of alphabetic characters (of non-space) is lower."
    )
    max_symbol_ratio: float | None = Field(
        None,
        ge=0.0,
        le=1.0,
        description="Drop texts whose share of characters that are neither letters, digits nor spaces is higher.",
    )
    max_dup_line_fraction: float | None = Field(
        None, ge=0.0, le=1.0, description="Gopher: drop texts whose share of repeated lines is higher (Gopher: 0.3)."
    )
    max_top_ngram_fraction: dict[int, float] | None = Field(
        None,
        description="Gopher: {n: fraction}; drop texts where the most frequent word n-gram covers more than this share "
        "of the characters (Gopher: {2: 0.2, 3: 0.18, 4: 0.16}).",
    )
    max_dup_ngram_fraction: dict[int, float] | None = Field(
        None,
        description="Gopher: {n: fraction}; drop texts where repeated word n-grams cover more than this share of the "
        "characters (Gopher: {5: 0.15, 6: 0.14, ..., 10: 0.10}).",
    )
    repetition_min_words: int = Field(
        0,
        ge=0,
        description="Apply the repetition rules only to texts with at least this many words: in a 4-word message one "
        "repeated word is already half the text.",
    )
    deny_patterns: list[str] = Field(
        default_factory=list, description="Regexes (Python `re`, searched anywhere); a text matching any is dropped."
    )
    allow_patterns: list[str] = Field(
        default_factory=list,
        description="Regexes; when non-empty, a text must match at least one of them to be kept.",
    )

    @field_validator("deny_patterns", "allow_patterns")
    @classmethod
    def _compiles(cls, value: list[str]) -> list[str]:
        return check_regexes(value)

    @field_validator("max_top_ngram_fraction", "max_dup_ngram_fraction")
    @classmethod
    def _ngram_map(cls, value: dict[int, float] | None) -> dict[int, float] | None:
        for n, fraction in (value or {}).items():
            if n < 1 or not 0.0 <= fraction <= 1.0:
                raise ValueError(f"keys must be n >= 1 and values fractions in [0, 1]; got {n}: {fraction}")
        return value

    @model_validator(mode="after")
    def _ranges(self) -> FilterParams:
        if self.min_chars and self.max_chars and self.min_chars > self.max_chars:
            raise ValueError(f"min_chars ({self.min_chars}) must be <= max_chars ({self.max_chars})")
        if self.min_words and self.max_words and self.min_words > self.max_words:
            raise ValueError(f"min_words ({self.min_words}) must be <= max_words ({self.max_words})")
        if self.languages is not None and not self.languages:
            raise ValueError("languages is an empty list, which would drop every row; use null to switch it off")
        return self


PiiKind = Literal["email", "phone", "url", "ip", "credit_card"]


class PiiKindParams(StrictModel):
    enabled: bool = Field(description="Replace matches of this kind with `token`.")
    token: str = Field(description="What a match is replaced with.")


class PhoneParams(PiiKindParams):
    region: str | None = Field(
        None,
        description="Country whose national numbers are recognised (ISO 3166 code such as GB or US), as "
        "`phonenumbers` reads them; null = only international numbers written with +country code.",
    )

    @field_validator("region")
    @classmethod
    def _known_region(cls, value: str | None) -> str | None:
        import phonenumbers

        if value is not None and value not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"{value!r} is not a region phonenumbers knows; use an ISO 3166 code such as GB or US")
        return value


class PiiParams(StrictModel):
    """PII masking, applied after the filters and before deduplication (so masked variants dedup together)."""

    email: PiiKindParams = Field(
        default_factory=lambda: PiiKindParams(enabled=True, token="<EMAIL>"), description="E-mail addresses."
    )
    phone: PhoneParams = Field(
        default_factory=lambda: PhoneParams(enabled=True, token="<PHONE>"),
        description="Phone numbers valid in their country's numbering plan (the `phonenumbers` library): "
        "dates, times and amounts are left alone.",
    )
    url: PiiKindParams = Field(
        default_factory=lambda: PiiKindParams(enabled=False, token="<URL>"),
        description="URLs (scheme://..., www...., bare domains with a path). Off by default: in spam the domain "
        "itself is the signal, and a URL is rarely personal data.",
    )
    ip: PiiKindParams = Field(
        default_factory=lambda: PiiKindParams(enabled=True, token="<IP>"), description="IPv4 addresses."
    )
    credit_card: PiiKindParams = Field(
        default_factory=lambda: PiiKindParams(enabled=True, token="<CREDIT_CARD>"),
        description="13 to 19 digit card numbers (spaces or dashes allowed) that pass the Luhn check.",
    )


class ExactDupParams(StrictModel):
    enabled: bool = Field(True, description="Remove rows whose final text (normalised, masked) is identical.")


class NearDupParams(StrictModel):
    """MinHash + LSH over shingles of the final text; clusters formed transitively."""

    enabled: bool = Field(True, description="Remove near-duplicates.")
    unit: Literal["char", "word"] = Field(
        "char",
        description="Shingle unit. Characters suit short texts (an SMS has ~15 words; one changed word moves word "
        "3-grams far more than character 5-grams).",
    )
    ngram: int = Field(
        5, ge=1, le=64, description="Shingle length in units (at most 64: longer shingles make every text unique)."
    )
    lowercase: bool = Field(True, description="Lowercase before shingling.")
    num_perm: int = Field(
        128,
        ge=2,
        le=4096,
        description="MinHash permutations (signature length). At most 4096: memory is 8 bytes per permutation per "
        "row, and the estimate stops improving long before.",
    )
    threshold: float | None = Field(
        0.8,
        gt=0.0,
        lt=1.0,
        description="Jaccard similarity from which two texts count as near-duplicates; bands/rows are then chosen "
        "to minimise false positives + false negatives (text-dedup's optimal_param). null: give bands and rows.",
    )
    bands: int | None = Field(
        None,
        ge=1,
        le=4096,
        description="LSH bands (at most 4096), with `rows`, instead of the shape `threshold` would choose; "
        "`threshold` still "
        "drives verification. More, shorter bands raise recall.",
    )
    rows: int | None = Field(
        None, ge=1, le=4096, description="Rows per band; bands * rows must be <= num_perm (at most 4096)."
    )
    verify: bool = Field(
        True,
        description="Check every LSH candidate pair by its true Jaccard similarity and keep only pairs >= threshold, "
        "so LSH false positives are not removed. Needs `threshold`.",
    )
    seed: Seed = Field(42, description="Seed of the MinHash permutations.")

    @model_validator(mode="after")
    def _bands_or_threshold(self) -> NearDupParams:
        given = (self.bands is not None, self.rows is not None)
        if any(given) and not all(given):
            raise ValueError("give both `bands` and `rows`, or neither (then `threshold` chooses them)")
        if self.bands is None and self.threshold is None:
            raise ValueError("set `threshold` (bands/rows are then derived) or both `bands` and `rows`")
        if self.bands is not None and self.rows is not None and self.bands * self.rows > self.num_perm:
            raise ValueError(f"bands * rows = {self.bands * self.rows} exceeds num_perm = {self.num_perm}")
        if self.verify and self.threshold is None:
            raise ValueError("`verify: true` compares true Jaccard with `threshold`; set a threshold or verify: false")
        return self


class CleanParams(StrictModel):
    """Normalise, filter, mask PII, remove exact and near duplicates; every drop counted and kept in rejects."""

    normalize: NormalizeParams = Field(default_factory=NormalizeParams, description="Normalisation steps.")
    filters: FilterParams = Field(default_factory=FilterParams, description="Quality filters.")
    pii: PiiParams = Field(default_factory=PiiParams, description="PII masking per kind.")
    exact_dup: ExactDupParams = Field(default_factory=ExactDupParams, description="Exact duplicates.")
    near_dup: NearDupParams = Field(default_factory=NearDupParams, description="Near duplicates (MinHash + LSH).")
    survivor: Literal["first", "longest"] = Field(
        "first",
        description="Which row of a duplicate cluster survives: `first` = smallest id (ingest sorts by id, so this "
        "does not depend on file order); `longest` = longest cleaned text, ties to the smallest id.",
    )
    on_label_conflict: Literal["majority", "drop", "keep"] = Field(
        "majority",
        description="When rows of one cluster carry different labels: `majority` = the survivor takes the most common "
        "label (ties: the survivor's own label if tied, else the alphabetically first); `drop` = the whole cluster "
        "goes to rejects (`label_conflict`); `keep` = one survivor per label. Null labels never conflict.",
    )
    batch_size: int = Field(
        10_000,
        ge=1,
        le=10_000_000,
        description="Rows per batch; memory per worker grows with it, output row groups follow it (at most 10 million: "
        "a bigger batch only costs memory).",
    )
    num_proc: int = Field(
        2,
        ge=1,
        le=256,
        description="Worker processes for normalise/filter/mask/MinHash; the output does not depend on it (at most "
        "256: each worker holds a batch in memory).",
    )
