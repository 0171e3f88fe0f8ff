"""The plan's recurring tasks, as checklists whose items people mark done."""

from __future__ import annotations

WEEKLY = ["Dependency updates", "Backup verification", "Performance review", "Bug review meeting"]
MONTHLY = [
    "Minor dependency updates",
    "Security audit",
    "Database optimization",
    "Cost review",
    "Feature review",
]
QUARTERLY = [
    "Major dependency updates",
    "Architecture review",
    "Security penetration testing",
    "Performance optimization",
]
ANNUAL = [
    "Technology stack review",
    "Infrastructure review",
    "Disaster recovery testing",
    "Legal/compliance review",
]
CHECKLISTS = {"weekly": WEEKLY, "monthly": MONTHLY, "quarterly": QUARTERLY, "annual": ANNUAL}
