"""The runaway guard's reading of a request: is the agent repeating one tool call?

Claude Code resends the whole conversation on every call, so a loop is visible in the request
itself: the latest assistant turns all made the same tool call (same name, same input) and the
person typed nothing since. Reading it here needs no state, works the same on every replica and
costs a few element look-ups at the tail of a body the proxy already parses (simdjson DOM values:
indexing, ``len``, iteration, ``mini`` for an input's canonical bytes). Only as many assistant
turns are read as the policy's ``repeats``.

Read on every limited call, where the code and the document are cold in the CPU's caches (a
cache miss costs more than the work; ``benchmarks/admission_cost.py --thrash``): bytes keys
(simdjson encodes a str key on every look-up), subscripts rather than ``get``, and a malformed
part read as "no loop" through the exceptions a subscript raises rather than through type checks.
"""

from __future__ import annotations

from itertools import islice
from typing import Any

_NOT_A_LIST = (str, type(None))  # content that holds no blocks (built once, not per call)
_MALFORMED = (KeyError, TypeError, IndexError, ValueError)
_BETWEEN = 4  # user turns between two assistant turns (Claude Code sends one): more is no loop
# Look-ups by index before the rest is read in one pass: simdjson walks an array from its start
# for each, so a long streak (or a body built as one) read by index costs turns × length.
_WALKS = 16


def repeated_tool_call(messages: Any, cap: int) -> tuple[str | None, int]:
    """(tool name, times in a row) of the agent's latest tool call, looking back ``cap`` assistant
    turns at most; (None, 0) when the latest user message holds anything a person typed."""
    try:
        index = len(messages) - 1
        if index < 1 or not _only_tool_results(messages[index]):
            return None, 0
    except _MALFORMED:
        return None, 0
    first: tuple[tuple[str, object], ...] | None = None
    repeats = 0
    between: list[Any] = []  # the user turns since the last assistant turn read, checked lazily
    walks = 1
    while index > 0 and repeats < cap:
        index -= 1
        walks += 1
        if walks == _WALKS:
            messages, index = _window(messages, index, (cap - repeats) * (_BETWEEN + 1))
        try:
            message = messages[index]
            if message[b"role"] != "assistant":
                if len(between) == _BETWEEN:
                    break
                between.append(message)
                continue
            calls = _tool_calls(message[b"content"])
        except _MALFORMED:  # not a message: the streak ends here
            break
        if not calls or (first is not None and calls != first):
            break  # the usual end, found without reading the user turns in between
        # the same call again: a loop only if the person typed nothing in between
        if not all(_only_tool_results(turn) for turn in between):
            break
        between.clear()
        first = calls
        repeats += 1
    return (first[0][0] if first else None), repeats


def _window(messages: Any, index: int, budget: int) -> tuple[list[Any], int]:
    """The at most ``budget`` turns up to ``index``, read in one pass, and ``index`` in them."""
    start = max(0, index + 1 - budget)
    window = list(islice(messages, start, index + 1))
    return window, len(window) - 1


def _tool_calls(content: Any) -> tuple[tuple[str, object], ...]:
    """(name, input's canonical bytes) of each ``tool_use`` block; () for content without blocks."""
    if isinstance(content, _NOT_A_LIST):
        return ()
    calls = []
    for block in content:  # TypeError for content that is not a list: the caller's "no loop"
        try:
            if block[b"type"] != "tool_use":
                continue
        except _MALFORMED:  # not a block
            continue
        try:
            tool_input = block[b"input"]
        except KeyError:
            tool_input = None
        try:
            name = str(block[b"name"])
        except KeyError:
            name = "None"
        try:
            canonical: object = tool_input.mini  # simdjson: the input's minified bytes
        except AttributeError:  # a plain value: a string, a number, null
            canonical = repr(tool_input)
        calls.append((name, canonical))
    return tuple(calls)


def _only_tool_results(message: Any) -> bool:
    try:
        if message[b"role"] != "user":
            return False
        content = message[b"content"]
        if isinstance(content, _NOT_A_LIST):
            return False
        count = len(content)
        # The last block first: a line the person typed is usually there (the usual answer)
        if not count or content[count - 1][b"type"] != "tool_result":
            return False
        if count > 1:  # then one pass: by index, each look-up would walk from the start again
            for block in content:
                if block[b"type"] != "tool_result":
                    return False
    except _MALFORMED:  # not a message, or blocks that are not blocks
        return False
    return True
