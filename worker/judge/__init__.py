"""Deciding what a mail is: parsing, language, tenant, rules, ID-copy scans; no side effects."""
