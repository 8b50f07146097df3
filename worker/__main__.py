"""Allows `python -m worker` as an alias of the `privacy-worker` command."""

from __future__ import annotations

from worker.cli import main

raise SystemExit(main())
