"""Display names of Slack users, looked up once (bot/people.py) and kept."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Column, and_, or_, select

from bot.store.base import Repository
from bot.store.schema.records import people
from bot.store.sql import _iso, upsert


class PeopleStore(Repository):
    def names(self, users: Iterable[str]) -> dict[str, str]:
        """The display names known for `users` (those Slack could not name are left out)."""
        return self._known(people.c.name, users)

    def zones(self, users: Iterable[str]) -> dict[str, str]:
        """The time zones known for `users` (Slack's names for them)."""
        return self._known(people.c.tz, users)

    def _known(self, column: Column[str], users: Iterable[str]) -> dict[str, str]:
        wanted = list(dict.fromkeys(users))
        if not wanted:
            return {}
        query = select(people.c.user_id, column).where(
            column.is_not(None), people.c.user_id.in_(wanted)
        )
        with self._connect() as db:
            return {user: value for user, value in db.execute(query).all()}

    def asked_since(self, users: Iterable[str], since: datetime) -> set[str]:
        """Of `users`, those already named with their time zone, or asked about since
        `since` (someone named before time zones were kept is asked again, once a day)."""
        wanted = list(dict.fromkeys(users))
        if not wanted:
            return set()
        query = select(people.c.user_id).where(
            people.c.user_id.in_(wanted),
            or_(
                and_(people.c.name.is_not(None), people.c.tz.is_not(None)),
                people.c.looked_up_at >= _iso(since),
            ),
        )
        with self._connect() as db:
            return set(db.execute(query).scalars())

    def save_name(self, user: str, name: str | None, at: datetime, tz: str | None = None) -> None:
        """`name` None: Slack could not say (the id is shown, and asked again later). `tz`:
        their time zone as Slack has it (Europe/Berlin)."""
        with self._write() as db:
            put = upsert(db, people).values(user_id=user, name=name, looked_up_at=_iso(at), tz=tz)
            kept = ("name", "looked_up_at", "tz")
            db.execute(
                put.on_conflict_do_update(
                    index_elements=["user_id"], set_={k: put.excluded[k] for k in kept}
                )
            )
