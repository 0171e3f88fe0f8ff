"""The plan's six response steps read from a timeline: which entries belong to which step, which
steps were done, what was pinned as root cause or impact, who took part."""

from __future__ import annotations

from bot.store import Entry, Incident

# Timeline kinds that belong to one of the plan's six response steps.
STEP_OF_KIND = {
    "opened": "Acknowledge",
    "acknowledge": "Acknowledge",
    "breach": "Acknowledge",
    "page": "Acknowledge",
    "severity": "Acknowledge",  # "assess severity" is part of acknowledging
    "investigate": "Investigate",
    "reopen": "Investigate",  # resolved too soon: back to finding out
    "mitigate": "Mitigate",
    # an internal `/incident update` is war-room news, not the Communicate step (status page,
    # users, stakeholders): it stays under the step the incident is in
    "communicate": "Communicate",
    "resolve": "Resolve",
    "postmortem": "Post-mortem",
    "action": "Post-mortem",
}


# The entry kinds that mean a step was actually done (not merely that time passed in it).
DOING_KINDS = {
    "acknowledge",
    "investigate",
    "mitigate",
    "communicate",
    "resolve",
    "postmortem",
}


# A pinned message starting with one of these fills that section of the post-mortem.
PINNED_SECTIONS = {"root cause": "Investigate", "impact": "Investigate"}


STEPS = ("Acknowledge", "Investigate", "Mitigate", "Communicate", "Resolve", "Post-mortem")


def phases(entries: list[Entry]) -> dict[str, list[Entry]]:
    """The timeline cut into the plan's six response steps."""
    grouped: dict[str, list[Entry]] = {step: [] for step in STEPS}
    current = "Acknowledge"
    for entry in entries:
        current = STEP_OF_KIND.get(entry.kind, current)
        heading = pinned_section(entry)
        grouped[PINNED_SECTIONS[heading] if heading else current].append(entry)
    return grouped


def pinned_section(entry: Entry) -> str | None:
    """ "root cause" for a pinned "Root cause: …" (the post-mortem section it fills), else None."""
    if entry.kind != "pin":
        return None
    lowered = entry.text.lower()
    return next((h for h in PINNED_SECTIONS if lowered.startswith(h + ":")), None)


def pinned(entries: list[Entry], heading: str) -> list[str]:
    """The text of every pin filed under `heading`, without the "Root cause:" prefix."""
    return [e.text.split(":", 1)[1].strip() for e in entries if pinned_section(e) == heading]


def steps_done(entries: list[Entry]) -> dict[str, Entry | None]:
    """Each response step with the first entry that did it, or None."""
    done: dict[str, Entry | None] = dict.fromkeys(STEPS)
    for entry in entries:
        step = STEP_OF_KIND.get(entry.kind)
        if entry.kind == "investigate" and done["Mitigate"] is not None:
            done["Mitigate"] = None  # back to investigating: the mitigation did not hold
        if entry.kind == "reopen":  # neither the mitigation nor the resolution held
            done["Mitigate"] = done["Resolve"] = done["Post-mortem"] = None
        if step and entry.kind in DOING_KINDS and done[step] is None:
            done[step] = entry
    return done


def participants(incident: Incident, entries: list[Entry]) -> list[str]:
    """Everyone who acted or spoke on the timeline, the commander first."""
    people = [incident.commander, incident.comms_lead, *(e.actor for e in entries)]
    seen: dict[str, None] = {}
    for person in people:
        if person:
            seen.setdefault(person)
    return list(seen)
