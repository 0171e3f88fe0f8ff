"""Who opsbot is in Slack, learned without needing Slack to be up.

Bolt asks Slack's `auth.test` before it serves anything, and when Slack does not answer it
either refuses to start or answers the request 200 "please install this app", which would
mark a stored event done and lose it. opsbot authorizes every request itself instead, from
the identity `auth.test` gave: at start when Slack answers, else from the database (a token's
identity does not change), and checks again in the background until Slack answers. So
`opsbot serve` comes up during a Slack outage (alert intake, the status page, timers,
PagerDuty; Slack's effects wait in the outbox), and a token Slack positively rejects still
stops it with a clear message.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from slack_bolt.authorization import AuthorizeResult
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.failures import failure_text
from bot.redact import RedactingClient
from bot.store import Store

log = logging.getLogger(__name__)

STATE_KEY = "slack.identity"
# auth.test answers that say the token itself is no good: no point in running on.
REJECTED = {"invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive"}
CHECK_TIMEOUT_SECONDS = 5
RECHECK_FIRST_SECONDS = 1.0  # while Slack does not answer: after 1 s, then twice as long...
RECHECK_DOWN_SECONDS = 30.0  # ... up to this
RECHECK_UP_SECONDS = 300.0  # once it answers: to notice a token revoked while running


class TokenRejected(Exception):
    """Slack says the token is no good (its error code is the message)."""


@dataclass(frozen=True)
class Identity:
    team_id: str
    user_id: str  # the bot user
    bot_id: str
    url: str = ""


class SlackIdentity:
    def __init__(self, store: Store, token: str, base_url: str) -> None:
        self.store, self.token = store, token
        # Its own client: one quick try, no retries, so a start during an outage is quick.
        self.slack: WebClient = RedactingClient(
            token=token, base_url=base_url, timeout=CHECK_TIMEOUT_SECONDS
        )
        stored = store.state(STATE_KEY)
        self.known: Identity | None = Identity(**json.loads(stored)) if stored else None
        self.reachable = False  # did Slack answer the last check?
        self.problem: str | None = "not checked yet"
        self.every = (RECHECK_FIRST_SECONDS, RECHECK_DOWN_SECONDS, RECHECK_UP_SECONDS)
        self._stop = threading.Event()

    def check(self) -> bool:
        """Ask Slack who the token is; True when it answered. TokenRejected when it says the
        token is no good."""
        try:
            found = self.slack.auth_test()
        except SlackApiError as exc:
            code = str(exc.response.get("error", "")) if exc.response is not None else ""
            if code in REJECTED:
                raise TokenRejected(code) from None
            return self._unreachable(failure_text(exc))
        except OSError as exc:  # no route, refused, DNS, TLS, a timeout
            return self._unreachable(failure_text(exc))
        identity = Identity(
            team_id=str(found.get("team_id", "")),
            user_id=str(found.get("user_id", "")),
            bot_id=str(found.get("bot_id", "")),
            url=str(found.get("url", "")),
        )
        if identity != self.known:
            self.store.set_state(STATE_KEY, json.dumps(asdict(identity)))
            self.known = identity
        if not self.reachable:
            log.info("Slack answered: opsbot is %s in %s", identity.user_id, identity.team_id)
        self.reachable, self.problem = True, None
        return True

    def _unreachable(self, why: str) -> bool:
        if self.reachable or self.problem != why:
            log.warning("Slack did not answer auth.test (%s); effects wait in the outbox", why)
        self.reachable, self.problem = False, why
        return False

    def authorizer(self) -> Callable[..., AuthorizeResult]:
        """Bolt's `authorize` (a plain function: Bolt passes arguments by their names): never
        a call to Slack, never a refusal."""

        def authorize(
            enterprise_id: str | None, team_id: str | None, user_id: str | None
        ) -> AuthorizeResult:
            known = self.known
            return AuthorizeResult(
                enterprise_id=enterprise_id,
                team_id=team_id or (known.team_id if known else None),
                bot_token=self.token,
                bot_id=known.bot_id if known else None,
                bot_user_id=known.user_id if known else None,
                user_id=user_id,
            )

        return authorize

    def watch(self, on_rejected: Callable[[str], None]) -> None:
        """Check again in the background: often while Slack does not answer, now and then
        once it does. `on_rejected` hears a token Slack rejects."""

        first, most, up = self.every

        def run() -> None:
            down = first
            while not self._stop.wait(up if self.reachable else down):
                down = first if self.reachable else min(down * 2, most)
                try:
                    self.check()
                except TokenRejected as exc:
                    on_rejected(str(exc))
                    return
                except Exception:  # the watch must outlive a surprise
                    log.exception("checking the Slack token")

        threading.Thread(target=run, name="opsbot-slack-identity", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()

    def status(self) -> dict[str, Any]:
        """For /healthz: does Slack answer, and if not, why."""
        if self.reachable:
            return {"state": "ok"}
        return {"state": "unreachable", "reason": self.problem}
