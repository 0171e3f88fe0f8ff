"""The public status page (built from what commanders made public), Atlassian Statuspage,
and the plan's user notices."""

from __future__ import annotations

from bot.surface import Route, Surface
from commands.status import page

SURFACE = Surface(
    routes=(
        Route("/status", ("GET", "HEAD"), page.serve),
        Route("/status.json", ("GET", "HEAD"), page.serve),
    ),
)
