from datetime import timedelta

from bot.config import Settings
from bot.domain.incidents import card as cards
from bot.domain.incidents import texts
from bot.store import ActionItem, Entry, Incident
from commands.incident import render
from tests.conftest import T0

INCIDENT = Incident(
    number=4,
    title="Login broken",
    severity="P1",
    status="open",
    commander="U0ALICE01",
    opened_by="U0ALICE01",
    opened_at=T0,
)


def card_text(reply) -> str:  # type: ignore[no-untyped-def]
    return str(reply.blocks)


def actions(reply) -> list[dict]:  # type: ignore[no-untyped-def]
    return [e for b in reply.blocks if b["type"] == "actions" for e in b["elements"]]


def test_card_shows_what_the_plan_asks() -> None:
    """Id, severity label, target and deadline, status, commander, on-call, step buttons."""
    settings = Settings()
    reply = cards.render_card(
        INCIDENT, settings, oncall="U0BOB0001", entries=[], now=T0 + timedelta(minutes=6)
    )
    text = card_text(reply)
    assert reply.blocks[0]["text"]["text"] == ":large_orange_circle: INC-4 · P1 High · Login broken"
    assert "1 h · ack due 11:00 UTC (54 min left)" in text
    assert "<@U0ALICE01>" in text and "<@U0BOB0001>" in text
    assert [a["text"]["text"] for a in actions(reply)] == [
        *cards.STEP_ACTIONS,
        "Take command",
        "Take comms",
        "Post update",
        "Change severity",
    ]
    assert {a["value"] for a in actions(reply)} == {"4"}
    assert reply.text == "INC-4 P1 High: Login broken (open)"


def test_card_says_when_the_target_passed() -> None:
    """Unacknowledged past the deadline, the card says the ack is overdue."""
    reply = cards.render_card(
        INCIDENT, Settings(), oncall=None, entries=[], now=T0 + timedelta(hours=2)
    )
    assert "ack overdue since 11:00 UTC" in card_text(reply)
    assert "not configured" in card_text(reply)


def test_card_times_in_configured_zone() -> None:
    """Times on the card are in the team's time zone."""
    reply = cards.render_card(
        INCIDENT, Settings(timezone="Europe/Berlin"), oncall=None, entries=[], now=T0
    )
    assert "ack due 12:00 CET" in card_text(reply)


def test_resolved_card_keeps_only_postmortem_button() -> None:
    """A resolved incident's card offers the post-mortem and marks done steps."""
    resolved = Incident(
        **{**INCIDENT.__dict__, "status": "resolved", "resolved_at": T0 + timedelta(hours=1)}
    )
    entries = [Entry(T0, "U1", "postmortem", "draft written")]
    reply = cards.render_card(resolved, Settings(), oncall=None, entries=entries, now=T0)
    assert [a["text"]["text"] for a in actions(reply)] == ["✓ Post-mortem"]
    assert reply.blocks[0]["text"]["text"].startswith(":white_check_mark:")


def test_postmortem_has_every_section() -> None:
    """The draft has times, target verdict, impact, cause, resolution, steps, timeline, actions."""
    done = Incident(
        **{
            **INCIDENT.__dict__,
            "status": "resolved",
            "acked_by": "U0BOB0001",
            "acked_at": T0 + timedelta(minutes=70),
            "resolved_at": T0 + timedelta(hours=2),
            "summary": "Reverted",
        }
    )
    entries = [
        Entry(T0, "U0ALICE01", "opened", "Opened"),
        Entry(T0 + timedelta(minutes=70), "U0BOB0001", "acknowledge", "Acked"),
    ]
    items = [ActionItem(3, 4, "U0BOB0001", "Add a login canary", "2026-12-05", None)]
    markdown = texts.postmortem_markdown(done, entries, items, Settings())
    for heading in (
        "## Times",
        "## Impact",
        "## Root cause",
        "## Resolution",
        "## Response steps",
        "## Action items",
    ):
        assert heading in markdown
    assert "Time to acknowledge: 1 h 10 min against a response target of 1 h (missed)" in markdown
    assert "- Time to resolve: 2 h" in markdown
    assert "### 1. [x] Acknowledge" in markdown
    assert "### 2. [ ] Investigate\n- _nothing recorded_" in markdown
    assert "**Participants:** @U0ALICE01, @U0BOB0001" in markdown
    assert "- [ ] A3 Add a login canary · owner @U0BOB0001 · due 2026-12-05" in markdown
    assert "\nReverted\n" in markdown


def test_postmortem_puts_each_entry_under_its_step() -> None:
    """Entries land under the response step they belong to, with their real times."""
    entries = [
        Entry(T0, "U1", "opened", "Opened", id=1, seq=1),
        Entry(T0 + timedelta(minutes=4), "U2", "acknowledge", "Acked", id=2, seq=2),
        Entry(
            T0 + timedelta(minutes=6), "U2", "investigate", "Status: → investigating", id=3, seq=3
        ),
        Entry(T0 + timedelta(minutes=9), "U3", "pin", "Error rate 40% on /login", id=4, seq=4),
        Entry(T0 + timedelta(minutes=20), "U2", "mitigate", "Status: → monitoring", id=5, seq=5),
        Entry(T0 + timedelta(minutes=25), "U2", "communicate", "Users notified", id=6, seq=6),
        Entry(T0 + timedelta(minutes=40), "U2", "resolve", "Resolved", id=7),
    ]
    markdown = texts.postmortem_markdown(INCIDENT, entries, [], Settings())
    investigate = markdown.split("### 2.")[1].split("### 3.")[0]
    assert "#4 `2026-11-27 10:09 UTC` @U3 · Error rate 40% on /login" in investigate
    assert "### 3. [x] Mitigate" in markdown and "### 4. [x] Communicate" in markdown
    assert "### 6. [ ] Post-mortem" in markdown


def test_notice_fills_the_plans_template() -> None:
    """The resolution notice is the plan's template with the incident's facts."""
    done = Incident(
        **{
            **INCIDENT.__dict__,
            "status": "resolved",
            "resolved_at": T0 + timedelta(hours=2),
            "summary": "Reverted v1.4.2",
        }
    )
    notice = texts.resolution_notice(done, Settings())
    assert notice.splitlines()[0] == "Subject: [RESOLVED] Service Disruption - 2026-11-27"
    assert "affecting Login broken" in notice
    assert "from 2026-11-27 10:00 UTC to 2026-11-27 12:00 UTC." in notice
    assert "Resolution: Reverted v1.4.2" in notice
    assert notice.endswith("We apologize for the inconvenience.")


def test_long_timeline_stays_within_slack_limits() -> None:
    """Hundreds of entries: the latest that fit 10k chars, and a pointer to the rest."""
    entries = [
        Entry(T0 + timedelta(minutes=i), "U1", "update", f"{i:03d}" + "x" * 200) for i in range(400)
    ]
    reply = render.render_timeline(INCIDENT, entries, Settings())
    texts = [b["text"]["text"] for b in reply.blocks if b["type"] == "section"]
    assert len(reply.blocks) <= 50
    assert all(len(t) <= 3000 for t in texts) and sum(map(len, texts)) <= 10_100
    assert "399xxx" in texts[-1]  # the newest entry is shown
    assert "earlier entries are in `/incident postmortem INC-4`" in str(reply.blocks[-1])


def test_postmortem_files_pinned_root_cause_and_leaves_internal_updates_alone() -> None:
    """A pinned "Root cause: …" fills the Root cause section (and sits under Investigate, not
    Acknowledge); an internal update does not tick Communicate."""
    entries = [
        Entry(T0, "U1", "opened", "Opened", id=1, seq=1),
        Entry(
            T0 + timedelta(minutes=2), "U2", "pin", "Root cause: pool size 5 after deploy", seq=2
        ),
        Entry(T0 + timedelta(minutes=3), "U2", "pin", "Impact: EU logins failed for 20 min", seq=3),
        Entry(T0 + timedelta(minutes=4), "U2", "update", "Looking at the pool", seq=4),
    ]
    markdown = texts.postmortem_markdown(INCIDENT, entries, [], Settings())
    root = markdown.split("## Root cause\n")[1].split("\n\n")[0]
    impact = markdown.split("## Impact\n")[1].split("\n\n")[0]
    assert root == "pool size 5 after deploy" and impact == "EU logins failed for 20 min"
    acknowledge = markdown.split("### 1.")[1].split("### 2.")[0]
    investigate = markdown.split("### 2.")[1].split("### 3.")[0]
    assert "Root cause" not in acknowledge and "Root cause: pool size" in investigate
    assert "### 4. [ ] Communicate" in markdown


def test_card_times_carry_their_date_when_not_today() -> None:
    """A P3's deadline tomorrow says which day; a resolved card's last public update has no
    frozen "ago"."""
    from dataclasses import replace

    settings = Settings()
    p3 = replace(INCIDENT, severity="P3", status="open", acked_at=None, resolved_at=None)
    target = settings.severities["P3"].response_minutes
    deadline = p3.opened_at + timedelta(minutes=target)
    line = cards.target_line(p3, settings, now=p3.opened_at + timedelta(minutes=1))
    assert "ack due Sat 28 Nov 10:00 UTC (23 h 59 min left)" in line  # T0 is Fri 27 Nov
    same_day = cards.target_line(p3, settings, now=deadline - timedelta(minutes=1))
    assert f"ack due {deadline:%H:%M} UTC (1 min left)" in same_day
    public = [Entry(T0, "U1", "communicate", "Public update: fixed", seq=1)]
    resolved = replace(INCIDENT, status="resolved", resolved_at=T0 + timedelta(hours=1))
    card = cards.render_card(
        resolved, settings, oncall=None, entries=public, now=T0 + timedelta(days=2)
    )
    shown = str(card.blocks)
    assert f"Last public update*\\n{T0:%a %d %b %H:%M} UTC" in shown and " ago" not in shown
