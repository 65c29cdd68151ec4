"""The branch transcript sent for analysis: Anthropic request/response bodies turned into
alternating user/model turns, secrets redacted, fitted to the model's input budget.

Pure functions over bytes: reading the requests from the store happens in ``loader.py``. Claude Code
resends the whole history on every call, so the transcript of a run of requests is the history of
its last request plus that request's response; a request whose history does not extend the previous
one (a compaction restarted it from a summary) starts a new segment; segments are joined in order.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import orjson

from nexus.analysis.redact import redact_text
from nexus.wire import ContentBlock, content_blocks, strip_reminders, tool_result_text

Role = Literal["user", "model"]
CHARS_PER_TOKEN = 3  # conservative for code and JSON-heavy text, so the estimate rarely undershoots
TOOL_INPUT_CHARS = 160
TOOL_RESULT_CHARS = 240
COMPACTION_MARK = (
    "[Nexus: the context was compacted here; the conversation continues from a summary.]"
)

_SUMMARY_KEYS = (
    "command",
    "file_path",
    "path",
    "pattern",
    "url",
    "query",
    "description",
    "prompt",
    "skill",
)


@dataclass(frozen=True, slots=True)
class Turn:
    role: Role
    text: str


@dataclass(frozen=True, slots=True)
class Transcript:
    """The turns to send, and what was left out to fit (``note`` is empty when nothing was cut)."""

    turns: tuple[Turn, ...]
    total_turns: int
    omitted_turns: int = 0
    omitted_chars: int = 0
    note: str = ""

    @property
    def chars(self) -> int:
        return sum(len(t.text) for t in self.turns)


# -- bodies → turns -----------------------------------------------------------------------------


def build_turns(exchanges: Iterable[tuple[bytes, bytes | None]]) -> list[Turn]:
    """Turns of a branch from its requests in order, as (request body, assembled response) pairs.

    Housekeeping requests need not be filtered out first only if their history does not look like a
    continuation; callers pass the branch's main-agent turns.
    """
    segments: list[list[dict[str, Any]]] = []
    for request_body, response_message in exchanges:
        history = _history(request_body, response_message)
        if not history:
            continue
        if segments and _continues(segments[-1], history):
            segments[-1] = history
        else:
            segments.append(history)
    turns: list[Turn] = []
    for index, segment in enumerate(segments):
        if index:
            turns.append(Turn("user", COMPACTION_MARK))
        for message in segment:
            turn = _message_turn(message)
            if turn is not None:
                turns.append(turn)
    return _merge(turns)


def _history(request_body: bytes, response_message: bytes | None) -> list[dict[str, Any]]:
    try:
        body = orjson.loads(request_body)
    except orjson.JSONDecodeError:
        return []
    messages = body.get("messages") if isinstance(body, dict) else None
    if not isinstance(messages, list):
        return []
    history = [
        m for m in messages if isinstance(m, dict) and m.get("role") in ("user", "assistant")
    ]
    if response_message:
        try:
            reply = orjson.loads(response_message)
        except orjson.JSONDecodeError:
            reply = None
        if isinstance(reply, dict) and reply.get("content"):
            history.append({"role": "assistant", "content": reply["content"]})
    return history


def _continues(previous: list[dict[str, Any]], history: list[dict[str, Any]]) -> bool:
    # The previous history ends with its response; a continuation holds at least its request part
    # and starts with the same first message (a compaction restarts from a summary message).
    if len(history) < len(previous) - 1:
        return False
    return _first_text(previous) == _first_text(history)


def _first_text(history: list[dict[str, Any]]) -> str:
    turn = _message_turn(history[0])
    return turn.text if turn else ""


def _message_turn(message: dict[str, Any]) -> Turn | None:
    role: Role = "model" if message.get("role") == "assistant" else "user"
    parts = [p for p in map(_block_text, content_blocks(message.get("content"))) if p]
    if not parts:
        return None
    return Turn(role, redact_text("\n\n".join(parts)))


def _block_text(block: ContentBlock) -> str:
    if block.kind == "text":
        return strip_reminders(block.text).strip()
    if block.type == "tool_use":  # a server tool's call (web search) is left out, as thinking is
        name = "?" if block.name is None else block.name
        return f"[tool call {name}: {_summarise_input(block.input)}]"
    if block.kind == "tool_result":
        label = "tool error" if block.is_error else "tool result"
        text = _one_line(tool_result_text(block.content, " "))
        return f"[{label}: {_shorten(text, TOOL_RESULT_CHARS)}]"
    if block.kind in ("image", "document"):
        return f"[{block.kind}]"
    return ""  # thinking, redacted_thinking and unknown blocks say nothing the analysis needs


def _summarise_input(value: Any) -> str:
    if isinstance(value, dict):
        for key in _SUMMARY_KEYS:
            if isinstance(value.get(key), str) and value[key].strip():
                return f"{key}={_shorten(_one_line(value[key]), TOOL_INPUT_CHARS)}"
    raw = orjson.dumps(value).decode() if value is not None else ""
    return _shorten(raw, TOOL_INPUT_CHARS)


def _one_line(text: str) -> str:
    return " ".join(strip_reminders(text).split())


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _merge(turns: Sequence[Turn]) -> list[Turn]:
    """Adjacent turns of one role joined, so user and model alternate as Gemini expects."""
    merged: list[Turn] = []
    for turn in turns:
        if merged and merged[-1].role == turn.role:
            merged[-1] = Turn(turn.role, merged[-1].text + "\n\n" + turn.text)
        else:
            merged.append(turn)
    return merged


# -- fitting ------------------------------------------------------------------------------------


def fit_to_budget(turns: Sequence[Turn], max_chars: int) -> Transcript:
    """Keep the start and the end of the conversation within ``max_chars`` and say what was cut.

    Every turn is first capped (a single pasted log must not crowd out the rest); then, if still too
    long, whole turns are dropped from the middle, about a third of the budget kept from the start
    and the rest from the end, where the outcome is.
    """
    total = len(turns)
    if sum(len(t.text) for t in turns) <= max_chars:
        return Transcript(tuple(turns), total)
    cap = max(2_000, max_chars // 8)
    capped = [_cap(t, cap) for t in turns]
    cut_chars = sum(len(t.text) for t in turns) - sum(len(t.text) for t in capped)
    if sum(len(t.text) for t in capped) <= max_chars:
        note = f"{cut_chars} characters were cut from the middle of very long messages."
        return Transcript(tuple(capped), total, 0, cut_chars, note)

    room = max_chars - 400  # the marker turn itself
    head: list[Turn] = []
    used = 0
    for turn in capped:
        if used + len(turn.text) > room // 3:
            break
        head.append(turn)
        used += len(turn.text)
    tail: list[Turn] = []
    for turn in reversed(capped[len(head) :]):
        if used + len(turn.text) > room:
            break
        tail.append(turn)
        used += len(turn.text)
    tail.reverse()
    first_cut, last_cut = len(head) + 1, total - len(tail)
    dropped = capped[len(head) : total - len(tail)]
    omitted_chars = cut_chars + sum(len(t.text) for t in dropped)
    note = (
        f"Turns {first_cut}–{last_cut} of {total} "
        f"(about {omitted_chars // CHARS_PER_TOKEN} tokens) "
        "were left out to fit the model's input; the start and the end are complete."
    )
    marker = Turn("user", f"[Nexus: {note}]")
    fitted = _merge([*head, marker, *tail])
    return Transcript(tuple(fitted), total, len(dropped), omitted_chars, note)


def _cap(turn: Turn, limit: int) -> Turn:
    if len(turn.text) <= limit:
        return turn
    keep = limit // 2
    cut = len(turn.text) - 2 * keep
    return Turn(turn.role, f"{turn.text[:keep]}\n[… {cut} characters cut …]\n{turn.text[-keep:]}")
