"""One conversation's numbers for the screen: turns, model time, tool-execution time, the person's
reply time, tokens and cost by branch, and what an analysis read. Pure: a ``ConversationTree`` in,
plain data out. The tree itself is shaped by ``nexus.conversations.shape``.

Gaps are read from summaries only: the time between a request's end and its child's start was spent
running tools when the parent stopped for ``tool_use``, and waiting for the person otherwise.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from nexus.conversations.shape import branch_path, build_view
from nexus.records import ConversationTree, RequestSummary
from nexus.usage.totals import totals


@dataclass(frozen=True, slots=True)
class BranchTotals:
    name: str
    requests: int
    input_tokens: int
    output_tokens: int
    cache_tokens: int
    cost_usd_micros: int
    unpriced: int


@dataclass(frozen=True, slots=True)
class Numbers:
    requests: int
    turns: int  # main-agent requests
    prompts: int  # turns that answer the person rather than a tool result
    subagent_requests: int
    compactions: int
    background: int
    model_ms: int  # time the model spent answering agent requests
    tool_ms: int  # from a tool_use response to the request carrying its result
    person_ms: int  # from an answer to the person's next message
    wall_ms: int
    branches: list[BranchTotals]


def _branch_totals(name: str, rows: list[RequestSummary]) -> BranchTotals:
    t = totals(rows)
    u = t.usage
    return BranchTotals(
        name,
        t.requests,
        u.input_tokens,
        u.output_tokens,
        u.cache_read_input_tokens + u.cache_creation_input_tokens,
        t.cost_usd_micros,
        t.unpriced,
    )


def numbers(tree: ConversationTree) -> Numbers:
    by_id = {r.id: r for r in tree.nodes}
    model_ms = tool_ms = person_ms = 0
    by_branch: dict[str, list[RequestSummary]] = defaultdict(list)
    turns = prompts = subagents = compactions = background = 0
    for row in tree.nodes:
        klass = str(row.traffic_class) if row.traffic_class else "other"
        if row.is_background:
            background += 1
        else:
            model_ms += row.duration_ms
        if klass == "turn":
            turns += 1
        elif klass == "subagent":
            subagents += 1
        elif klass == "compaction":
            compactions += 1
        gap = gap_before(row, by_id)
        if gap is not None:
            ms, is_tool = gap
            if is_tool:
                tool_ms += ms
            elif klass == "turn":
                person_ms += ms
        if is_prompt(row, by_id):
            prompts += 1
        by_branch[row.branch or "main"].append(row)
    order = {b.name: i for i, b in enumerate(tree.branches)}
    branches = [
        _branch_totals(name, rows)
        for name, rows in sorted(
            by_branch.items(), key=lambda kv: (order.get(kv[0], 1 << 30), kv[0])
        )
    ]
    starts = [r.started_at_ms for r in tree.nodes]
    ends = [r.started_at_ms + r.duration_ms for r in tree.nodes]
    return Numbers(
        requests=len(tree.nodes),
        turns=turns,
        prompts=prompts,
        subagent_requests=subagents,
        compactions=compactions,
        background=background,
        model_ms=model_ms,
        tool_ms=tool_ms,
        person_ms=person_ms,
        wall_ms=(max(ends) - min(starts)) if starts else 0,
        branches=branches,
    )


def gap_before(row: RequestSummary, by_id: dict[str, RequestSummary]) -> tuple[int, bool] | None:
    """Time between the parent's end and this request's start on the same branch, and whether
    tools filled it."""
    parent = by_id.get(row.parent_request_id or "")
    if parent is None or row.is_background or parent.is_background:
        return None
    if (row.branch or "main") != (parent.branch or "main"):
        return None  # a rewind or a compaction starts here: not a wait for tools or the person
    gap = row.started_at_ms - (parent.started_at_ms + parent.duration_ms)
    if gap < 0:
        return None
    return gap, parent.stop_reason == "tool_use"


def is_prompt(row: RequestSummary, by_id: dict[str, RequestSummary]) -> bool:
    """A main-agent turn a person typed: not one that only carries tool results back."""
    return str(row.traffic_class) == "turn" and not _answers_tool(row, by_id)


def _answers_tool(row: RequestSummary, by_id: dict[str, RequestSummary]) -> bool:
    parent = by_id.get(row.parent_request_id or "")
    return parent is not None and parent.stop_reason == "tool_use"


def analysis_basis(tree: ConversationTree, branch: str, job: dict[str, Any]) -> tuple[int, int]:
    """What an analysis read: the requests of the branch's agent that led to it (``branch_path``,
    as the analysis loader reads them) that had started when the job ran, and how many came after
    (the result is stale when any did)."""
    ran_at = int(job.get("started_at_ms") or 0)
    rows = branch_path(build_view(tree.summary.id, tree.nodes, tree.branches), branch)
    before = sum(1 for r in rows if r.started_at_ms <= ran_at)
    return before, len(rows) - before
