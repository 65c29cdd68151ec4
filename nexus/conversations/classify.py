"""Traffic classes (DESIGN.md §4): what kind of call a request is, from its path, headers and body.

Recognises Claude Code's calls by structure and by the markers its versions use: the quota probe
(``max_tokens: 1``, user text ``quota``), count_tokens, the haiku helpers (title, topic, summary,
warmup, suggestion), the compaction call that writes a summary, and sub-agent turns (agent header,
``cc_is_subagent`` billing line or the sub-agent system prompt). Anything unrecognised is ``other``
(never an error); a plain Messages call from any client is a ``turn``. Pure: no I/O.
"""

from __future__ import annotations

import re
from typing import Any

from nexus.conversations.normalize import is_compaction_prompt
from nexus.records import Headers, TrafficClass
from nexus.wire import strip_reminders

BACKGROUND_CLASSES = frozenset(
    {
        TrafficClass.QUOTA,
        TrafficClass.COUNT_TOKENS,
        TrafficClass.TITLE,
        TrafficClass.TOPIC,
        TrafficClass.SUMMARY,
        TrafficClass.WARMUP,
        TrafficClass.SUGGESTION,
        TrafficClass.OTHER,
    }
)
"""Calls that attach to their session but never take a place in a conversation tree."""

_COMPACTION_SYSTEM = "you are a helpful ai assistant tasked with summarizing conversations"
_TOPIC_MARKERS = ("isnewtopic", "indicates a new conversation topic")
_SUMMARY_MARKERS = ("summarize this coding conversation", "summarise this coding conversation")
_TITLE_MARKERS = ("word title", "sentence-case title", "title for the conversation",
                  "generate a title", "concise title")  # fmt: skip
_SUGGESTION = re.compile(r"\bsuggest(?:ion|ions|ed)?\b.{0,80}\b(?:prompt|next|user)\b", re.DOTALL)
_SUBAGENT_MARKERS = ("cc_is_subagent=true", "you are an agent for claude code")
_CLAUDE_CODE_MARKERS = ("x-anthropic-billing-header", "you are claude code")


def classify(method: str, path: str, headers: Headers, body: dict[str, Any] | None) -> TrafficClass:
    path = path.rstrip("/")
    if path.endswith("/count_tokens"):
        return TrafficClass.COUNT_TOKENS
    if method.upper() != "POST" or not path.endswith("/v1/messages") or body is None:
        return TrafficClass.OTHER
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return TrafficClass.OTHER
    user_texts = [
        _message_text(m) for m in messages if isinstance(m, dict) and m.get("role") == "user"
    ]
    last_user = next((t for t in reversed(user_texts) if t), "")
    lowered_last = last_user.lower()
    system = _system_text(body.get("system")).lower()
    header = {k.lower(): v for k, v in headers}
    if body.get("max_tokens") == 1 and lowered_last == "quota":
        return TrafficClass.QUOTA
    if [t.lower() for t in user_texts if t] == ["warmup"]:
        return TrafficClass.WARMUP
    if (
        header.get("x-stainless-helper") == "compaction"
        or is_compaction_prompt(last_user)
        or _COMPACTION_SYSTEM in system
    ):
        return TrafficClass.COMPACTION
    if not body.get("tools"):
        helper = _helper_class(system, lowered_last, body)
        if helper is not None:
            return helper
    if "x-claude-code-agent-id" in header or any(m in system for m in _SUBAGENT_MARKERS):
        return TrafficClass.SUBAGENT
    if not body.get("tools") and _is_claude_code(header, system):
        return TrafficClass.OTHER  # a Claude Code helper this version of Nexus does not know
    return TrafficClass.TURN


def _helper_class(system: str, last_user: str, body: dict[str, Any]) -> TrafficClass | None:
    text = system + "\n" + last_user
    if any(m in text for m in _TOPIC_MARKERS):
        return TrafficClass.TOPIC
    if any(m in system for m in _SUMMARY_MARKERS):
        return TrafficClass.SUMMARY
    schema_fields = _schema_fields(body)
    if schema_fields == {"title"} or any(m in text for m in _TITLE_MARKERS):
        return TrafficClass.TITLE
    if any(m in last_user for m in _SUMMARY_MARKERS):
        return TrafficClass.SUMMARY
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


def _message_text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        text = content
    elif isinstance(content, list):
        text = "\n".join(
            b["text"]
            for b in content
            if isinstance(b, dict) and b.get("type") == "text" and isinstance(b.get("text"), str)
        )
    else:
        return ""
    text = strip_reminders(text)
    return text.strip()


def _system_text(system: Any) -> str:
    if isinstance(system, str):
        return system
    if isinstance(system, list):
        return "\n".join(
            b["text"] for b in system if isinstance(b, dict) and isinstance(b.get("text"), str)
        )
    return ""
