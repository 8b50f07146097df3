"""The case store: tables, migrations, leases, housekeeping, and what is cut before keeping."""
