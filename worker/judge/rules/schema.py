"""The shapes of the YAML files in rules/, as pydantic models that reject what they do not know."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from worker.judge.zones import ZONES

INTENTS = (
    "inspection",
    "correction",
    "deletion",
    "objection",
    "restriction",
    "portability",
    "other",
)
ZoneName = Literal["subject", "new", "signature", "quoted", "forwarded"]
DEFAULT_ZONES: tuple[ZoneName, ...] = ("subject", "new", "quoted", "forwarded")
Name = Annotated[str, Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$", description="kebab-case")]


def check_lower_regex(pattern: str) -> str:
    """A phrase pattern: a valid regex in lower case, as the text it is matched against."""
    check_regex(pattern)
    literal = re.sub(r"\\.", "", pattern)
    if literal != literal.lower():
        raise ValueError(f"pattern {pattern!r} has capitals; text is matched in lower case")
    return pattern


# Patterns are joined into one regex per rule: inline flags, back-references and named groups
# would change meaning or fail there, so they are refused where they are written.
_UNJOINABLE = re.compile(r"\(\?[aiLmsux-]+\)|\(\?P|\\[1-9]")


def check_regex(pattern: str) -> str:
    """Compiles a pattern so that a broken regex is reported where it is written."""
    try:
        re.compile(f"(?:{pattern})|x")
    except re.error as err:
        raise ValueError(f"invalid regular expression {pattern!r}: {err}") from err
    if _UNJOINABLE.search(pattern.replace("\\\\", "")):
        raise ValueError(
            f"pattern {pattern!r}: inline flags, back-references and named groups are not allowed"
        )
    return pattern


class Strict(BaseModel):
    """Base of every rules model: unknown keys are errors, values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class PhraseRuleSpec(Strict):
    """A rule that adds weight to one target when any of its patterns occurs in a zone."""

    name: Name
    description: str = Field(min_length=3)
    target: str
    weight: float = Field(ge=-10, le=10)
    patterns: list[str] = Field(min_length=1)
    zones: list[ZoneName] = Field(default_factory=lambda: list(DEFAULT_ZONES))
    negatable: bool = True
    examples: list[str] = Field(default_factory=list, description="text the rule must fire on")
    counterexamples: list[str] = Field(
        default_factory=list, description="text it must not fire on (or only negated)"
    )

    _patterns_compile = field_validator("patterns")(
        lambda cls, v: [check_lower_regex(p) for p in v]
    )


class PhraseFile(Strict):
    """A file of phrase rules."""

    rules: list[PhraseRuleSpec]


class HeaderRuleSpec(Strict):
    """A rule that marks a message as machine-generated when a header (or the subject) matches."""

    name: Name
    description: str = Field(min_length=3)
    kind: Literal["auto-reply", "bounce", "list", "loop", "report"]
    field: str = Field(description="a header name, or one of: subject, sender, content-types, body")
    pattern: str | None = None
    unless_forwarded: bool = False
    weak: bool = False

    _pattern_compiles = field_validator("pattern")(
        lambda cls, v: v if v is None else check_regex(v)
    )


class HeaderFile(Strict):
    """A file of header rules."""

    rules: list[HeaderRuleSpec]


class TargetSpec(Strict):
    """A target that phrase rules add weight to: an intent or a signal used by the chain."""

    kind: Literal["intent", "signal"]
    description: str


class Thresholds(Strict):
    """Scores at which the chain acts."""

    intent: float = Field(gt=0, description="an intent counts as found at this score")
    confident: float = Field(gt=0, description="a category needs no review from this score")
    margin: float = Field(ge=0, description="below this lead over the runner-up, intents conflict")
    processor: float = Field(gt=0, description="processor context at which a mail is routed")
    agency_named: float = Field(
        gt=0,
        description="registry evidence from which a request is never answered as Carerix's own",
    )
    signal: float = Field(
        gt=0, description="a signal (breach, complaint ...) counts from this score"
    )


class Negation(Strict):
    """Words that, shortly before or after a phrase in the same clause, turn it around."""

    words_before: int = Field(ge=1, le=10)
    words_after: int = Field(ge=0, le=10)
    before: list[str]
    after: list[str]
    not_negations: list[str] = Field(default_factory=list)
    hedges: list[str] = Field(default_factory=list)
    not_hedges: list[str] = Field(default_factory=list)


class TenantEvidence(Strict):
    """Processor-context weight given by a tenant found in the mail, by kind of evidence."""

    carerix_host: float
    unknown_carerix_host: float
    name_in_text: float
    domain_in_text: float
    fuzzy_min_score: float = Field(ge=50, le=100)
    fuzzy_min_length: int = Field(ge=3)
    # The word just before a name written all in lower case that makes it an organisation
    # ("via flexpower", "bij werkwijs"); without one it is taken for an ordinary word.
    lowercase_name_cues: list[str] = Field(min_length=1)
    # A name right after "via", "through", "przez" ... (or before "üzerinden") says the writer
    # worked or applied through that agency: this much processor context on top of the name.
    through_name: float = 0.0
    through_before: list[str] = Field(default_factory=list)
    through_after: list[str] = Field(default_factory=list)


class PolicyFile(Strict):
    """rules/policy.yaml: targets, zone weights, thresholds, negation, tenant evidence."""

    targets: dict[str, TargetSpec]
    zones: dict[ZoneName, float]
    thresholds: Thresholds
    negation: Negation
    tenant_evidence: TenantEvidence
    legal_suffixes: list[str]
    own_domains: list[str]

    @field_validator("targets")
    @classmethod
    def _intents_declared(cls, targets: dict[str, TargetSpec]) -> dict[str, TargetSpec]:
        missing = [i for i in INTENTS if targets.get(i) is None or targets[i].kind != "intent"]
        if missing:
            raise ValueError(f"every intent must be declared with kind: intent; missing {missing}")
        return targets

    @field_validator("zones")
    @classmethod
    def _all_zones(cls, zones: dict[str, float]) -> dict[str, float]:
        missing = [z for z in ZONES if z not in zones]
        if missing:
            raise ValueError(f"a weight is needed for every zone; missing {missing}")
        return zones


class StructureFile(Strict):
    """rules/structure.yaml: how reply headers, forwards and signatures start."""

    reply_headers: list[str]
    forward_markers: list[str]
    signature_starts: list[str]

    _compile = field_validator("reply_headers", "forward_markers", "signature_starts")(
        lambda cls, v: [check_regex(p) for p in v]
    )


class LanguageFile(Strict):
    """rules/languages.yaml: frequent words per language, and the languages replies exist in."""

    reply_languages: list[Literal["nl", "en"]] = Field(min_length=1)
    fallback: Literal["nl", "en"]
    words: dict[str, list[str]]
    country_domains: dict[str, str] = Field(default_factory=dict)


class ScanWords(Strict):
    """The `scan` section of rules/id_documents.yaml: labels and words read on a page."""

    bsn_labels: list[str] = Field(min_length=1)
    bsn_labels_on_dutch_documents: list[str] = Field(default_factory=list)
    document_number_labels: list[str] = Field(min_length=1)
    document_words: list[str] = Field(min_length=1)
    dutch_words: list[str] = Field(min_length=1)
    issuer_words: list[str] = Field(default_factory=list)
    field_labels: list[str] = Field(default_factory=list)
    issue_labels: list[str] = Field(default_factory=list)
    document_number_shapes: list[str] = Field(default_factory=list)
    licence_words: list[str] = Field(default_factory=list)
    licence_number_shapes: list[str] = Field(default_factory=list)

    _compile = field_validator(
        "bsn_labels",
        "bsn_labels_on_dutch_documents",
        "document_number_labels",
        "document_words",
        "dutch_words",
        "issuer_words",
        "field_labels",
        "issue_labels",
        "document_number_shapes",
        "licence_words",
        "licence_number_shapes",
    )(lambda cls, v: [check_regex(p) for p in v])


class IdDocumentFile(Strict):
    """rules/id_documents.yaml: attachment names and types that suggest an identity document,
    and what `scan` reads on its pages."""

    filename_patterns: list[str]
    extensions: list[str] = Field(default_factory=list)
    document_types: list[str]
    scan: ScanWords

    _compile = field_validator("filename_patterns")(lambda cls, v: [check_regex(p) for p in v])
