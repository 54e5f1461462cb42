"""Write the README walk-through's three Jira webhooks into a folder: ENG-1 created 16
days ago, started 14 days ago, done 9 days ago — dated from today, so the forecast they
feed always has recent history (in a finished week: forecasts count whole weeks).

    .venv/bin/python docs/walkthrough/jira_issue.py walkthrough/
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ADA = {
    "accountId": "5b10ac8d82e05b22",
    "displayName": "Ada Lovelace",
    "emailAddress": "ada@example.org",
}


def issue(now: datetime, status: str, category: str) -> dict[str, Any]:
    return {
        "id": "10001",
        "key": "ENG-1",
        "fields": {
            "summary": "Export the dashboard",
            "issuetype": {"name": "Story"},
            "project": {"key": "ENG"},
            "status": {"name": status, "statusCategory": {"key": category}},
            "assignee": ADA,
            "reporter": ADA,
            "created": (now - timedelta(days=16)).isoformat(),
        },
    }


def moved(
    now: datetime, n: int, old: str, new: str, category: str, days_ago: int
) -> dict[str, Any]:
    return {
        "webhookEvent": "jira:issue_updated",
        "timestamp": int((now - timedelta(days=days_ago)).timestamp() * 1000),
        "user": ADA,
        "issue": issue(now, new, category),
        "changelog": {
            "id": str(n),
            "items": [{"field": "status", "fromString": old, "toString": new}],
        },
    }


def webhooks(now: datetime) -> dict[str, dict[str, Any]]:
    """The deliveries by file name, in the order Jira sends them."""
    return {
        "1-created.json": {
            "webhookEvent": "jira:issue_created",
            "user": ADA,
            "issue": issue(now, "To Do", "new"),
        },
        "2-started.json": moved(now, 1, "To Do", "In Progress", "indeterminate", 14),
        "3-done.json": moved(now, 2, "In Progress", "Done", "done", 9),
    }


def main(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, hook in webhooks(datetime.now(UTC)).items():
        (folder / name).write_text(json.dumps(hook, indent=2), encoding="utf-8")
        written.append(folder / name)
    return written


if __name__ == "__main__":
    for path in main(Path(sys.argv[1] if len(sys.argv) > 1 else "walkthrough")):
        print(path)
