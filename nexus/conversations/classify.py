"""Traffic classes (DESIGN.md §4): what kind of call a request is, from its path, headers and body.

Recognises Claude Code's calls by structure and by the markers its versions use
(``nexus.claude_code`` holds them): the quota probe (``max_tokens: 1``, user text ``quota``) and other
one-token probes, count_tokens, the compaction call that writes a summary, the helpers that fork
the whole conversation and add a prompt of their own (``/btw`` side questions, prompt suggestions,
recaps, memory extraction, ``/rename``), the tool-less haiku helpers (title, topic, summary,
suggestion), and sub-agent turns (agent header, ``cc_is_subagent`` billing line or the sub-agent
system prompt). Anything unrecognised is ``other`` (never an error); a plain Messages call from any
client is a ``turn``. Pure: no I/O.
"""

from __future__ import annotations

import re
from typing import Any

from nexus.claude_code import (
    FORK_HELPER_MARKERS,
    HELPER_MARKERS,
    REQUEST_CLASS_HEADER,
    SCHEMA_CLASSES,
    has_compaction_marker,
    is_compaction_prompt,
)
from nexus.records import BACKGROUND_CLASSES, Headers, TrafficClass
from nexus.wire import strip_reminders, system_text

__all__ = ["BACKGROUND_CLASSES", "classify"]

_COMPACTION_SYSTEM = "you are a helpful ai assistant tasked with summarizing conversations"
_SUGGESTION = re.compile(r"\bsuggest(?:ion|ions|ed)?\b.{0,80}\b(?:prompt|next|user)\b", re.DOTALL)
_SUBAGENT_MARKERS = ("cc_is_subagent=true", "you are an agent for claude code")
_CLAUDE_CODE_MARKERS = ("x-anthropic-billing-header", "you are claude code")
# Claude Code's own request-class header values that are never a turn of the conversation.
_HEADER_CLASSES = {"side_reply": TrafficClass.SIDE_QUESTION, "auxiliary": TrafficClass.OTHER}


def classify(method: str, path: str, headers: Headers, body: dict[str, Any] | None) -> TrafficClass:
    path = path.rstrip("/")
    if path.endswith("/count_tokens"):
        return TrafficClass.COUNT_TOKENS
    if method.upper() != "POST" or not path.endswith("/v1/messages") or body is None:
        return TrafficClass.OTHER
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return TrafficClass.OTHER
    raw_user_texts = [
        _raw_text(m) for m in messages if isinstance(m, dict) and m.get("role") == "user"
    ]
    user_texts = [strip_reminders(t).strip() for t in raw_user_texts]
    last_user = next((t for t in reversed(user_texts) if t), "")
    lowered_last = last_user.lower()
    system = system_text(body.get("system")).lower()
    header = {k.lower(): v for k, v in headers}
    if body.get("max_tokens") == 1:
        # The quota probe; any other one-token call (a prompt-cache warm on resume, a model
        # probe) only warms or checks, it answers nothing.
        return TrafficClass.QUOTA if lowered_last == "quota" else TrafficClass.WARMUP
    if [t.lower() for t in user_texts if t] == ["warmup"]:
        return TrafficClass.WARMUP
    if (
        header.get("x-stainless-helper") == "compaction"
        or header.get(REQUEST_CLASS_HEADER) == "compaction"
        or (is_compaction_prompt(last_user) and not has_compaction_marker(last_user))
        or _COMPACTION_SYSTEM in system
    ):
        return TrafficClass.COMPACTION
    fork_helper = _fork_helper_class(raw_user_texts)
    if fork_helper is not None:
        return fork_helper
    if not body.get("tools"):
        helper = _helper_class(system, lowered_last, body)
        if helper is not None:
            return helper
    by_header = _HEADER_CLASSES.get(header.get(REQUEST_CLASS_HEADER, ""))
    if by_header is not None:
        return by_header
    if "x-claude-code-agent-id" in header or any(m in system for m in _SUBAGENT_MARKERS):
        return TrafficClass.SUBAGENT
    if not body.get("tools") and _is_claude_code(header, system):
        return TrafficClass.OTHER  # a Claude Code helper this version of Nexus does not know
    return TrafficClass.TURN


def _fork_helper_class(raw_user_texts: list[str]) -> TrafficClass | None:
    """A helper that resends the conversation with a prompt of its own (reminders included: the
    side question's marker is one). Newest messages first: that is where the prompt sits."""
    for text in reversed(raw_user_texts):
        lowered = text.lower()
        for marker, name in FORK_HELPER_MARKERS:
            if marker in lowered:
                return TrafficClass(name)
    return None


def _helper_class(system: str, last_user: str, body: dict[str, Any]) -> TrafficClass | None:
    fields = _schema_fields(body)
    for schema, name in SCHEMA_CLASSES:
        if fields == schema:
            return TrafficClass(name)
    text = system + "\n" + last_user
    for marker, name in HELPER_MARKERS:
        if marker in text:
            return TrafficClass(name)
    if _SUGGESTION.search(text):
        return TrafficClass.SUGGESTION
    return None


def _schema_fields(body: dict[str, Any]) -> set[str]:
    """Property names of a structured-output JSON schema (``output_config.format``)."""
    config = body.get("output_config")
    fmt = config.get("format") if isinstance(config, dict) else None
    if not isinstance(fmt, dict):
        return set()
    schema = fmt.get("schema") or fmt.get("json_schema")
    if isinstance(schema, dict) and isinstance(schema.get("schema"), dict):
        schema = schema["schema"]
    props = schema.get("properties") if isinstance(schema, dict) else None
    return set(props) if isinstance(props, dict) else set()


def _is_claude_code(header: dict[str, str], system: str) -> bool:
    return (
        header.get("user-agent", "").startswith("claude-cli/")
        or header.get("x-app") == "cli"
        or any(m in system for m in _CLAUDE_CODE_MARKERS)
    )


def _raw_text(message: dict[str, Any]) -> str:
    """A message's text blocks, reminders included."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            b["text"]
            for b in content
            if isinstance(b, dict) and b.get("type") == "text" and isinstance(b.get("text"), str)
        )
    return ""
