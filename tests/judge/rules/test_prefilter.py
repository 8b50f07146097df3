"""The rule gate is sound: it never skips a rule, or a start position, where the rule matches."""

from __future__ import annotations

import re

import pytest

from tests.conftest import FIXTURES, REAL_WORLD
from worker.judge.mail import parse_mail
from worker.judge.rules import RuleSet
from worker.judge.rules.prefilter import RuleGate, leading_literals, requirements
from worker.judge.zones import ZONES, normalize, split_zones


def texts(rules: RuleSet) -> list[str]:
    paths = sorted((FIXTURES / "mail").glob("*.eml")) + sorted(
        (REAL_WORLD / "letters").glob("*.eml")
    )
    found = []
    for path in paths:
        mail = parse_mail(path.read_bytes())
        zones = split_zones(mail.subject, mail.text, rules.markers)
        found.extend(t for zone in ZONES if (t := normalize(zones.get(zone))))
    return found


def test_gate_never_skips_a_match_of_a_shipped_rule(rules: RuleSet) -> None:
    gate = rules.gate
    checked = 0
    for text in texts(rules):
        allowed = dict(gate.candidates(text))
        for index, rule in enumerate(rules.phrases):
            match = rule.pattern.search(text)
            if match:
                checked += 1
                assert index in allowed, f"{rule.name} skipped on {text[:80]!r}"
                assert allowed[index] <= match.start(), f"{rule.name} started too late"
    assert checked > 400


@pytest.mark.parametrize(
    ("pattern", "text"),
    [
        (r"\b(?:re)*send\b", "please reresend it"),
        (r"\bfoo(?:ba)*r\b", "a foobabar b"),
        (r"\b(?:data )?portability\b", "my data portability request"),
        (r"\b(?:gegevens|data)\b[^.]{0,20}\bverwijderen\b", "mijn data wil ik verwijderen"),
        (r"e-?mail", "my e-mail"),
        (r"\b(?:welke|wat voor) gegevens", "wat voor gegevens"),
    ],
)
def test_gate_admits_tricky_patterns(pattern: str, text: str) -> None:
    gate = RuleGate([[pattern]])
    match = re.search(pattern, text)
    assert match is not None
    [(index, start)] = gate.candidates(text)
    assert index == 0 and start <= match.start()


def test_gate_skips_a_rule_whose_required_word_is_absent() -> None:
    gate = RuleGate([[r"\b(?:gegevens|data)\b[^.]{0,20}\bverwijderen\b"], [r"\binzage\b"]])
    assert [index for index, _ in gate.candidates("graag inzage in mijn gegevens")] == [1]


def test_many_optional_groups_do_not_explode() -> None:
    pattern = "".join(f"(?:w{i} )?" for i in range(20)) + "end"
    assert leading_literals(pattern) is None
    assert requirements(pattern) == (frozenset({"end"}),)


def test_every_shipped_rule_names_a_word_the_gate_can_wait_for(rules: RuleSet) -> None:
    # A pattern with no literal to wait for ("(?:o|a) correto", "[οό]") runs on every text:
    # two such rules cost classify a fifth of its speed.
    assert [rules.phrases[i].name for i in sorted(rules.gate.always)] == []
