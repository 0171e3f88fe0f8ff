"""opsbot.env as `opsbot init` writes it: the secrets to fill in and where opsbot keeps its
files, for a plain install or for Docker."""

from __future__ import annotations

from pathlib import Path

DOCKER_CONFIG = Path("/config/opsbot.toml")  # where docker-compose.yml mounts opsbot.toml


def env_file(socket: bool, config_path: Path, docker: bool = False) -> str:
    second = (
        "# xapp-…: Basic Information → App-Level Tokens (scope connections:write)\nSLACK_APP_TOKEN="
        if socket
        else "# Basic Information → App Credentials → Signing Secret\nSLACK_SIGNING_SECRET="
    )
    folder = config_path.parent
    places = (
        "# OPSBOT_DB and BACKUP_DIR are left to the image: /data/opsbot.db and /data/backups,\n"
        "# on the /data volume (set here, they would win and point outside it).\n"
        f"OPSBOT_CONFIG={DOCKER_CONFIG}"
        if docker
        else f"OPSBOT_CONFIG={config_path}\nOPSBOT_DB={folder / 'opsbot.db'}\n"
        f"BACKUP_DIR={folder / 'backups'}"
    )
    # Comments on lines of their own: `docker run --env-file` reads a value to the line's end.
    return f"""\
# opsbot's secrets and places, made by `opsbot init`. Fill in, keep out of version control,
# and load it before starting opsbot (`set -a; . ./opsbot.env; set +a`, or --env-file).
# xoxb-…: OAuth & Permissions → Bot User OAuth Token
SLACK_BOT_TOKEN=
{second}
{places}
# Prompt-Base's MongoDB, for /health and /backup (never shown):
# MONGODB_URI=
# Prompt-Base's API, for /health and the monitor:
# PROMPTBASE_API_URL=
# The Prompt-Base git checkout whose v* tags are releases:
# ROLLBACK_REPO=
"""
