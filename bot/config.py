"""One Settings object: environment first, then the TOML file named by OPSBOT_CONFIG.

The maintenance plan's numbers (severities, response targets, thresholds) are defaults here,
never literals in the code that uses them, so a team can tune them in its TOML file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from bot.alert_settings import Alerts, Heartbeat


class Severity(BaseModel):
    label: str
    description: str
    response_minutes: int = Field(gt=0)


def _plan_severities() -> dict[str, Severity]:
    return {
        "P0": Severity(label="Critical", description="Service down", response_minutes=15),
        "P1": Severity(label="High", description="Major functionality broken", response_minutes=60),
        "P2": Severity(
            label="Medium", description="Partial functionality affected", response_minutes=240
        ),
        "P3": Severity(label="Low", description="Minor issue", response_minutes=1440),
    }


class Thresholds(BaseModel):
    """The plan's alert configuration (Monitoring & Alerts)."""

    cpu_warning_percent: float = 80
    cpu_warning_minutes: int = 5
    memory_warning_percent: float = 85
    disk_warning_percent: float = 80
    disk_critical_percent: float = 90
    error_rate_warning_percent: float = 2
    error_rate_critical_percent: float = 5
    p95_warning_ms: float = 1000


class Health(BaseModel):
    """How /health and the monitor probe Prompt-Base."""

    timeout_seconds: float = Field(default=5, gt=0, le=20)  # per check; they run at once
    mounts: list[str] = ["/"]  # disks to watch
    analytics_path: str = "/api/v1/analytics/performance?days=1"
    error_rate_is_fraction: bool = False  # true if the API says 0.02 for 2 %
    monitor_minutes: int = Field(default=1, gt=0)
    recovery_readings: int = Field(default=2, ge=1)  # ok readings in a row before "recovered"
    retention_days: int = Field(default=7, gt=0)
    open_incident_when_down: bool = True  # API down opens a P0 (or notes it on the open one)


class Backup(BaseModel):
    """Backups of Prompt-Base's MongoDB: where, how many to keep, who may restore."""

    database: str = "promptbase"
    engine: Literal["auto", "builtin", "mongodump"] = "auto"  # auto: mongodump when installed
    tool_timeout_minutes: int = Field(default=60, gt=0)
    keep_daily: int = Field(default=7, ge=1)
    keep_weekly: int = Field(default=4, ge=0)
    keep_monthly: int = Field(default=12, ge=0)
    restore_allowed: list[str] = []  # Slack user ids; empty means nobody may restore
    nightly_time: str = Field(default="02:30", pattern=r"^\d{2}:\d{2}$")
    offsite_dir: Path | None = None  # a copy of each good backup goes here
    # ...or this program runs for each good backup, "{path}" replaced by its folder, e.g.
    # ["rclone", "copy", "{path}", "offsite:opsbot"]. An argv list: no shell.
    offsite_command: list[str] = []


class RollbackStep(BaseModel):
    """One step of the rollback: an argv list ("{tag}" is replaced by the validated tag, as a
    whole argument), run in `cwd` (relative to ROLLBACK_REPO) with a timeout. No shell."""

    name: str
    argv: list[str] = Field(min_length=1)
    cwd: str = "."
    timeout_seconds: int = Field(default=600, gt=0)
    # Environment variables the step may see besides PATH, HOME, LANG, LC_*, TZ and TMPDIR
    # (by name; their values come from opsbot's environment). Nothing else is passed on.
    env: list[str] = []


def _plan_steps() -> list[RollbackStep]:
    """The plan's rollback procedure; a deploy step for the frontend is the team's to add."""
    return [
        RollbackStep(name="Check out the release", argv=["git", "checkout", "--detach", "{tag}"]),
        RollbackStep(name="Backend: install", argv=["npm", "ci"], cwd="backend"),
        RollbackStep(name="Backend: build", argv=["npm", "run", "build"], cwd="backend"),
        RollbackStep(name="Backend: restart", argv=["pm2", "restart", "backend"], cwd="backend"),
        RollbackStep(name="Frontend: install", argv=["npm", "ci"], cwd="frontend"),
        RollbackStep(name="Frontend: build", argv=["npm", "run", "build"], cwd="frontend"),
    ]


class Rollback(BaseModel):
    allowed: list[str] = []  # who may roll back (and mark a deploy); empty means nobody
    second_confirmation: list[str] = ["P0", "P1"]  # linked incidents needing two people
    current: Literal["head", "recorded"] = "head"  # the deployed release: HEAD's tag or marked
    restore_database: bool = False  # also restore the pre-deployment backup
    steps: list[RollbackStep] = Field(default_factory=_plan_steps)


class Digest(BaseModel):
    """The plan's scheduled checks as messages the team reacts to."""

    daily_time: str = Field(default="09:00", pattern=r"^\d{2}:\d{2}$")
    daily_days: list[int] = [0, 1, 2, 3, 4]
    review_cutoff: str = Field(default="12:00", pattern=r"^\d{2}:\d{2}$")
    log_files: list[Path] = []  # backend logs whose lines start with an ISO timestamp
    error_pattern: str = r"\b(ERROR|FATAL|error)\b"
    feedback_path: str = "/api/v1/feedback?status=new"
    weekly_time: str = Field(default="09:30", pattern=r"^\d{2}:\d{2}$")
    npm_dirs: list[Path] = []  # e.g. the backend and frontend checkouts


class Security(BaseModel):
    """The plan's monthly security audit."""

    npm_dirs: list[Path] = []  # defaults to digest.npm_dirs when empty
    public_urls: list[str] = []  # pages and API routes whose headers and CORS are graded
    rate_limit_url: str | None = None  # the endpoint the burst goes to...
    rate_limit_hosts: list[str] = []  # ...only if its host is listed here
    rate_limit_burst: int = Field(default=50, ge=1, le=500)
    auth_logs: list[Path] = []
    failed_login_pattern: str = (
        r"(?i)(?:failed login|login failed|invalid password).*?"
        r"(?:ip=|from\s+(?:ip=)?)(?P<source>[\w.:-]+)"
    )
    code_dir: str = "backend"  # inside ROLLBACK_REPO: where to look for $where and eval
    timeout_seconds: float = Field(default=60, gt=0)


class Component(BaseModel):
    name: str
    check: str | None = None  # the health check that decides its state, if any


class StatusPage(BaseModel):
    """The public status page and the plan's communication rules."""

    title: str = "Prompt-Base status"
    components: list[Component] = [
        Component(name="API", check="api"),
        Component(name="Database", check="mongodb"),
        Component(name="Website"),
    ]
    first_update_minutes: int = Field(default=15, gt=0)  # P0/P1: first public update due
    update_every_minutes: int = Field(default=30, gt=0)  # then one at least this often
    reminder_severities: list[str] = ["P0", "P1"]
    notice_webhook: str | None = None  # notices are POSTed here (e-mail, in-app banner)
    auto_notice_minutes: int | None = 60  # outages longer than this send the notice
    statuspage_api_key: SecretStr | None = None  # Atlassian Statuspage, optional
    statuspage_page_id: str | None = None
    statuspage_url: str = "https://api.statuspage.io/v1"


class Reminders(BaseModel):
    """When the bot nudges an open incident (PEERS: incident-bot, monzo/response)."""

    status_update_minutes: int = Field(default=30, gt=0)
    status_update_severities: list[str] = ["P0", "P1"]
    still_open_severities: list[str] = ["P2", "P3"]
    snooze_minutes: list[int] = [30, 60, 90]
    # P0/P1 reminders: at most one per incident per status_update_minutes (it carries all
    # that is due), and one per person per per_person_minutes over all their incidents.
    per_person_minutes: int = Field(default=10, gt=0)
    working_days: list[int] = [0, 1, 2, 3, 4]  # Monday is 0
    working_hours: tuple[int, int] = (9, 18)


class OnCall(BaseModel):
    """The weekly rotation's defaults and the plan's contacts. `/oncall set` replaces the
    rotation at run time; this one applies until then, its first week starting at `start`."""

    rotation: list[str] = []
    start: str = "2026-01-05T09:00"
    handover_weekday: int = Field(default=0, ge=0, le=6)  # Monday is 0
    handover_time: str = Field(default="09:00", pattern=r"^\d{2}:\d{2}$")
    admins: list[str] = []  # who may change the rotation; empty means everyone
    escalation: str = ""  # the escalation manager: a Slack user id pages them
    infrastructure: str = ""
    security: str = ""
    escalation_delay_minutes: int = Field(default=15, gt=0)
    usergroup: str = ""  # a user group id (S...) kept in step with who is on call
    announce_channel: str | None = None  # the "who is on call" post; default digest channel
    announce_time: str = Field(default="09:00", pattern=r"^\d{2}:\d{2}$")
    announce_days: list[int] = [0, 1, 2, 3, 4]
    pagerduty_routing_key: SecretStr | None = None
    pagerduty_url: str = "https://events.pagerduty.com"


class Outbox(BaseModel):
    """Delivery of effects to Slack and third parties (see bot/outbox.py)."""

    workers: int = Field(default=4, ge=1, le=32)
    timeout_seconds: float = Field(default=10, gt=0)  # one Slack or third-party call
    backoff_cap_seconds: float = Field(default=60, gt=0)  # outbox rows and inbox events
    give_up_minutes: float = Field(default=60, gt=0)  # then the row is dead, and said so
    page_fallback_minutes: float = Field(default=3, gt=0)  # a page still refused: post it
    slack_posts_per_second: float = Field(default=1, gt=0)  # per channel (Slack's pace)
    slack_burst: int = Field(default=5, ge=1)
    degraded_after_seconds: float = Field(default=120, gt=0)  # /healthz: oldest row's age


class Incidents(BaseModel):
    """Incident channels (see bot/domain/incidents/room.py)."""

    # "P0-P1" by default: the incidents that pull several people in get a room of their own,
    # and a small team's sidebar is not filled with a channel per minor issue.
    channel: Literal["always", "P0-P1", "never"] = "P0-P1"
    private_severities: list[str] = []  # these get a private channel (never public later)
    invite_groups: dict[str, list[str]] = {}  # severity -> Slack user group ids (S...)
    archive_after_hours: float = Field(default=24, gt=0)  # quiet time after the resolution
    bookmarks: dict[str, str] = {}  # title -> link: the status page, runbooks


class Leader(BaseModel):
    """Several `opsbot serve` on one PostgreSQL database: one leads (see bot/leader.py)."""

    lease_seconds: float = Field(default=15, ge=1, le=300)  # a standby leads within 4/3 of it


class Pools(BaseModel):
    """Bounded pools for slow work: threads each, and how many may wait for one."""

    probe_threads: int = Field(default=2, ge=1)
    probe_queue: int = Field(default=8, ge=0)
    backup_threads: int = Field(default=1, ge=1)
    backup_queue: int = Field(default=3, ge=0)
    rollback_threads: int = Field(default=1, ge=1)
    rollback_queue: int = Field(default=2, ge=0)
    health_reuse_seconds: float = Field(default=5, ge=0)  # /health shares a recent run


class Settings(BaseSettings):
    model_config = SettingsConfigDict(case_sensitive=False, extra="forbid")

    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str = "https://slack.com/api/"
    opsbot_db: Path = Path("./opsbot.db")
    # PostgreSQL instead of the SQLite file (postgresql://user:password@host/db)
    opsbot_database_url: SecretStr | None = None
    opsbot_config: Path | None = None
    port: int = Field(default=3000, ge=1, le=65535)
    incidents_channel: str = "#incidents"
    digest_channel: str | None = None
    promptbase_api_url: str | None = None
    mongodb_uri: SecretStr | None = None
    backup_dir: Path = Path("./backups")
    rollback_repo: Path | None = None

    timezone: str = "UTC"
    severities: dict[str, Severity] = Field(default_factory=_plan_severities)
    default_severity: str = "P2"
    thresholds: Thresholds = Thresholds()
    oncall: OnCall = OnCall()
    reminders: Reminders = Reminders()
    health: Health = Health()
    backup: Backup = Backup()
    rollback: Rollback = Rollback()
    digest: Digest = Digest()
    security: Security = Security()
    status_page: StatusPage = StatusPage()
    outbox: Outbox = Outbox()
    pools: Pools = Pools()
    leader: Leader = Leader()
    incidents: Incidents = Incidents()
    alerts: Alerts = Alerts()
    heartbeats: list[Heartbeat] = []
    self_heartbeat_url: str | None = None  # pinged every minute while opsbot is healthy
    opsbot_public_url: str | None = None  # where people reach opsbot: the feeds' addresses

    @field_validator("slack_api_url")
    @classmethod
    def _trailing_slash(cls, url: str) -> str:
        # slack_sdk joins method names with urljoin: without the slash the last segment is lost.
        if not url.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return url if url.endswith("/") else url + "/"

    @field_validator("opsbot_public_url")
    @classmethod
    def _public_url(cls, url: str | None) -> str | None:
        if url is not None and not url.startswith(("http://", "https://")):
            raise ValueError("must start with https://, e.g. https://opsbot.example.com")
        return url.rstrip("/").removesuffix("/slack/events") if url else url

    @field_validator("opsbot_database_url")
    @classmethod
    def _postgresql(cls, url: SecretStr | None) -> SecretStr | None:
        if url is not None and not url.get_secret_value().startswith(
            ("postgresql://", "postgresql+psycopg://", "postgres://")
        ):
            raise ValueError("must be a postgresql:// URL (without it, OPSBOT_DB: a SQLite file)")
        return url

    @property
    def database(self) -> str | Path:
        """Where the store is: the PostgreSQL URL when one is set, else the SQLite file."""
        if self.opsbot_database_url is not None:
            return self.opsbot_database_url.get_secret_value()
        return self.opsbot_db

    @property
    def on_postgresql(self) -> bool:
        return self.opsbot_database_url is not None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {name!r}") from None
        return name

    @field_validator("severities", mode="before")
    @classmethod
    def _over_the_plan(cls, given: Any) -> Any:
        # A file that sets only P0's response_minutes keeps the plan's other levels and fields.
        if not isinstance(given, dict):
            return given
        levels: dict[str, Any] = {k: v.model_dump() for k, v in _plan_severities().items()}
        for name, level in given.items():
            base = levels.get(name.upper(), {})
            levels[name.upper()] = {**base, **level} if isinstance(level, dict) else level
        return levels

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def digest_target(self) -> str:
        return self.digest_channel or self.incidents_channel

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_path = os.environ.get("OPSBOT_CONFIG")
        if config_path:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=config_path))
        return tuple(sources)


class ConfigError(Exception):
    """Configuration that cannot start the bot; the message names the bad setting."""


def load_settings(**overrides: Any) -> Settings:
    config_path = os.environ.get("OPSBOT_CONFIG")
    if config_path and not Path(config_path).is_file():
        raise ConfigError(f"OPSBOT_CONFIG: no such file: {config_path}")
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None
    except ValueError as exc:  # a TOML syntax error surfaces as a ValueError subclass
        raise ConfigError(f"OPSBOT_CONFIG: {config_path}: {exc}") from None
    if settings.default_severity not in settings.severities:
        raise ConfigError(
            f"DEFAULT_SEVERITY: {settings.default_severity!r} is not one of the severities"
        )
    return settings


def _describe(exc: ValidationError) -> str:
    lines = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"])
        name = where.upper() if len(error["loc"]) == 1 else where
        # Never echo the rejected input: it may be a token or a connection string.
        lines.append(f"{name}: {error['msg']}")
    return "invalid configuration: " + "; ".join(lines)
