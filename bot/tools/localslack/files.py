"""Files in the local Slack: files.getUploadURLExternal hands out an upload URL on the server
(server.py keeps what is POSTed to it), files.completeUploadExternal shares the file in a
channel or a thread (answering only ids and titles, as Slack does), files.info gives its
permalink."""

from __future__ import annotations

import json
from typing import Any

from bot.tools.localslack.server import Server
from bot.tools.localslack.workspace import BOT_USER


class Files(Server):
    def _files_getUploadURLExternal(self, body: dict[str, Any]) -> dict[str, Any]:
        if not body.get("filename") or not str(body.get("length", "")).isdigit():
            return {"ok": False, "error": "invalid_arguments"}
        file_id = f"F{next(self._clock):08d}"
        with self._lock:
            self.uploads[file_id] = {"id": file_id, "name": body["filename"], "content": None}
        return {"ok": True, "file_id": file_id, "upload_url": f"{self.base}/upload/{file_id}"}

    def _files_completeUploadExternal(self, body: dict[str, Any]) -> dict[str, Any]:
        wanted = json.loads(body.get("files") or "[]")
        with self._lock:
            stored = [self.uploads.get(f.get("id", "")) for f in wanted]
        files = [
            {**f, "title": w.get("title") or f["name"]}
            for f, w in zip(stored, wanted, strict=True)
            if f is not None and f["content"] is not None
        ]
        if not wanted or len(files) != len(wanted):
            return {"ok": False, "error": "file_not_found"}
        # files.completeUploadExternal reference: the app shares only where it is a member
        # (chat:write.public does not cover files): not_in_channel
        if body.get("channel_id") and str(body["channel_id"]) in self.outside:
            return {"ok": False, "error": "not_in_channel"}
        if body.get("channel_id"):
            self.post(
                body["channel_id"],
                BOT_USER,
                body.get("initial_comment", ""),
                thread_ts=body.get("thread_ts") or None,
                files=files,
            )
        return {"ok": True, "files": [{"id": f["id"], "title": f["title"]} for f in files]}

    def _files_info(self, body: dict[str, Any]) -> dict[str, Any]:
        refused = self._scope("files:read")
        if refused:
            return refused
        with self._lock:
            found = self.uploads.get(str(body.get("file") or ""))
        if found is None or found["content"] is None:
            return {"ok": False, "error": "file_not_found"}
        # as Slack writes a file's address: https://<team>.slack.com/files/<user>/<id>/<name>
        link = f"https://local.slack.com/files/{BOT_USER}/{found['id']}/{found['name']}"
        return {"ok": True, "file": {**found, "content": None, "permalink": link}}
