"""Numbers as the human formats print them (times, durations, tokens, dollars) and the totals of a
conversation. Pure; shared by markdown, html and json so all three agree.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime

from nexus import numbers
from nexus.conversations.shape import ConversationView
from nexus.records import RequestSummary, Usage
from nexus.usage.totals import totals as totals_of


def format_time(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def format_clock(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%H:%M:%S")


format_duration = numbers.duration
format_tokens = numbers.tokens


def format_cost(micros: int | None) -> str:
    return "cost unknown" if micros is None else numbers.cost(micros)


def total_cost_line(t: ConversationTotals) -> str:
    if t.unpriced == t.requests:
        return "cost unknown"
    return format_cost(t.cost_usd_micros) + (f" ({t.unpriced} unpriced)" if t.unpriced else "")


def usage_line(u: Usage) -> str:
    parts = [f"in {format_tokens(u.input_tokens)}", f"out {format_tokens(u.output_tokens)}"]
    if u.cache_read_input_tokens:
        parts.append(f"cache read {format_tokens(u.cache_read_input_tokens)}")
    if u.cache_creation_input_tokens:
        parts.append(f"cache write {format_tokens(u.cache_creation_input_tokens)}")
    return " · ".join(parts)


def turn_line(s: RequestSummary) -> str:
    """The one-line figures under a turn's heading."""
    status = "no response" if s.status is None else f"HTTP {s.status}"
    return " · ".join(
        [
            usage_line(s.usage),
            format_cost(s.cost_usd_micros),
            format_duration(s.duration_ms),
            status,
        ]
    )


@dataclass(frozen=True, slots=True)
class ConversationTotals:
    requests: int
    by_class: dict[str, int]
    models: tuple[str, ...]
    branches: tuple[str, ...]
    subagents: int
    started_at_ms: int | None
    ended_at_ms: int | None
    usage: Usage
    cost_usd_micros: int
    unpriced: int  # requests whose cost is unknown (model not in the price book)


def totals(view: ConversationView) -> ConversationTotals:
    rows = list(view.requests) + list(view.background)
    by_class: Counter[str] = Counter(
        "unclassified" if s.traffic_class is None else s.traffic_class.value for s in rows
    )
    summed = totals_of(rows)
    subagents = sum(
        1 for t in view.all_turns() for sub in t.subagents if sub.kind == "subagent"
    ) + sum(1 for t in view.threads if t.kind == "subagent")
    return ConversationTotals(
        requests=len(rows),
        by_class=dict(sorted(by_class.items())),
        models=tuple(sorted({s.model for s in rows if s.model})),
        branches=tuple(dict.fromkeys(t.branch or "main" for t in view.threads)),
        subagents=subagents,
        started_at_ms=min((s.started_at_ms for s in rows), default=None),
        ended_at_ms=max((s.started_at_ms + s.duration_ms for s in rows), default=None),
        usage=summed.usage,
        cost_usd_micros=summed.cost_usd_micros,
        unpriced=summed.unpriced,
    )
