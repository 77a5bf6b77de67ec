"""``python -m allocator`` runs the command line."""

from __future__ import annotations

from allocator.cli import app

app()
