"""The domain: what several commands and jobs share, with a small public surface each:
incidents (opening and joining one, its rules, what it owes Slack and third parties,
publishing an outcome), who is on call, the health readings, the maintenance log, the
public status and notices, the security audit. It imports only the core; commands/ and
jobs/ call it, and never each other's handlers or renderers."""
