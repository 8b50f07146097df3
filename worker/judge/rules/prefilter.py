"""Finds the literal words a regex match must contain, so a rule can skip text lacking them.

Python's re tries every alternative at every position; one Aho-Corasick pass over the text finding
all literals of all rules is many times cheaper. The analysis is sound: a pattern is skipped only
when a part it cannot match without is absent, and it answers None (always run) when unsure.
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
# Past this many alternatives a pattern's prefixes are not worth enumerating (and could explode:
# twenty optional groups in a row make a million).
MAX_LITERALS = 64


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
        if not after or len(after) > MAX_LITERALS:
            return {head}
        return {head + tail for tail in after}
    if index == len(items):
        return None
    op, av = items[index]
    if op in (sre.MAX_REPEAT, sre.MIN_REPEAT) and av[0] == 0:
        # An optional part at the start: the match starts with it, or with what follows. When
        # it may repeat, only its own start is certain ("(?:re)*send" matches "reresend").
        first = list(av[2]) + items[index + 1 :] if av[1] == 1 else list(av[2])
        with_it, without = _sequence(first), _sequence(items[index + 1 :])
        if with_it is None or without is None or len(with_it) + len(without) > MAX_LITERALS:
            return None
        return with_it | without
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
        if found is None or len(result) + len(found) > MAX_LITERALS:
            return None
        result |= found
    return result


def requirements(pattern: str) -> tuple[frozenset[str], ...] | None:
    """Sets of literals such that a match holds one literal of every set; None if none known.

    Each set comes from one mandatory part of the pattern's top level: a literal run, a group or
    alternation (the words its match starts with), or a repeat that must occur at least once.
    """
    try:
        items = list(sre_parse.parse(pattern))
    except re.error:
        return None
    found: list[frozenset[str]] = []
    index = 0
    while index < len(items):
        op, av = items[index]
        if op == sre.LITERAL:
            end = index
            while end < len(items) and items[end][0] == sre.LITERAL:
                end += 1
            words = {"".join(chr(item[1]) for item in items[index:end])}
            index = end
        else:
            body = list(av[2]) if op in (sre.MAX_REPEAT, sre.MIN_REPEAT) and av[0] >= 1 else None
            mandatory = op in (sre.SUBPATTERN, sre.BRANCH) or body is not None
            words = (
                (_sequence(body if body is not None else [items[index]]) or set())
                if mandatory
                else set()
            )
            index += 1
        # A one-letter literal is in every text: it filters nothing.
        if words and all(len(word) >= MIN_PREFIX for word in words):
            found.append(frozenset(words))
    return tuple(found) or None


class RuleGate:
    """Tells which rules can match a text, and from where: one Aho-Corasick pass finds every
    literal the rules need."""

    def __init__(self, rules: Sequence[Sequence[str]]) -> None:
        # Literal sets get ids; a pattern needs a set of ids; a rule may match when any of its
        # patterns has all its sets present. Set arithmetic keeps the per-text work in C.
        set_ids: dict[frozenset[str], int] = {}
        self.pattern_rule: list[int] = []
        self.pattern_needs: list[frozenset[int]] = []
        self.pattern_leading: list[frozenset[str] | None] = []
        always: set[int] = set()
        for rule, patterns in enumerate(rules):
            for pattern in patterns:
                needs = requirements(pattern)
                if needs is None:
                    always.add(rule)
                    continue
                ids = frozenset(set_ids.setdefault(words, len(set_ids)) for words in needs)
                self.pattern_rule.append(rule)
                self.pattern_needs.append(ids)
                self.pattern_leading.append(leading_literals(pattern))
        self.always = frozenset(always)
        self.set_patterns: list[set[int]] = [set() for _ in set_ids]
        for index, needed in enumerate(self.pattern_needs):
            for set_id in needed:
                self.set_patterns[set_id].add(index)
        word_sets: dict[str, set[int]] = {}
        for words, set_id in set_ids.items():
            for word in words:
                word_sets.setdefault(word, set()).add(set_id)
        for leading in self.pattern_leading:
            for word in leading or ():
                word_sets.setdefault(word, set())
        self.automaton = ahocorasick.Automaton()
        for word, owners in word_sets.items():
            self.automaton.add_word(word, (word, frozenset(owners)))
        self.empty = not word_sets
        if not self.empty:
            self.automaton.make_automaton()

    def candidates(self, text: str) -> list[tuple[int, int]]:
        """(rule index, position to search from), ascending by rule, for every rule whose
        patterns may match in `text`. A match cannot start before the first occurrence of the
        words its pattern starts with, so the search may skip ahead to it."""
        starts = dict.fromkeys(self.always, 0)
        if self.empty:
            return sorted(starts.items())
        first: dict[str, int] = {}
        present: set[int] = set()
        for end, (word, ids) in self.automaton.iter(text):
            if word not in first:
                first[word] = end + 1 - len(word)
                present |= ids
        touched: set[int] = set()
        for set_id in present:
            touched |= self.set_patterns[set_id]
        for pattern in touched:
            if self.pattern_needs[pattern] <= present:
                leading = self.pattern_leading[pattern]
                start = min((first[w] for w in leading if w in first), default=0) if leading else 0
                rule = self.pattern_rule[pattern]
                starts[rule] = min(start, starts.get(rule, start))
        return sorted(starts.items())
