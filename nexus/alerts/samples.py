"""One made-up alert of each kind, for ``nexus alerts test``: what a team will see, marked as a
test, with plausible fields and no real data."""

from __future__ import annotations

from nexus.alerts.event import Alert, AlertKind, make_alert

TEST_MARK = "[test] "


def sample_alerts(host: str) -> list[Alert]:
    """An alert of every kind for ``host`` ("" for the global destinations)."""
    samples: dict[AlertKind, tuple[str, str | None, dict[str, object]]] = {
        AlertKind.SOFT_LIMIT: (
            "alice has used 80% of her 200 000 tokens per hour",
            "alice", {"limit": "tokens per hour", "used": "160 000 of 200 000", "resets": "in 23 min"},
        ),
        AlertKind.HARD_LIMIT: (
            "alice was refused: over 60 requests per minute (429 sent)",
            "alice", {"limit": "requests per minute", "retry after": "34 s"},
        ),
        AlertKind.RUNAWAY: (
            "session 3f2a… repeated the same Bash call 12 times in a row",
            "bob", {"tool": "Bash", "input": "npm test", "repeats": 12, "refused": "yes"},
        ),
        AlertKind.WINDOW_FORECAST: (
            "the 5h window of acct-team will be full before it resets",
            "acct-team", {"utilization": "62%", "burn rate": "31.0% per hour",
                          "full at this rate": "in 1 h 13 min", "resets": "in 2 h 40 min"},
        ),
        AlertKind.UPSTREAM_ERRORS: (
            "5 upstream errors in the last 60 s", None,
            {"latest": "HTTP 529", "error": "overloaded_error"},
        ),
        AlertKind.OAUTH_REFRESH_FAILED: (
            "OAuth token refresh failed for account acct-team: invalid_grant", "acct-team",
            {"fix": f"nexus auth login {host or 'HOST'}"},
        ),
        AlertKind.TURN: (
            "turn in session 3f2a…", "alice",
            {"prompt": "why does CI fail on main?",
             "reply": "The cache key changed in ci.yml.\nFix: pin it to the lock file's hash.",
             "tools": "• Bash: pytest -x tests/\n• Read: .github/workflows/ci.yml",
             "model": "claude-opus-4-8", "tokens": "41 200 in · 820 out", "cost": "$0.0842"},
        ),
    }  # fmt: skip
    return [
        make_alert(kind, host, TEST_MARK + message, subject=subject, fields=fields)
        for kind, (message, subject, fields) in samples.items()
    ]
