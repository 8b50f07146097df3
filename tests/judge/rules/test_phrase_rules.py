"""Every phrase rule fires on its own examples and stays quiet on its counterexamples.

The examples live next to the patterns in rules/phrases/*.yaml, so privacy staff who change a
rule see at once what it is meant to catch, and this test keeps the two in step.
"""

from __future__ import annotations

import pytest

from worker.judge.rules import DEFAULT_RULES_DIR, RuleSet, load_rules
from worker.judge.rules.phrases import PhraseRule
from worker.judge.rules.schema import PhraseFile
from worker.judge.zones import normalize
from worker.yamlfile import load_model

SPECS = [
    spec
    for path in sorted((DEFAULT_RULES_DIR / "phrases").glob("*.yaml"))
    for spec in load_model(PhraseFile, path).rules
]
RULES = {rule.name: rule for rule in load_rules().phrases}


def fire(rule: PhraseRule, rules: RuleSet, text: str) -> bool:
    hit = rule.check("new", normalize(text), 1.0, rules.negation)
    return hit is not None and not hit.negated


@pytest.mark.parametrize("spec", SPECS, ids=[s.name for s in SPECS])
def test_rule_fires_on_its_examples(rules: RuleSet, spec: object) -> None:
    rule = RULES[spec.name]  # type: ignore[attr-defined]
    assert spec.examples, f"{spec.name} has no examples"  # type: ignore[attr-defined]
    for example in spec.examples:  # type: ignore[attr-defined]
        assert fire(rule, rules, example), f"{rule.name} misses its example {example!r}"
    for counter in spec.counterexamples:  # type: ignore[attr-defined]
        assert not fire(rule, rules, counter), f"{rule.name} fires on {counter!r}"


def test_hit_reason_names_rule_snippet_zone_and_weight(rules: RuleSet) -> None:
    hit = RULES["nl-deletion-request"].check(
        "new", normalize("Verwijder mijn gegevens."), 1.0, rules.negation
    )
    assert hit is not None
    assert (
        hit.reason()
        == "nl-deletion-request: \u201cverwijder mijn gegevens\u201d in new (+3.0 deletion)"
    )


def test_negated_hit_says_so(rules: RuleSet) -> None:
    hit = RULES["nl-deletion-request"].check(
        "new", normalize("Verwijder mijn gegevens niet."), 1.0, rules.negation
    )
    assert hit is not None and hit.negated
    assert "negated" in hit.reason() and "(ignored)" in hit.reason()


def test_conditional_phrase_counts_half(rules: RuleSet) -> None:
    hit = RULES["nl-deletion-request"].check(
        "new", normalize("Misschien wil ik later mijn gegevens verwijderen."), 1.0, rules.negation
    )
    assert hit is not None and hit.hedged and hit.score == 1.5
    assert "conditional" in hit.reason()


def test_long_digit_runs_are_masked_in_reasons(rules: RuleSet) -> None:
    hit = RULES["nl-deletion-request"].check(
        "new", normalize("verwijder 123456782 gegevens"), 1.0, rules.negation
    )
    assert hit is not None and "123456782" not in hit.reason()
