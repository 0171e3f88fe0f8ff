"""What `opsbot init` writes for one setup (the manifest, opsbot.toml, opsbot.env) and the
steps left to do in Slack and to start opsbot."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bot.tools.init.env import env_file
from bot.tools.init.slack_app import manifest
from bot.tools.init.toml import config


@dataclass(frozen=True)
class Plan:
    url: str | None  # None: Socket Mode
    incidents: str
    digest: str | None
    folder: Path
    docker: bool = False  # paths left to the image; the config where compose mounts it

    def files(self) -> dict[Path, str]:
        toml = self.folder / "opsbot.toml"
        return {
            self.folder / "opsbot-manifest.yml": manifest(self.url),
            toml: config(self.incidents, self.digest),
            self.folder / "opsbot.env": env_file(self.url is None, toml.resolve(), self.docker),
        }

    def steps(self) -> list[str]:
        channels = " and ".join(dict.fromkeys(c for c in (self.incidents, self.digest) if c))
        tokens = (
            "the Bot User OAuth Token (xoxb-…) and an App-Level Token with connections:write "
            "(xapp-…)"
            if self.url is None
            else "the Bot User OAuth Token (xoxb-…) and the Signing Secret"
        )
        serve = "opsbot serve --socket" if self.url is None else "opsbot serve"
        posts = "" if self.url is None else f" (Slack will post to {self.url})"
        common = [
            "At https://api.slack.com/apps press Create New App → From an app manifest, pick "
            f"your workspace and paste {self.folder / 'opsbot-manifest.yml'}.",
            "Install the app to the workspace (Install App).",
            f"Copy {tokens} into {self.folder / 'opsbot.env'}.",
            f"Invite the bot to {channels} (`/invite @opsbot`): Slack sends reaction events "
            "only from channels the bot is in.",
        ]
        if self.docker:
            return [
                *common,
                "Put opsbot.env and opsbot.toml beside opsbot's docker-compose.yml (it reads "
                "them from there; data stays on the opsbot-data volume at /data).",
                "Check the setup: `docker compose run --rm opsbot opsbot doctor"
                + (" --socket`." if self.url is None else "`."),
                "Start it: `docker compose up -d --build`"
                + (
                    " after setting `command: [opsbot, serve, --socket]` in docker-compose.yml"
                    if self.url is None
                    else posts
                )
                + ".",
            ]
        return [
            *common,
            "Load the env file and check the setup: `set -a; . ./opsbot.env; set +a; "
            "opsbot doctor`.",
            f"Start it: `{serve}`{posts}.",
        ]
