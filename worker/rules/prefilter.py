"""Finds the literal words a regex match must start with, so a rule can skip text lacking them.

Python's re tries every alternative at every position; a plain substring test per literal is many
times cheaper. The analysis is sound: it answers None (no filter) whenever it is not sure.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from re import _constants as sre  # type: ignore[attr-defined]
from re import _parser as sre_parse  # type: ignore[attr-defined]
from typing import Any

import ahocorasick

# A prefix shorter than this is found in almost every text: not worth testing.
MIN_PREFIX = 2


def leading_literals(pattern: str) -> frozenset[str] | None:
    """Literal strings one of which every match of `pattern` starts with, or None."""
    try:
        parsed = sre_parse.parse(pattern)
    except re.error:
        return None
    found = _sequence(list(parsed))
    if found is None or any(len(p) < MIN_PREFIX for p in found):
        return None
    return frozenset(found)


def _sequence(items: list[tuple[Any, Any]]) -> set[str] | None:
    index = 0
    while index < len(items) and items[index][0] == sre.AT:
        index += 1  # \b and ^ match no characters
    run = []
    while index < len(items) and items[index][0] == sre.LITERAL:
        run.append(chr(items[index][1]))
        index += 1
    if run:
        # re factors common prefixes out of alternations ("welke|wat" becomes w(?:elke|at)):
        # extend the run with what must follow it.
        after = _sequence(items[index:]) if index < len(items) else None
        head = "".join(run)
        return {head + tail for tail in after} if after else {head}
    if index == len(items):
        return None
    op, av = items[index]
    if op in (sre.MAX_REPEAT, sre.MIN_REPEAT) and av[0] == 0:
        # An optional part at the start: the match starts with it, or with what follows.
        with_it = _sequence(list(av[2]) + items[index + 1 :])
        without = _sequence(items[index + 1 :])
        return with_it | without if with_it is not None and without is not None else None
    if op == sre.SUBPATTERN:
        inner = list(av[3])
        if len(inner) == 1 and inner[0][0] == sre.BRANCH:
            return _branches(inner[0][1][1])
        return _sequence(inner)
    if op == sre.BRANCH:
        return _branches(av[1])
    return None


def _branches(branches: list[Any]) -> set[str] | None:
    result: set[str] = set()
    for branch in branches:
        found = _sequence(list(branch))
        if found is None:
            return None
        result |= found
    return result


def rule_literals(patterns: list[str]) -> frozenset[str] | None:
    """The union over a rule's patterns; None as soon as one pattern cannot be filtered."""
    result: set[str] = set()
    for pattern in patterns:
        found = leading_literals(pattern)
        if found is None:
            return None
        result |= found
    return frozenset(result)


class RuleGate:
    """Tells which rules can match a text: one Aho-Corasick pass finds every leading literal."""

    def __init__(self, literals: Sequence[frozenset[str] | None]) -> None:
        self.always = frozenset(i for i, words in enumerate(literals) if words is None)
        self.automaton = ahocorasick.Automaton()
        owners: dict[str, set[int]] = {}
        for index, words in enumerate(literals):
            for word in words or ():
                owners.setdefault(word, set()).add(index)
        for word, indexes in owners.items():
            self.automaton.add_word(word, frozenset(indexes))
        self.empty = not owners
        if not self.empty:
            self.automaton.make_automaton()

    def candidates(self, text: str) -> frozenset[int]:
        """Indexes of the rules whose patterns may match somewhere in `text`."""
        if self.empty:
            return self.always
        found: set[int] = set(self.always)
        for _, indexes in self.automaton.iter(text):
            found |= indexes
        return frozenset(found)
