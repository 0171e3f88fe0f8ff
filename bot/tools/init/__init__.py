"""`opsbot init`: the Slack app manifest, a commented opsbot.toml and an env file, written
for one setup (a public URL or Socket Mode), then the steps left to do in Slack.

The manifest is made from one template (MANIFEST in slack_app.py); the repository's
manifest.yml is this template for https://opsbot.example.com (tests/test_init.py keeps the
two equal). toml.py writes opsbot.toml from the settings' defaults, env.py the env file, and
plan.py puts the three together with the steps.
"""

from __future__ import annotations

from bot.tools.init.env import DOCKER_CONFIG, env_file
from bot.tools.init.plan import Plan
from bot.tools.init.slack_app import (
    EXAMPLE_URL,
    MANIFEST,
    SCOPE_USES,
    SCOPES,
    ask_url,
    manifest,
    request_url,
)
from bot.tools.init.toml import config

__all__ = [
    "DOCKER_CONFIG",
    "EXAMPLE_URL",
    "MANIFEST",
    "SCOPES",
    "SCOPE_USES",
    "Plan",
    "ask_url",
    "config",
    "env_file",
    "manifest",
    "request_url",
]
