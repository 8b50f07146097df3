"""Splitting a body into new text, signature, quoted reply and forwarded mail."""

from __future__ import annotations

from worker.judge.rules import RuleSet
from worker.judge.zones import fold, normalize, split_zones


def test_dutch_reply_header_starts_the_quote(rules: RuleSet) -> None:
    body = "Graag verwijderen.\n\nOp ma 3 nov. 2026 om 10:12 schreef Carerix <x@carerix.com>:\n> nieuwsbrief\n"
    zones = split_zones("Re: nieuwsbrief", body, rules.markers)
    assert zones.new.strip() == "Graag verwijderen."
    assert "nieuwsbrief" in zones.quoted and "schreef" in zones.quoted


def test_wrapped_gmail_header_and_bottom_posting(rules: RuleSet) -> None:
    body = (
        "On Mon, 3 Nov 2026 at 10:12, Jan Jansen\n<jan@example.nl> wrote:\n> old text\n"
        "> more old text\n\nMy answer below the quote.\n"
    )
    zones = split_zones("Re: x", body, rules.markers)
    assert "old text" in zones.quoted
    assert "My answer below the quote." in zones.new
    assert "old text" not in zones.new


def test_outlook_header_block_is_a_quote(rules: RuleSet) -> None:
    body = "Zie hieronder.\n\nVan: Piet <p@example.nl>\nVerzonden: maandag 2 november 2026\nAan: privacy\n\noud\n"
    zones = split_zones("RE: vraag", body, rules.markers)
    assert zones.new.strip() == "Zie hieronder."
    assert "oud" in zones.quoted


def test_forward_marker_starts_the_forwarded_zone(rules: RuleSet) -> None:
    body = "Ter info.\n\n---------- Forwarded message ---------\nFrom: kandidaat\nDelete my data\n"
    zones = split_zones("Fwd: verzoek", body, rules.markers)
    assert "Delete my data" in zones.forwarded
    assert "Delete my data" not in zones.new


def test_signature_starts_at_the_closing(rules: RuleSet) -> None:
    body = "Verwijder mijn gegevens.\n\nMet vriendelijke groet,\nJan\nAcme Staffing | acme-staffing.nl\n"
    zones = split_zones("Verzoek", body, rules.markers)
    assert "acme-staffing.nl" in zones.signature
    assert "acme-staffing.nl" not in zones.new


def test_reply_subject_weighs_as_quoted(rules: RuleSet) -> None:
    zones = split_zones("Re: Uw verzoek tot verwijdering", "Bedankt!", rules.markers)
    assert zones.subject == ""
    assert "verwijdering" in zones.quoted


def test_fold_and_normalize() -> None:
    assert fold("Löschung ﬁ “x”") == 'Loschung ﬁ "x"'
    assert normalize("  Verwíjder\n\tmijn  GEGEVENS ") == "verwijder mijn gegevens"
