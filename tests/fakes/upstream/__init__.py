"""A fake Anthropic API on a real socket: the upstream every proxy test and benchmark talks to.

It speaks the Messages API wire format (SSE events exactly as Anthropic frames them, error bodies,
``request-id`` headers), records every request it sees, and plays scripted ``Reply`` values that can
fail in the ways the real API fails: error statuses, a mid-stream ``event: error``, a connection
dropped after N events, slow headers, slow or oddly chunked events. With nothing scripted, a
``responder`` callable answers; the default echoes the last user text. ``ClaudeCodeResponder``
answers the real Claude Code CLI well enough for it to run tools and sub-agents.

Three ways to run it: ``async with FakeUpstream() as up`` in the test's loop, ``with
FakeUpstream.in_thread() as up`` for sync code, or ``python -m tests.fakes.upstream --port N``
(prints its URL on stdout) for benchmarks. The ``fake_upstream`` pytest fixture yields a started
one.

With ``cache=PromptCache()`` (``--cache`` on the command line) it caches prompts the way the real
API does and reports ``cache_read_input_tokens`` / ``cache_creation_input_tokens`` from what it
holds; a test moves its clock or makes it miss once, in process or through ``CacheRemote``.

The package: ``wire`` (requests, replies and their encoding), ``bodies`` (reading a request body),
``responders`` and ``agents`` (what it answers), ``cache`` (the prompt cache), ``server`` (the
socket, the faults, the fixture), ``control`` (the ``/_fake/`` routes), ``cli`` (the command line). Import from the package; the names below are its interface.

It is independent of ``nexus.wirecheck.fake_api`` (the fake that ships for ``nexus doctor
--wire``) on purpose: a test fake that shared product code would agree with Nexus by construction.
"""

from tests.fakes.upstream.agents import (
    FORK_DIRECTIVE,
    NESTED_PROMPT,
    PARALLEL_PROMPTS,
    SIDE_QUESTION_MARKER,
    agent_scenario_reply,
)
from tests.fakes.upstream.bodies import last_user_text, tool_results
from tests.fakes.upstream.cache import (
    LOOKBACK_BLOCKS,
    MIN_TOKENS,
    TOKEN_BYTES,
    FakeClock,
    PromptCache,
    PromptTokens,
    read_prompt,
)
from tests.fakes.upstream.cli import main
from tests.fakes.upstream.control import CacheRemote
from tests.fakes.upstream.responders import (
    COMPACT_MARKER,
    SUB_AGENT_PROMPT,
    ClaudeCodeResponder,
    LoopingResponder,
    echo_reply,
)
from tests.fakes.upstream.server import FakeUpstream, fake_upstream
from tests.fakes.upstream.wire import (
    DEFAULT_MODEL,
    Reply,
    SeenRequest,
    SeenResponse,
    ToolUse,
    encode_json,
    encode_stream,
    error_body,
)

__all__ = [
    "LOOKBACK_BLOCKS",
    "MIN_TOKENS",
    "TOKEN_BYTES",
    "CacheRemote",
    "FakeClock",
    "PromptCache",
    "PromptTokens",
    "read_prompt",
    "COMPACT_MARKER",
    "DEFAULT_MODEL",
    "FORK_DIRECTIVE",
    "NESTED_PROMPT",
    "PARALLEL_PROMPTS",
    "SIDE_QUESTION_MARKER",
    "SUB_AGENT_PROMPT",
    "ClaudeCodeResponder",
    "FakeUpstream",
    "LoopingResponder",
    "Reply",
    "SeenRequest",
    "SeenResponse",
    "ToolUse",
    "agent_scenario_reply",
    "echo_reply",
    "encode_json",
    "encode_stream",
    "error_body",
    "fake_upstream",
    "last_user_text",
    "main",
    "tool_results",
]
