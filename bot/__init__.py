"""opsbot: a Slack chat-ops bot that runs Prompt-Base's maintenance plan."""

__version__ = "0.1.0"
