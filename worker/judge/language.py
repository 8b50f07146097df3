"""Chooses the reply language of a mail from frequent-word counts (rules/languages.yaml)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from worker.judge.rules.schema import LanguageFile

_WORD = re.compile(r"[^\W\d_]+")
# Counting the first few hundred words is enough to tell languages apart.
MAX_WORDS = 400
# Below this many known words, the sender's own text alone is too little to go by.
MIN_WORDS = 5


@dataclass(frozen=True)
class LanguageGuess:
    """The reply language, the language that scored best, and the counts behind it."""

    reply: str
    best: str
    counts: dict[str, int]


class LanguageDetector:
    """Scores normalised text against per-language word lists."""

    def __init__(self, spec: LanguageFile) -> None:
        self.spec = spec
        self.words = {lang: frozenset(words) for lang, words in spec.words.items()}

    def guess_mail(self, own: str, rest: str, sender: str) -> LanguageGuess:
        """The language of what the sender wrote; with too few words, also what they quote or
        forward; with none at all, the country of the sender's domain."""
        guess = self.guess(own)
        if sum(guess.counts.values()) < MIN_WORDS:
            guess = self.guess(f"{own} {rest}")
        if not any(guess.counts.values()):
            country = sender.rpartition(".")[2]
            tld_language = self.spec.country_domains.get(country)
            if tld_language:
                reply = tld_language if tld_language in self.spec.reply_languages else guess.reply
                return LanguageGuess(reply, tld_language, guess.counts)
        return guess

    def guess(self, normalised: str) -> LanguageGuess:
        """The language whose frequent words occur most; replies fall back when it has none."""
        tokens = _WORD.findall(normalised)[:MAX_WORDS]
        counts = {lang: sum(1 for t in tokens if t in words) for lang, words in self.words.items()}
        best = max(counts, key=lambda lang: counts[lang]) if counts else self.spec.fallback
        if not counts or counts[best] == 0:
            best = self.spec.fallback
        reply = best if best in self.spec.reply_languages else self.spec.fallback
        return LanguageGuess(reply, best, counts)
