"""Rule files are validated at load: a mistake names its file, line and problem."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from worker.errors import RulesError
from worker.judge.rules import DEFAULT_RULES_DIR, load_rules
from worker.judge.tenants import load_registry


@pytest.fixture
def rules_copy(tmp_path: Path) -> Path:
    target = tmp_path / "rules"
    shutil.copytree(DEFAULT_RULES_DIR, target)
    return target


def add_rule(folder: Path, text: str) -> Path:
    path = folder / "phrases" / "zz-test.yaml"
    path.write_text("rules:\n" + text, encoding="utf-8")
    return path


def test_shipped_rules_load() -> None:
    rules = load_rules()
    assert len(rules.phrases) > 30 and len(rules.headers) > 20


def test_broken_regex_names_file_line_and_pattern(rules_copy: Path) -> None:
    path = add_rule(
        rules_copy,
        "  - name: broken\n    description: A test rule.\n    target: deletion\n"
        "    weight: 1\n    patterns: ['(unclosed']\n",
    )
    with pytest.raises(RulesError) as caught:
        load_rules(rules_copy)
    assert caught.value.file == str(path) and caught.value.line == 6
    assert "(unclosed" in caught.value.problem


def rule(
    name: str = "odd", target: str = "deletion", pattern: str = "x", key: str = "weight"
) -> str:
    """One phrase rule as staff would write it, with the part under test swapped in."""
    return (
        f"  - name: {name}\n    description: A test rule.\n    target: {target}\n"
        f"    {key}: 1\n    patterns: ['{pattern}']\n"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (rule(target="deletoin"), r"zz-test.yaml:4: rule odd: unknown target 'deletoin'"),
        (rule(pattern="\\bDelete\\b"), r"capitals"),
        (rule(pattern="(?x) wis"), r"global flags"),
        (rule(pattern="\\b(wis) \\1"), r"back-references"),
        (rule(key="wieght"), r"rules.0.wieght \(line 5\): Extra inputs"),
        (
            rule(name="nl-deletion-request"),
            r"zz-test.yaml:2: rule name 'nl-deletion-request' is already used at .*nl.yaml:\d+",
        ),
    ],
    ids=[
        "unknown-target",
        "capitals",
        "inline-flag",
        "back-reference",
        "unknown-key",
        "duplicate-name",
    ],
)
def test_a_bad_rule_is_refused_with_its_place(rules_copy: Path, text: str, message: str) -> None:
    add_rule(rules_copy, text)
    with pytest.raises(RulesError, match=message):
        load_rules(rules_copy)


def test_yaml_syntax_error_has_a_line(rules_copy: Path) -> None:
    (rules_copy / "policy.yaml").write_text("targets: {\n  broken: [\n", encoding="utf-8")
    with pytest.raises(RulesError) as caught:
        load_rules(rules_copy)
    assert caught.value.line is not None and "YAML syntax" in caught.value.problem


def test_registry_refuses_a_domain_owned_twice(tmp_path: Path) -> None:
    path = tmp_path / "tenants.yaml"
    tenant = (
        "  - id: {id}\n    name: {id} B.V.\n    domains: [shared.nl]\n"
        "    privacy_contact: privacy@shared.nl\n"
    )
    path.write_text(
        "tenants:\n" + tenant.format(id="one") + tenant.format(id="two"), encoding="utf-8"
    )
    with pytest.raises(RulesError, match=r"domain shared\.nl belongs to both one and two"):
        load_registry(path)


def test_registry_refuses_a_bad_contact_address(tmp_path: Path) -> None:
    path = tmp_path / "tenants.yaml"
    path.write_text(
        "tenants:\n  - id: one\n    name: One\n    privacy_contact: not-an-address\n",
        encoding="utf-8",
    )
    with pytest.raises(RulesError, match=r"tenants.yaml:4: tenants.0.privacy_contact \(line 4\)"):
        load_registry(path)
