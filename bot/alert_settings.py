"""The settings of alert intake: the monitoring systems that send alerts, the rules that
route them, and the heartbeats that must check in ([alerts] and [[heartbeats]] in
opsbot.toml)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, SecretStr


class AlertSource(BaseModel):
    """A monitoring system that sends alerts: POST /alerts/<kind>/<name>, with its secret as
    `Authorization: Bearer <secret>` or as one more path segment."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,40}$")
    kind: Literal["alertmanager", "grafana", "events"]
    secret: SecretStr


class AlertRule(BaseModel):
    """First match wins: on the source (or "*") and on labels, to open (or join) an incident
    at a severity, post in a channel, or drop."""

    source: str = "*"
    match: dict[str, str] = {}
    action: Literal["incident", "post", "drop"]
    severity: str = "P1"  # action = "incident"
    channel: str | None = None  # action = "post"; default the digest channel
    auto_resolve: bool = False  # every alert of the incident resolved: resolve it


class Alerts(BaseModel):
    sources: list[AlertSource] = []
    rules: list[AlertRule] = [
        AlertRule(match={"severity": "critical"}, action="incident", severity="P1"),
        AlertRule(action="post"),
    ]
    group_by: list[str] = []  # labels that make a group; else Alertmanager's groupKey
    group_window_minutes: int = Field(default=60, gt=0)  # a group joins its open incident
    storm_per_minute: int = Field(default=30, gt=0)  # past it, one summary per source
    # At most `incident_cap` incidents opened by one source's alerts within
    # `incident_cap_minutes`; past it, new groups join one "alert storm" incident for the
    # source until that many minutes pass without a new group. One person on call can work a
    # handful of incidents at once: five new ones from one source in a quarter of an hour is
    # one cause (a bad deploy, a network split, a flapping exporter), and more cards and
    # pages would only bury the first ones and any page from elsewhere.
    incident_cap: int = Field(default=5, gt=0)
    incident_cap_minutes: int = Field(default=15, gt=0)
    max_body_kb: int = Field(default=512, gt=0)


class Heartbeat(BaseModel):
    """Something that must check in: POST /heartbeat/<name> (with its secret) at least every
    `interval_minutes`; `grace_minutes` later a missed beat is an alert (source heartbeat)."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_.:-]{0,60}$")
    interval_minutes: int = Field(gt=0)
    grace_minutes: int = Field(default=5, ge=0)
    secret: SecretStr | None = None  # None: only opsbot's own jobs beat it ("job:<name>")
    severity: str = "critical"  # the label its alert carries, for the routing rules
