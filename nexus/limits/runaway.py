"""The runaway guard's reading of a request: is the agent repeating one tool call?

Claude Code resends the whole conversation on every call, so a loop is visible in the request
itself: the latest assistant turns all made the same tool call (same name, same input) and the
person typed nothing since. Reading it here needs no state, works the same on every replica and
costs a few element look-ups at the tail of a body the proxy already parses (simdjson DOM values,
duck-typed: ``get``, ``len``, indexing, ``mini`` for an input's canonical bytes). Only as many
assistant turns are read as the policy's ``repeats``.
"""

from __future__ import annotations

from typing import Any

_NOT_A_LIST = (str, type(None))  # content that holds no blocks (built once, not per call)


def repeated_tool_call(messages: Any, cap: int) -> tuple[str | None, int]:
    """(tool name, times in a row) of the agent's latest tool call, looking back ``cap`` assistant
    turns at most; (None, 0) when the latest user message holds anything a person typed."""
    try:
        count = len(messages)
    except TypeError:
        return None, 0
    if count < 2 or not _only_tool_results(messages[count - 1]):
        return None, 0
    first: tuple[tuple[str, object], ...] | None = None
    repeats = 0
    index = count - 1
    while index > 0 and repeats < cap:
        index -= 1
        message = messages[index]
        if _get(message, "role") != "assistant":
            if not _only_tool_results(message):
                break  # the person spoke in between: not a loop of the agent
            continue
        calls = _tool_calls(message)
        if not calls or (first is not None and calls != first):
            break
        first = calls
        repeats += 1
    return (first[0][0] if first else None), repeats


def _tool_calls(message: Any) -> tuple[tuple[str, object], ...]:
    content = _get(message, "content")
    if isinstance(content, _NOT_A_LIST):
        return ()
    calls = []
    try:
        for block in content:
            if _get(block, "type") == "tool_use":
                tool_input = _get(block, "input")
                calls.append(
                    (str(_get(block, "name")), getattr(tool_input, "mini", repr(tool_input)))
                )
    except TypeError:  # content that is not a list of blocks
        return ()
    return tuple(calls)


def _only_tool_results(message: Any) -> bool:
    # Read on every limited call, so by index (a simdjson array's iterator is a generator) and
    # from the last block, where a line the person typed usually is (the usual answer: False).
    try:
        if message["role"] != "user":
            return False
        content = message["content"]
        if isinstance(content, _NOT_A_LIST):
            return False
        count = len(content)
        for index in range(count - 1, -1, -1):
            if content[index]["type"] != "tool_result":
                return False
    except (KeyError, TypeError, IndexError):  # not a message, or blocks that are not blocks
        return False
    return count > 0


def _get(value: Any, name: str) -> Any:
    getter = getattr(value, "get", None)
    return getter(name) if getter is not None else None
