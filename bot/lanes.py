"""Lanes: the outbox delivers a lane's rows one at a time in commit order, and lanes never
wait for each other. A Slack channel is a lane, and so is a topic within it (one incident);
Slack's pace is counted on the channel, for every lane in it."""

from __future__ import annotations


def slack_lane(channel: str, topic: str | None = None) -> str:
    """A channel's lane, or (with a topic, such as one incident) a lane of its own within
    the channel: its rows keep their order, and wait for no other topic's."""
    return f"slack:{channel}" + (f"/{topic}" if topic else "")


def pace_key(lane: str) -> str:
    """What Slack's pace is counted on: the channel, for every lane in it."""
    return lane.split("/", 1)[0]
