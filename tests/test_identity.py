"""Who opsbot is in Slack, learned without needing Slack up: kept in the database, used to
authorize requests during an outage, checked again, and a revoked token heard."""

from __future__ import annotations

import threading
from pathlib import Path

from bot.identity import SlackIdentity
from bot.store import Store
from bot.tools.localslack import BOT_USER, LocalSlack


def store(tmp_path: Path) -> Store:
    made = Store(tmp_path / "opsbot.db")
    made.migrate()
    return made


def test_an_identity_learned_once_authorizes_requests_while_slack_is_down(tmp_path: Path) -> None:
    """Learned while Slack answered, kept; a later start during an outage authorizes with it
    and says Slack is unreachable."""
    kept = store(tmp_path)
    with LocalSlack() as slack:
        assert SlackIdentity(kept, "xoxb-ok", slack.api_base).check()
        slack.fault(status=503)
        later = SlackIdentity(kept, "xoxb-ok", slack.api_base)
        assert later.check() is False
        assert later.status() == {
            "state": "unreachable",
            "reason": "Slack internal_error (HTTP 503)",
        }
        result = later.authorizer()(enterprise_id=None, team_id="T0LOCAL", user_id="U0ALICE01")
        assert (result.bot_user_id, result.bot_token) == (BOT_USER, "xoxb-ok")


def test_a_token_revoked_while_serving_is_heard(tmp_path: Path) -> None:
    """The background check hears Slack reject the token (`invalid_auth`) and says so."""
    with LocalSlack() as slack:
        identity = SlackIdentity(store(tmp_path), "xoxb-ok", slack.api_base)
        assert identity.check()
        identity.every = (0.05, 0.05, 0.05)
        heard: list[str] = []
        told = threading.Event()

        def rejected(code: str) -> None:
            heard.append(code)
            told.set()

        identity.watch(rejected)
        slack.token_prefix = "xoxb-rotated"  # the old token no longer works
        assert told.wait(5) and heard == ["invalid_auth"]
        identity.stop()
