"""Record factories: ``make_record(**overrides)`` builds a realistic Claude Code ``RequestRecord``.

Overrides name either an ``Exchange`` field (``id``, ``started_at_ms``, ``host``, ``status``,
``request_body``, ``account_id`` …), a ``RequestRecord`` field (``model``, ``session_id``,
``usage``, ``cost_usd_micros`` …), or one of the shortcuts below; everything else gets a plausible
default: a streaming ``POST /v1/messages`` whose body ends with ``user_text`` and whose reply is
``reply_text``.

Shortcuts: ``user_text``, ``reply_text``, ``history`` (earlier messages, a list of dicts),
``duration_ms``, ``ttfb_ms``, ``system`` (a system prompt string), ``tools`` (a tool list: with
one, the linker classifies the request as a main-agent ``turn``; ``BASH_TOOL`` is a ready one).
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import orjson

from nexus.records import Exchange, Outcome, RequestRecord, Usage, new_id, now_ms

BASH_TOOL = {
    "name": "Bash",
    "description": "Run a shell command",
    "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}},
}
_EXCHANGE_FIELDS = {f.name for f in dataclasses.fields(Exchange)}
_RECORD_FIELDS = {f.name for f in dataclasses.fields(RequestRecord)} - {"exchange"}


def make_body(
    user_text: str,
    *,
    model: str = "claude-opus-4-8",
    history: list[dict[str, Any]] | None = None,
    system: str = "You are Claude Code, Anthropic's official CLI for Claude.",
    stream: bool = True,
    tools: list[dict[str, Any]] | None = None,
) -> bytes:
    messages = list(history or [])
    messages.append(
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "<system-reminder>be brief</system-reminder>"},
                {"type": "text", "text": user_text},
            ],
        }
    )
    body: dict[str, Any] = {
        "model": model,
        "max_tokens": 64000,
        "system": [{"type": "text", "text": system}],
        "messages": messages,
        "stream": stream,
    }
    if tools:
        body["tools"] = tools
    return orjson.dumps(body)


def make_message(reply_text: str, *, model: str = "claude-opus-4-8", usage: Usage) -> bytes:
    return orjson.dumps(
        {
            "id": "msg_" + new_id()[:24],
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [{"type": "text", "text": reply_text}],
            "stop_reason": "end_turn",
            "usage": {"input_tokens": usage.input_tokens, "output_tokens": usage.output_tokens},
        }
    )


def make_sse(message: bytes) -> bytes:
    return b"event: message_start\ndata: " + message + b"\n\nevent: message_stop\ndata: {}\n\n"


def make_record(**overrides: Any) -> RequestRecord:
    started = overrides.pop("started_at_ms", None) or now_ms()
    record_id = overrides.pop("id", None) or new_id(started)
    user_text = overrides.pop("user_text", "fix the failing test")
    reply_text = overrides.pop("reply_text", "Done: the test passes now.")
    history = overrides.pop("history", None)
    system = overrides.pop("system", "You are Claude Code, Anthropic's official CLI for Claude.")
    tools = overrides.pop("tools", None)
    duration_ms = overrides.pop("duration_ms", 1200)
    ttfb_ms = overrides.pop("ttfb_ms", 300)
    model = overrides.get("model", "claude-opus-4-8")
    is_streaming = overrides.get("is_streaming", True)
    usage = overrides.get("usage", Usage(input_tokens=12, output_tokens=34))
    message = make_message(reply_text, model=model, usage=usage)
    body = make_body(
        user_text, model=model, history=history, system=system, stream=is_streaming, tools=tools
    )

    exchange_values: dict[str, Any] = {
        "id": record_id,
        "started_at_ms": started,
        "ended_at_ms": started + duration_ms,
        "first_byte_at_ms": None if ttfb_ms is None else started + ttfb_ms,
        "method": "POST",
        "path": "/v1/messages",
        "query": "beta=true",
        "host": "localhost:3000",
        "request_headers": (
            ("anthropic-version", "2023-06-01"),
            ("x-api-key", "[redacted]"),
            ("content-type", "application/json"),
        ),
        "request_body": body,
        "status": 200,
        "response_headers": (
            ("content-type", "text/event-stream" if is_streaming else "application/json"),
            ("request-id", "req_" + record_id[:20]),
        ),
        "response_body": make_sse(message) if is_streaming else message,
        "outcome": Outcome.COMPLETE,
    }
    record_values: dict[str, Any] = {
        "model": model,
        "is_streaming": is_streaming,
        "response_message": message,
        "usage": usage,
        "stop_reason": "end_turn",
        "ratelimit": (("anthropic-ratelimit-unified-5h-utilization", "0.25"),),
        "cost_usd_micros": 1234,
        "user_preview": user_text[:200],
        "reply_preview": reply_text[:200],
        "message_count": len(history or []) + 1,
    }
    for key, value in overrides.items():
        if key in _EXCHANGE_FIELDS:
            exchange_values[key] = value
        elif key in _RECORD_FIELDS:
            record_values[key] = value
        else:
            raise TypeError(f"make_record() got an unknown field {key!r}")
    return RequestRecord(exchange=Exchange(**exchange_values), **record_values)


def turn(previous: RequestRecord | None, text: str, at_ms: int, **overrides: Any) -> RequestRecord:
    """The next call of a conversation: ``previous``'s history and reply, then ``text``; the same
    session and account. ``previous=None`` starts one."""
    history = None
    if previous is not None:
        body = orjson.loads(previous.exchange.request_body)
        reply = orjson.loads(previous.response_message or b"{}")
        history = body["messages"] + [{"role": "assistant", "content": reply["content"]}]
        overrides.setdefault("session_id", previous.session_id)
        overrides.setdefault("account_id", previous.exchange.account_id)
    return make_record(
        started_at_ms=at_ms, user_text=text, history=history, tools=[BASH_TOOL], **overrides
    )


def oauth_credentials(account_id: str, client_api_key: str, access_token: str) -> dict[str, Any]:
    """A team-mode OAuth account's credentials file (as ``nexus auth`` writes it), valid an hour."""
    return {
        "type": "oauth", "accountId": account_id, "client_api_key": client_api_key,
        "oauth": {"accessToken": access_token, "refreshToken": "rt", "scopes": ["user:inference"],
                  "expiresAt": int((time.time() + 3600) * 1000)},
    }  # fmt: skip


def kill_spool(spool: Any) -> None:
    """What kill -9 does to a proxy's Spool: no fsync, no close(); the kernel drops the
    descriptors, and with them the folder's lock. Written bytes stay (the page cache)."""
    import os

    os.close(spool._fd)
    os.close(spool._lock_fd)
    spool._fd = spool._lock_fd = None
