"""On call in people's calendars: `/oncall calendar` gives a person the addresses of their
feed and the team's (only they see them), `/oncall calendar new [team]` replaces one, and
`GET /oncall/<token>.ics` serves a feed (bot/domain/oncall/calendar.py). A token never
made, or replaced since, is answered 404, as any address opsbot does not serve."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from bot import people
from bot.deps import Deps
from bot.domain.oncall import calendar
from bot.replies import Reply, UserError
from commands.oncall.parse import Calendar

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIEnvironment

PATH = "/oncall/"
NO_ADDRESS = (
    "opsbot does not know its public address, so it cannot give one: set "
    "`OPSBOT_PUBLIC_URL` to the https address Slack reaches it at "
    "(https://opsbot.example.com, without /slack/events)."
)


def addresses(deps: Deps, args: Calendar, actor: str) -> Reply:
    base = deps.settings.opsbot_public_url
    if not base:
        raise UserError(NO_ADDRESS)
    mine = calendar.token(deps.store, actor, new=args.new == "mine")
    team = calendar.token(deps.store, calendar.TEAM, new=args.new == "team")
    replaced = {
        "mine": " Your old address no longer works.",
        "team": " The team's old address no longer works: tell whoever subscribed to it.",
    }.get(args.new or "", "")
    return Reply(
        f":calendar: Subscribe in your calendar app (12 weeks ahead, updated as the rotation, "
        f"overrides and swaps change):\n• Your shifts: {base}{PATH}{mine}.ics\n"
        f"• The whole team's: {base}{PATH}{team}.ics\n"
        "Anyone with an address can read that feed; `/oncall calendar new` replaces yours "
        f"(`new team`: the team's).{replaced}"
    )


def serve(deps: Deps, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """GET /oncall/<token>.ics: a person's shifts, or the team's, as iCalendar."""
    name = str(environ.get("PATH_INFO", ""))[len(PATH) :]
    whose = calendar.whose(deps.store, name.removesuffix(".ics")) if name.endswith(".ics") else None
    if whose is None:
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found"]
    now = deps.clock()
    shifts = calendar.shifts(deps.store, deps.settings, now, whose)
    people.learn(deps, [s.user for s in shifts])  # names shown, never ids
    names = deps.store.people.names({s.user for s in shifts})
    title = f"On call: {names.get(whose, 'my shifts')}" if whose else "On call: the team"
    body = calendar.feed(shifts, names, deps.settings.tz, title, now)
    headers = [
        ("Content-Type", "text/calendar; charset=utf-8"),
        ("Content-Length", str(len(body))),
        ("Cache-Control", "private, max-age=300"),
        ("X-Content-Type-Options", "nosniff"),
    ]
    start_response("200 OK", headers)
    return [body] if environ.get("REQUEST_METHOD") == "GET" else [b""]
