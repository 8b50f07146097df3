"""Reply templates load only when whole and sound: a mistake names its file before start-up."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from tests.conftest import FIXTURES
from worker.cli import main
from worker.errors import RulesError
from worker.judge.rules import DEFAULT_RULES_DIR
from worker.reply.templates import (
    KINDS,
    SUBJECT_LIMIT,
    load_templates,
    long_date,
    one_line,
    sample_values,
)


@pytest.fixture
def rules_copy(tmp_path: Path) -> Path:
    target = tmp_path / "rules"
    target.mkdir()
    shutil.copy(DEFAULT_RULES_DIR / "replies.yaml", target / "replies.yaml")
    shutil.copytree(DEFAULT_RULES_DIR / "templates", target / "templates")
    return target


def write(folder: Path, language: str, kind: str, text: str) -> Path:
    path = folder / "templates" / language / f"{kind}.txt"
    path.write_text(text, encoding="utf-8")
    return path


GOOD = "{% block subject %}Ref [{{ reference }}]{% endblock %}\n{% block body %}\nHallo.\n{% endblock %}\n"


def test_shipped_templates_load_every_kind_in_both_languages() -> None:
    templates = load_templates(DEFAULT_RULES_DIR)
    assert set(templates.compiled) == {(k, lang) for k in KINDS for lang in ("nl", "en")}
    assert templates.signature == "Privacy team Carerix"


@pytest.mark.parametrize(
    ("day", "nl", "en"),
    [
        (dt.date(2026, 12, 29), "29 december 2026", "29 December 2026"),
        (dt.date(2026, 3, 1), "1 maart 2026", "1 March 2026"),
        (dt.date(2027, 5, 15), "15 mei 2027", "15 May 2027"),
        (dt.date(2026, 10, 7), "7 oktober 2026", "7 October 2026"),
    ],
)
def test_dates_are_written_out_without_the_locale(day: dt.date, nl: str, en: str) -> None:
    assert (long_date(day, "nl"), long_date(day, "en")) == (nl, en)


def test_unknown_variable_names_file_and_line(rules_copy: Path) -> None:
    path = write(
        rules_copy,
        "nl",
        "receipt",
        "{% block subject %}[{{ reference }}]{% endblock %}\n{% block body %}\nBeste,\n\n"
        "{{ refrence }}\n{% endblock %}\n",
    )
    with pytest.raises(RulesError) as caught:
        load_templates(rules_copy)
    assert caught.value.file == str(path) and caught.value.line == 5
    assert "refrence" in caught.value.problem


def test_syntax_error_names_file_and_line(rules_copy: Path) -> None:
    path = write(
        rules_copy, "en", "ack-deletion", GOOD.replace("Hallo.", "Hi\n{% if reference %}\nno end")
    )
    with pytest.raises(RulesError) as caught:
        load_templates(rules_copy)
    assert caught.value.file == str(path) and caught.value.line is not None
    assert "template:" in caught.value.problem


def test_a_kind_missing_in_one_language_stops_loading(rules_copy: Path) -> None:
    path = rules_copy / "templates" / "en" / "id-resubmit.txt"
    path.unlink()
    with pytest.raises(RulesError) as caught:
        load_templates(rules_copy)
    assert caught.value.file == str(path) and "missing" in caught.value.problem


def test_subject_without_the_reference_is_refused(rules_copy: Path) -> None:
    # Replies join their case by the reference in the subject.
    path = write(rules_copy, "nl", "receipt", GOOD.replace("[{{ reference }}]", "Ontvangen"))
    with pytest.raises(RulesError) as caught:
        load_templates(rules_copy)
    assert caught.value.file == str(path) and "reference" in caught.value.problem


def test_a_template_without_a_body_block_is_refused(rules_copy: Path) -> None:
    path = write(rules_copy, "en", "receipt", "{% block subject %}[{{ reference }}]{% endblock %}")
    with pytest.raises(RulesError) as caught:
        load_templates(rules_copy)
    assert caught.value.file == str(path) and "block body" in caught.value.problem


def test_a_misspelt_file_name_is_refused(rules_copy: Path) -> None:
    path = write(rules_copy, "nl", "reciept", GOOD)
    with pytest.raises(RulesError) as caught:
        load_templates(rules_copy)
    assert caught.value.file == str(path) and "not a template kind" in caught.value.problem


def test_templates_cannot_reach_python_internals(rules_copy: Path) -> None:
    # Staff edit the templates; the sandbox keeps them to text.
    path = write(
        rules_copy, "nl", "receipt", GOOD.replace("Hallo.", "{{ reference.__class__.__mro__ }}")
    )
    with pytest.raises(RulesError) as caught:
        load_templates(rules_copy)
    assert caught.value.file == str(path)


def test_replies_yaml_needs_every_field_name_in_both_languages(rules_copy: Path) -> None:
    path = rules_copy / "replies.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("    photo: de pasfoto\n", ""), encoding="utf-8")
    with pytest.raises(RulesError) as caught:
        load_templates(rules_copy)
    assert caught.value.file == str(path) and "field_names.nl.photo" in caught.value.problem


def test_a_shared_piece_can_be_included(rules_copy: Path) -> None:
    (rules_copy / "templates" / "nl" / "_groet.txt").write_text("Groeten van {{ signature }}")
    write(rules_copy, "nl", "receipt", GOOD.replace("Hallo.", '{% include "nl/_groet.txt" %}'))
    templates = load_templates(rules_copy)
    rendered = templates.render("receipt", "nl", sample_values(templates, "nl"))
    assert rendered.body == "Groeten van Privacy team Carerix\n"


def test_a_subject_block_written_over_lines_renders_as_one_line(rules_copy: Path) -> None:
    write(
        rules_copy,
        "en",
        "receipt",
        GOOD.replace("Ref [{{ reference }}]", "\n  Received\r\n[{{ reference }}]\n"),
    )
    templates = load_templates(rules_copy)
    rendered = templates.render("receipt", "en", sample_values(templates, "en"))
    assert rendered.subject == "Received [PRIV-2026-000123]"


def test_subject_lines_are_one_line() -> None:
    assert one_line("Re: hallo\r\nBcc: x@example.org\u2028x\x00y", 200) == (
        "Re: hallo Bcc: x@example.org x y"
    )
    # A right-to-left override could make a subject read differently from what it holds.
    assert one_line("abc\u202edef", 200) == "abcdef"


def test_long_text_is_cut_at_a_word_with_an_ellipsis() -> None:
    cut = one_line("woord " * 100, SUBJECT_LIMIT)
    assert len(cut) <= SUBJECT_LIMIT and cut.endswith("woord…")


def test_check_rules_also_loads_the_templates(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-rules", "--tenants", str(FIXTURES / "tenants.yaml")]) == 0
    assert f"{2 * len(KINDS)} templates" in capsys.readouterr().out
