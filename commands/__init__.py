"""Slack-facing parts: one package per slash command, and the App Home, the digests'
buttons, the security audit's button and the status page. Each declares what the core must
know about it as a Surface; SURFACES is the table the composition root hands to the core.

SURFACES is the one list the manifest, the docs and the tests are checked against.
"""

from __future__ import annotations

from bot.surface import Surface
from commands import (
    alerts,
    backup,
    digest,
    health,
    home,
    incident,
    oncall,
    rollback,
    security,
    status,
)

SURFACES: tuple[Surface, ...] = (
    incident.SURFACE,
    oncall.SURFACE,
    health.SURFACE,
    backup.SURFACE,
    rollback.SURFACE,
    alerts.SURFACE,
    home.SURFACE,
    digest.SURFACE,
    security.SURFACE,
    status.SURFACE,
)

# The slash commands, by name.
COMMANDS = {surface.command: surface for surface in SURFACES if surface.command}
