"""Loads and validates everything in rules/ into one immutable RuleSet."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from worker.errors import RulesError
from worker.judge.rules.headers import HeaderRule
from worker.judge.rules.phrases import NegationCheck, PhraseRule
from worker.judge.rules.prefilter import RuleGate
from worker.judge.rules.schema import (
    HeaderFile,
    IdDocumentFile,
    LanguageFile,
    PhraseFile,
    PolicyFile,
    ScanWords,
    StructureFile,
)
from worker.judge.zones import StructureMarkers, compile_markers
from worker.yamlfile import line_of, load_model, load_yaml, validate

# The rules that ship with the source tree: the default when no --rules is given.
DEFAULT_RULES_DIR = Path(__file__).resolve().parents[3] / "rules"


@dataclass(frozen=True)
class RuleSet:
    """All classification knowledge, compiled: phrase rules, header rules, policy and word lists."""

    directory: Path
    policy: PolicyFile
    phrases: tuple[PhraseRule, ...]
    headers: tuple[HeaderRule, ...]
    negation: NegationCheck
    markers: StructureMarkers
    languages: LanguageFile
    id_filename: re.Pattern[str]
    id_types: frozenset[str]
    id_extensions: tuple[str, ...]
    id_scan: ScanWords
    gate: RuleGate


def load_rules(directory: Path | None = None) -> RuleSet:
    """Reads rules/ and checks it whole; any problem raises RulesError naming file and line."""
    directory = directory or DEFAULT_RULES_DIR
    if not directory.is_dir():
        raise RulesError(str(directory), None, "rules directory not found")
    policy = load_model(PolicyFile, directory / "policy.yaml")
    structure = load_model(StructureFile, directory / "structure.yaml")
    ids = load_model(IdDocumentFile, directory / "id_documents.yaml")
    seen: dict[str, str] = {}
    phrases = _load_phrases(directory / "phrases", policy, seen)
    headers = _load_headers(directory / "auto.yaml", seen)
    return RuleSet(
        directory=directory,
        policy=policy,
        phrases=phrases,
        headers=headers,
        negation=NegationCheck.from_spec(policy.negation),
        markers=compile_markers(
            structure.reply_headers, structure.forward_markers, structure.signature_starts
        ),
        languages=load_model(LanguageFile, directory / "languages.yaml"),
        id_filename=re.compile("|".join(f"(?:{p})" for p in ids.filename_patterns), re.IGNORECASE),
        id_types=frozenset(t.lower() for t in ids.document_types),
        id_extensions=tuple(e.lower() for e in ids.extensions),
        id_scan=ids.scan,
        gate=RuleGate([rule.patterns for rule in phrases]),
    )


def _load_phrases(folder: Path, policy: PolicyFile, seen: dict[str, str]) -> tuple[PhraseRule, ...]:
    files = sorted(folder.glob("*.yaml"))
    if not files:
        raise RulesError(str(folder), None, "no phrase rule files (*.yaml) found")
    rules: list[PhraseRule] = []
    for path in files:
        data = load_yaml(path)
        parsed = validate(PhraseFile, data, path)
        for index, spec in enumerate(parsed.rules):
            _claim(seen, spec.name, path, line_of(data, ["rules", index, "name"]))
            if spec.target not in policy.targets:
                line = line_of(data, ["rules", index, "target"])
                known = ", ".join(sorted(policy.targets))
                raise RulesError(
                    str(path),
                    line,
                    f"rule {spec.name}: unknown target {spec.target!r} (known: {known})",
                )
            rules.append(PhraseRule.from_spec(spec))
    return tuple(rules)


def _load_headers(path: Path, seen: dict[str, str]) -> tuple[HeaderRule, ...]:
    data = load_yaml(path)
    parsed = validate(HeaderFile, data, path)
    for index, spec in enumerate(parsed.rules):
        _claim(seen, spec.name, path, line_of(data, ["rules", index, "name"]))
    return tuple(HeaderRule.from_spec(spec) for spec in parsed.rules)


def _claim(seen: dict[str, str], name: str, path: Path, line: int | None) -> None:
    """Rule names are unique across all files: reasons and stored hits refer to them."""
    where = f"{path}:{line}"
    if name in seen:
        raise RulesError(str(path), line, f"rule name {name!r} is already used at {seen[name]}")
    seen[name] = where
