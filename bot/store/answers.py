"""When the request being answered (a slash command, a click) must have its answer: a write
made for it waits no longer, however long the request waited before it. "Busy, nothing
changed" in time is better than an answer Slack has given up on with the change made
behind it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_ANSWER_BY: ContextVar[float | None] = ContextVar("opsbot_answer_by", default=None)


@contextmanager
def answering(by: float) -> Iterator[None]:
    """Writes made inside (and in the listener threads it hands work to, bot/pools.py) end
    by `by`, a time.monotonic() value, or fail with StoreBusy."""
    token = _ANSWER_BY.set(by)
    try:
        yield
    finally:
        _ANSWER_BY.reset(token)


def answered() -> None:
    """The request is answered: what its listener writes after that has the whole budget."""
    _ANSWER_BY.set(None)


def answer_by() -> float:
    """The time.monotonic() by which the request being answered needs its writes done
    (infinity outside one)."""
    by = _ANSWER_BY.get()
    return float("inf") if by is None else by
