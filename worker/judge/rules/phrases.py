"""The one generic rule class that every phrase rule in rules/phrases/*.yaml compiles into."""

from __future__ import annotations

import re
from dataclasses import dataclass

from worker.judge.rules.schema import Negation, PhraseRuleSpec
from worker.judge.zones import fold, normalize

_CLAUSE_END = re.compile(
    r"[.,;:!?()\[\]]| - | (?:but|maar|aber|mais|pero|and|en|und|et|y|or|of|oder|ou|o) "
)
_LONG_DIGITS = re.compile(r"\d{5,}")


@dataclass(frozen=True)
class Hit:
    """One phrase rule that fired in one zone."""

    rule: str
    target: str
    zone: str
    score: float
    snippet: str
    negated: bool
    hedged: bool = False

    def reason(self) -> str:
        """The line a privacy officer reads for this hit."""
        if self.negated:
            return f"{self.rule}: negated \u201c{self.snippet}\u201d in {self.zone} (ignored)"
        quoted = f"\u201c{self.snippet}\u201d"
        hedged = ", conditional" if self.hedged else ""
        return f"{self.rule}: {quoted} in {self.zone} ({self.score:+.1f} {self.target}{hedged})"


@dataclass(frozen=True)
class NegationCheck:
    """Looks for a negation word close to a match, inside the same clause."""

    before: re.Pattern[str]
    after: re.Pattern[str]
    not_negations: re.Pattern[str]
    hedges: re.Pattern[str]
    not_hedges: re.Pattern[str]
    words_before: int
    words_after: int

    @classmethod
    def from_spec(cls, spec: Negation) -> NegationCheck:
        def words(items: list[str]) -> re.Pattern[str]:
            body = "|".join(re.escape(normalize(w)) for w in items) or r"(?!x)x"
            return re.compile(rf"(?:^|\s)(?:{body})(?:\s|$)")

        return cls(
            words(spec.before),
            words(spec.after),
            words(spec.not_negations),
            words(spec.hedges),
            words(spec.not_hedges),
            spec.words_before,
            spec.words_after,
        )

    def negates(self, text: str, start: int, end: int) -> bool:
        """Whether the phrase at text[start:end] is negated by its neighbours or from within."""
        return self.negates_around(text, start, end) or self._holds(self.before, text[start:end])

    def negates_around(self, text: str, start: int, end: int) -> bool:
        """Whether the words just before or after text[start:end] negate it."""
        before = _clause_tail(text[max(0, start - 120) : start], self.words_before)
        after = _clause_head(text[end : end + 80], self.words_after)
        return self._holds(self.before, before) or self._holds(self.after, after)

    def _holds(self, words: re.Pattern[str], window: str) -> bool:
        # "niet alleen" or "not only" is no negation: such phrases are taken out first.
        return bool(words.search(self.not_negations.sub(" ", f" {window} ")))

    def hedged(self, text: str, start: int) -> bool:
        """Whether a conditional word stands shortly before the phrase in its clause."""
        before = _clause_tail(text[max(0, start - 120) : start], self.words_before + 2)
        # "If you could fix this" is a polite request, not a condition.
        return bool(self.hedges.search(self.not_hedges.sub(" ", f" {before} ")))


def _clause_tail(text: str, words: int) -> str:
    parts = _CLAUSE_END.split(text)
    return " ".join(parts[-1].split()[-words:]) if parts else ""


def _clause_head(text: str, words: int) -> str:
    if words == 0:
        return ""
    parts = _CLAUSE_END.split(text)
    return " ".join(parts[0].split()[:words]) if parts else ""


@dataclass(frozen=True)
class PhraseRule:
    """Adds `weight` (times the zone weight) to `target` when one of its patterns occurs."""

    name: str
    description: str
    target: str
    weight: float
    zones: tuple[str, ...]
    negatable: bool
    pattern: re.Pattern[str]
    patterns: tuple[str, ...] = ()

    @classmethod
    def from_spec(cls, spec: PhraseRuleSpec) -> PhraseRule:
        # Patterns are written against normalised text: lower case, no accents, single spaces.
        # They are compiled case-sensitively (the schema rejects capitals): IGNORECASE made
        # matching three times slower. Folding touches only non-ASCII letters, so regex escapes
        # such as \S survive it.
        patterns = [fold(p) for p in spec.patterns]
        return cls(
            spec.name,
            spec.description,
            spec.target,
            spec.weight,
            tuple(spec.zones),
            spec.negatable,
            re.compile("|".join(f"(?:{p})" for p in patterns)),
            tuple(patterns),
        )

    def denied(self, text: str, negation: NegationCheck) -> bool:
        """Whether a match in the text is negated by the words around it ("dus nog NIET
        verwijderen"); a "niet" inside a long match may belong to another clause."""
        return self.negatable and any(
            negation.negates_around(text, m.start(), m.end()) for m in self.pattern.finditer(text)
        )

    def check(
        self, zone: str, text: str, zone_weight: float, negation: NegationCheck, start: int = 0
    ) -> Hit | None:
        """The first non-negated match from `start` (the gate knows none begins earlier) in a
        zone's normalised text, else a negated one."""
        negated: Hit | None = None
        for match in self.pattern.finditer(text, start):
            snippet = _LONG_DIGITS.sub("…", match.group(0)[:80])
            if self.negatable and negation.negates(text, match.start(), match.end()):
                negated = negated or Hit(self.name, self.target, zone, 0.0, snippet, True)
                continue
            # Conditional phrasing halves the weight: it tells what may come, not what is asked.
            hedged = negation.hedged(text, match.start())
            score = self.weight * zone_weight * (0.5 if hedged else 1.0)
            return Hit(self.name, self.target, zone, score, snippet, False, hedged)
        return negated
