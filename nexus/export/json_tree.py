"""The json export: one conversation as a tree, for programs.

Shape (``nexus_conversation: 1``): ``totals``; ``nodes``, the flat list of every request with its
links (``parent_request_id``, ``branch``, ``subtask_of``, ``traffic_class``) — the raw tree;
``threads``, the same requests arranged for reading: the main thread, then branches (each with the
``anchor_request_id`` it forks after), every turn carrying its new ``input`` messages, its
``output`` and the sub-agent ``threads`` it spawned; and ``background`` calls. Texts are scrubbed
of key-shaped strings; the exact bodies are in the jsonl export.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from nexus.conversations.shape import ConversationView, Thread
from nexus.export.figures import totals
from nexus.export.scrub import scrub_text
from nexus.export.source import ExportSource
from nexus.export.transcript import Block, Message, TurnContent
from nexus.export.walk import ThreadEnd, ThreadStart, TurnShown, walk
from nexus.records import RequestSummary, Usage

FORMAT_VERSION = 1

WriteBytes = Callable[[bytes], object]


def _usage(u: Usage) -> dict[str, int]:
    return {
        "input_tokens": u.input_tokens,
        "output_tokens": u.output_tokens,
        "cache_creation_input_tokens": u.cache_creation_input_tokens,
        "cache_creation_5m_tokens": u.cache_creation_5m_tokens,
        "cache_creation_1h_tokens": u.cache_creation_1h_tokens,
        "cache_read_input_tokens": u.cache_read_input_tokens,
    }


def node_dict(s: RequestSummary) -> dict[str, Any]:
    return {
        "request_id": s.id,
        "parent_request_id": s.parent_request_id,
        "branch": s.branch,
        "subtask_of": s.subtask_of,
        "traffic_class": None if s.traffic_class is None else s.traffic_class.value,
        "agent_id": s.agent_id,
        "session_id": s.session_id,
        "started_at_ms": s.started_at_ms,
        "duration_ms": s.duration_ms,
        "model": s.model,
        "status": s.status,
        "stop_reason": s.stop_reason,
        "usage": _usage(s.usage),
        "cost_usd_micros": s.cost_usd_micros,
        "user_preview": scrub_text(s.user_preview),
        "reply_preview": scrub_text(s.reply_preview),
    }


def _block(b: Block) -> dict[str, Any]:
    out: dict[str, Any] = {"type": b.kind, "text": scrub_text(b.text)}
    if b.name is not None:
        out["name"] = b.name
    if b.tool_id is not None:
        out["tool_id"] = b.tool_id
    if b.is_error:
        out["is_error"] = True
    return out


def _message(m: Message) -> dict[str, Any]:
    return {"role": m.role, "content": [_block(b) for b in m.blocks]}


def _turn(event: TurnShown, c: TurnContent) -> dict[str, Any]:
    return {
        "number": event.number,
        **node_dict(event.turn.summary),
        "input": [_message(m) for m in c.inputs],
        "output": None if c.output is None else _message(c.output),
        "error": None if c.error is None else scrub_text(c.error),
        "subagents": [],
    }


def _thread(thread: Thread, title: str) -> dict[str, Any]:
    return {
        "kind": thread.kind,
        "title": scrub_text(title),
        "branch": thread.branch,
        "anchor_request_id": thread.anchor_id,
        "turns": [],
    }


async def conversation_dict(
    source: ExportSource, view: ConversationView, *, branch: str | None = None
) -> dict[str, Any]:
    t = totals(view)
    threads: list[dict[str, Any]] = []
    stack: list[dict[str, Any]] = []  # open threads, innermost last
    for_turn: list[dict[str, Any]] = []  # the last turn of each open thread
    async for event in walk(source, view):
        if isinstance(event, ThreadStart):
            thread = _thread(event.thread, event.title)
            (for_turn[-1]["subagents"] if stack else threads).append(thread)
            stack.append(thread)
            for_turn.append({"subagents": []})
        elif isinstance(event, TurnShown):
            turn = _turn(event, event.content)
            stack[-1]["turns"].append(turn)
            for_turn[-1] = turn
        elif isinstance(event, ThreadEnd):
            stack.pop()
            for_turn.pop()
    return {
        "nexus_conversation": FORMAT_VERSION,
        "id": view.id,
        "branch": branch,
        "totals": {
            "requests": t.requests,
            "by_class": t.by_class,
            "models": list(t.models),
            "branches": list(t.branches),
            "subagents": t.subagents,
            "started_at_ms": t.started_at_ms,
            "ended_at_ms": t.ended_at_ms,
            "usage": _usage(t.usage),
            "cost_usd_micros": t.cost_usd_micros,
            "unpriced_requests": t.unpriced,
        },
        "nodes": [node_dict(s) for s in sorted(view.requests + view.background, key=_by_time)],
        "threads": threads,
        "background": [node_dict(s) for s in view.background],
    }


def _by_time(s: RequestSummary) -> tuple[int, str]:
    return (s.started_at_ms, s.id)


async def write_json(
    source: ExportSource,
    view: ConversationView,
    write: WriteBytes,
    *,
    branch: str | None = None,
) -> None:
    data = await conversation_dict(source, view, branch=branch)
    write(orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE))
