"""The conversation's prompt-cache breaks, as a note in the analysis input, so the model's advice
can name them (issue 19). Read from the summaries the loader already has: each carries its
``cache_break`` (``nexus/cache/``), so no store read is added. Pure text; the newest breaks are
kept when there are many.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from nexus.records import CACHE_CAUSE_LABELS, RequestSummary

MAX_BREAKS = 20


def cache_breaks_note(summaries: Sequence[RequestSummary]) -> str:
    """One line per break, oldest first, with totals; "" when the conversation had none."""
    broken = [s for s in summaries if s.cache_break is not None]
    if not broken:
        return ""
    broken.sort(key=lambda s: (s.started_at_ms, s.id))
    lost = sum((s.cache_break.excess_cost_usd_micros or 0) for s in broken if s.cache_break)
    lines = [
        f"[Nexus cache ledger: this conversation broke the prompt cache {len(broken)} times, "
        f"costing ${lost / 1_000_000:.2f} more than reading the cache would have. "
        "Mention the avoidable ones in your advice.]"
    ]
    if len(broken) > MAX_BREAKS:
        lines.append(f"(the newest {MAX_BREAKS} are listed)")
        broken = broken[-MAX_BREAKS:]
    for summary in broken:
        cb = summary.cache_break
        assert cb is not None
        when = datetime.fromtimestamp(summary.started_at_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M")
        cost = (
            "" if cb.excess_cost_usd_micros is None else f", ${cb.excess_cost_usd_micros / 1e6:.2f}"
        )
        lines.append(
            f"- {when} UTC, request {summary.id}: {CACHE_CAUSE_LABELS[cb.cause]} "
            f"({cb.detail}); {cb.missed_tokens:,} tokens written again{cost}"
        )
    return "\n".join(lines)
