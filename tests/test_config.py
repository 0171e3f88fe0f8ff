import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import ConfigError, load_settings


def test_defaults_are_the_plans_numbers() -> None:
    """With nothing configured the plan's severities and thresholds apply."""
    settings = load_settings()
    assert {k: v.response_minutes for k, v in settings.severities.items()} == {
        "P0": 15,
        "P1": 60,
        "P2": 240,
        "P3": 1440,
    }
    assert settings.severities["P1"].label == "High"
    assert settings.thresholds.disk_critical_percent == 90
    assert settings.incidents_channel == "#incidents"
    assert settings.digest_target == "#incidents"
    assert settings.port == 3000


def test_toml_file_then_environment_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """OPSBOT_CONFIG supplies values; an environment variable overrides the file."""
    config = tmp_path / "opsbot.toml"
    config.write_text(
        'incidents_channel = "#ops"\nport = 4000\ntimezone = "Europe/Berlin"\n'
        "[severities.P0]\nresponse_minutes = 10\n[severities.SEV9]\n"
        'label = "Cosmetic"\ndescription = "Typo"\nresponse_minutes = 10080\n'
    )
    monkeypatch.setenv("OPSBOT_CONFIG", str(config))
    monkeypatch.setenv("PORT", "5000")
    settings = load_settings()
    assert settings.incidents_channel == "#ops"
    assert settings.port == 5000
    assert settings.tz.key == "Europe/Berlin"
    assert settings.severities["P0"].response_minutes == 10
    assert settings.severities["P0"].label == "Critical"  # the rest of P0 is the plan's
    assert settings.severities["P1"].response_minutes == 60
    assert settings.severities["SEV9"].label == "Cosmetic"


@pytest.mark.parametrize(
    ("name", "value", "named"),
    [
        ("PORT", "eighty", "PORT"),
        ("PORT", "70000", "PORT"),
        ("SLACK_API_URL", "ftp://slack", "SLACK_API_URL"),
        ("TIMEZONE", "Mars/Olympus", "TIMEZONE"),
        ("DEFAULT_SEVERITY", "P9", "DEFAULT_SEVERITY"),
    ],
)
def test_bad_values_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, named: str
) -> None:
    """A bad setting stops start-up with an error that names it."""
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert named in str(caught.value)


def test_errors_never_echo_secrets(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A rejected config does not print the values around it."""
    config = tmp_path / "bad.toml"
    config.write_text('mongodb_uri = "mongodb://admin:hunter2@db"\nport = "x"\n')
    monkeypatch.setenv("OPSBOT_CONFIG", str(config))
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "hunter2" not in str(caught.value) and "PORT" in str(caught.value)


def test_unknown_keys_and_missing_file_are_errors(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A typo in the TOML file or a missing file is reported, not ignored."""
    monkeypatch.setenv("OPSBOT_CONFIG", str(tmp_path / "nope.toml"))
    with pytest.raises(ConfigError, match="no such file"):
        load_settings()
    typo = tmp_path / "typo.toml"
    typo.write_text('incident_channel = "#ops"\n')
    monkeypatch.setenv("OPSBOT_CONFIG", str(typo))
    with pytest.raises(ConfigError, match="INCIDENT_CHANNEL: Extra inputs"):
        load_settings()


def test_slack_api_url_gets_its_trailing_slash(monkeypatch: pytest.MonkeyPatch) -> None:
    """slack_sdk joins method names onto the base URL, which needs a trailing slash."""
    monkeypatch.setenv("SLACK_API_URL", "http://127.0.0.1:9/api")
    assert load_settings().slack_api_url == "http://127.0.0.1:9/api/"


def test_serve_without_credentials_says_what_is_missing(tmp_path: Path) -> None:
    """`opsbot serve` with no tokens exits 2 naming the variables, `opsbot init` that writes
    them and the page that says how, without a traceback."""
    result = subprocess.run(
        [sys.executable, "-m", "bot", "serve"],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert result.returncode == 2
    assert "SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET must be set" in result.stderr
    assert "`opsbot init` writes opsbot.env" in result.stderr
    assert "docs/install.md" in result.stderr and "README" not in result.stderr
    assert "Traceback" not in result.stderr
