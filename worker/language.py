"""Chooses the reply language of a mail from frequent-word counts (rules/languages.yaml)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from worker.rules.schema import LanguageFile

_WORD = re.compile(r"[a-z']+")
# Counting the first few hundred words is enough to tell languages apart.
MAX_WORDS = 400


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

    def guess(self, normalised: str) -> LanguageGuess:
        """The language whose frequent words occur most; replies fall back when it has none."""
        tokens = _WORD.findall(normalised)[:MAX_WORDS]
        counts = {lang: sum(1 for t in tokens if t in words) for lang, words in self.words.items()}
        best = max(counts, key=lambda lang: counts[lang]) if counts else self.spec.fallback
        if not counts or counts[best] == 0:
            best = self.spec.fallback
        reply = best if best in self.spec.reply_languages else self.spec.fallback
        return LanguageGuess(reply, best, counts)
