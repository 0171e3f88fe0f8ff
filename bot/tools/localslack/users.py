"""Who is who in the local Slack: auth.test (the bot), users.info, usergroups.users.update,
and apps.connections.open (Socket Mode's one Web API call, made with the app-level token)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.tools.localslack.server import Server
from bot.tools.localslack.workspace import BOT_USER, TEAM


class Users(Server):
    def _auth_test(self, body: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": self.base + "/",
            "team": "local",
            "user": "opsbot",
            "team_id": TEAM,
            "user_id": BOT_USER,
            "bot_id": "B0OPSBOT",
        }

    def _usergroups_users_update(self, body: dict[str, Any]) -> dict[str, Any]:
        group, users = body.get("usergroup", ""), body.get("users", "")
        if not group.startswith("S") or not users:
            return {"ok": False, "error": "invalid_arguments"}
        return {"ok": True, "usergroup": {"id": group, "users": users.split(",")}}

    def _users_info(self, body: dict[str, Any]) -> dict[str, Any]:
        user = body.get("user", "")
        if user not in self.users:
            return {"ok": False, "error": "user_not_found"}
        name = self.users[user]
        profile = {"display_name": name, "real_name": name.title()}
        tz = self.__dict__.get("zones", {}).get(user, "Europe/London")
        found = {"id": user, "name": name, "real_name": name.title(), "profile": profile}
        # users.info reference: tz, tz_label and tz_offset (seconds east of UTC, now)
        offset = datetime.now(ZoneInfo(tz)).utcoffset() or timedelta(0)
        zone = {"tz": tz, "tz_label": tz, "tz_offset": int(offset.total_seconds())}
        return {"ok": True, "user": found | zone}

    def _apps_connections_open(self, body: dict[str, Any]) -> dict[str, Any]:
        if self.socket_url is None:
            return {"ok": False, "error": "socket_mode_not_enabled"}
        return {"ok": True, "url": self.socket_url}
