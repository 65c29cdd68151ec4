"""The reading order of a conversation as a stream of events, fetching one record per turn.

Markdown and html render the same walk: threads in order (main, then branches), each turn's
content read from its full record just before it is shown, sub-agent threads right after the turn
that spawned them. Only the turn being shown and the agent calls of its ancestors are in memory,
so a long conversation renders without holding its bodies.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from nexus.conversations.shape import ConversationView, Thread, Turn
from nexus.export.source import ExportSource, fetch_request
from nexus.export.transcript import TurnContent, match_agent_call, read_turn
from nexus.records import branch_kind


@dataclass(frozen=True, slots=True)
class ThreadStart:
    thread: Thread
    depth: int  # 0 for top-level threads, +1 per sub-agent level
    title: str


@dataclass(frozen=True, slots=True)
class TurnShown:
    turn: Turn
    content: TurnContent
    number: int
    depth: int


@dataclass(frozen=True, slots=True)
class ThreadEnd:
    thread: Thread
    depth: int


Event = ThreadStart | TurnShown | ThreadEnd


def thread_title(thread: Thread, numbers: dict[str, int], subagent_label: str = "") -> str:
    if thread.kind == "main":
        return f"Main thread ({thread.branch})" if thread.branch else "Main thread"
    if thread.kind == "branch":
        where = numbers.get(thread.anchor_id or "")
        name = thread.branch or thread.id[:8]
        if where is None:
            return f"Branch {name}"
        if branch_kind(name) == "compaction":
            return f"Branch {name}, continues after the compaction in turn {where}"
        return f"Branch {name}, forks after turn {where}"
    return f"Sub-agent: {subagent_label}" if subagent_label else "Sub-agent"


async def walk(source: ExportSource, view: ConversationView) -> AsyncIterator[Event]:
    numbers: dict[str, int] = {}  # turn id → its number in its thread; ints only, stays small
    for thread in view.threads:
        first = 1 if thread.anchor_id is None else numbers.get(thread.anchor_id, 0) + 1
        async for event in _walk_thread(source, thread, 0, first, numbers, None):
            yield event


async def _walk_thread(
    source: ExportSource,
    thread: Thread,
    depth: int,
    first_number: int,
    numbers: dict[str, int],
    first_content: TurnContent | None,
    label: str = "",
) -> AsyncIterator[Event]:
    yield ThreadStart(thread, depth, thread_title(thread, numbers, label))
    for i, turn in enumerate(thread.turns):
        content = first_content if i == 0 and first_content is not None else None
        if content is None:
            content = read_turn(await fetch_request(source, turn.id))
        number = first_number + i
        numbers[turn.id] = number
        yield TurnShown(turn, content, number, depth)
        for index, sub in enumerate(turn.subagents):
            sub_first = read_turn(await fetch_request(source, sub.turns[0].id))
            sub_label = _subagent_label(content, sub_first, sub, index)
            async for event in _walk_thread(
                source, sub, depth + 1, 1, numbers, sub_first, sub_label
            ):
                yield event
    yield ThreadEnd(thread, depth)


def _subagent_label(parent: TurnContent, first: TurnContent, sub: Thread, index: int) -> str:
    call = match_agent_call(parent.agent_calls, first.first_user_text(), index)
    agent = sub.turns[0].summary.agent_id
    if call is None:
        return agent or sub.id[:12]
    kind = f" ({call.subagent_type})" if call.subagent_type else ""
    return f"{call.description or 'task'}{kind}"
