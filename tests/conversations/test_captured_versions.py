"""Captured traffic of two Claude Code versions (tests/data/claude_code/<version>/, scrubbed): every
traffic class and every branch kind, table-driven, as the CLI really sends them. A row of the
tables is (class, parent index, branch, conversation index, subtask_of index) per exchange; HEAD
preconnects are ``other`` and belong nowhere."""

from __future__ import annotations

import dataclasses
from typing import Any

import orjson
import pytest

from nexus.conversations.classify import classify
from nexus.conversations.normalize import parse_json
from nexus.conversations.worker import ConversationLinker
from nexus.recorder.derive import derive
from nexus.records import TrafficClass
from tests.conversations.captured import captured_records
from tests.conversations.harness import indexed_links, link_live, rebuild, snapshot

Row = tuple[str, int | None, str | None, int | None, int | None]
HEAD: Row = ("other", None, None, None, None)

# (version, scenario) → the tree a person lived. 2.1.332 sends no HEAD / (it preconnects elsewhere)
# and runs sub-agents in the background: the parent's next call comes before the sub-agent's.
EXPECTED: dict[tuple[str, str], list[Row]] = {
    ("2.1.332", "fork_subagent"): [
        ("turn", None, "main", 0, None),
        ("subagent", 0, "task-1", 0, 0),  # the fork: a sub-task, though its prefix is the parent's
        ("turn", 0, "main", 0, None),  # the parent stays on main
        ("subagent", 1, "task-1", 0, 0),
        ("turn", 2, "main", 0, None),
    ],
    ("2.1.197", "fork_subagent"): [  # no fork type yet: the Agent call fails, the parent answers
        HEAD,
        ("turn", None, "main", 1, None),
        ("turn", 1, "main", 1, None),
    ],
    ("2.1.332", "parallel_subagents"): [
        ("turn", None, "main", 0, None),
        ("turn", 0, "main", 0, None),
        ("subagent", 0, "task-1", 0, 0),
        ("subagent", 0, "task-2", 0, 0),
        ("subagent", 2, "task-1", 0, 0),
        ("subagent", 3, "task-2", 0, 0),
        ("turn", 1, "main", 0, None),
    ],
    ("2.1.197", "parallel_subagents"): [
        HEAD,
        ("turn", None, "main", 1, None),
        ("subagent", 1, "task-1", 1, 1),
        ("subagent", 1, "task-2", 1, 1),
        ("subagent", 3, "task-2", 1, 1),
        ("subagent", 2, "task-1", 1, 1),
        ("turn", 1, "main", 1, None),
    ],
    ("2.1.332", "nested_subagents"): [
        ("turn", None, "main", 0, None),
        ("turn", 0, "main", 0, None),
        ("subagent", 0, "task-1", 0, 0),
        ("subagent", 2, "task-2", 0, 2),  # spawned by the sub-agent: a sub-task of the sub-task
        ("subagent", 3, "task-2", 0, 2),
        ("subagent", 2, "task-1", 0, 0),
        ("turn", 1, "main", 0, None),
    ],
    ("2.1.197", "nested_subagents"): [
        HEAD,
        ("turn", None, "main", 1, None),
        ("subagent", 1, "task-1", 1, 1),
        ("subagent", 2, "task-2", 1, 2),
        ("subagent", 3, "task-2", 1, 2),
        ("subagent", 2, "task-1", 1, 1),
        ("turn", 1, "main", 1, None),
    ],
    ("2.1.332", "fork_session"): [
        ("turn", None, "main", 0, None),
        ("turn", 0, "fork-1", 0, None),  # --resume S --fork-session: a new session id
        ("turn", 0, "main", 0, None),  # S's own next turn keeps main
    ],
    ("2.1.197", "fork_session"): [
        HEAD,
        ("turn", None, "main", 1, None),
        HEAD,
        ("turn", 1, "fork-1", 1, None),
        HEAD,
        ("turn", 1, "main", 1, None),
    ],
    ("2.1.332", "interactive_btw"): [
        ("turn", None, "main", 0, None),
        ("turn", 0, "main", 0, None),
        ("turn", 1, "main", 0, None),
        ("side_question", None, None, 0, None),  # /btw: beside the tree, in the conversation
        ("turn", 2, "main", 0, None),  # the next turn continues main
    ],
    ("2.1.197", "interactive_btw"): [
        HEAD,
        ("title", None, None, 2, None),
        ("turn", None, "main", 2, None),
        ("turn", 2, "main", 2, None),
        ("turn", 3, "main", 2, None),
        ("side_question", None, None, 2, None),
        ("turn", 4, "main", 2, None),
    ],
    ("2.1.332", "interactive_rename"): [
        ("turn", None, "main", 0, None),
        ("title", None, None, 0, None),  # /rename: haiku, JSON schema {name}
    ],
    ("2.1.197", "interactive_rename"): [
        HEAD,
        ("title", None, None, 2, None),
        ("turn", None, "main", 2, None),
        ("title", None, None, 2, None),
    ],
    ("2.1.332", "interactive_rewind"): [
        ("turn", None, "main", 0, None),
        ("turn", 0, "main", 0, None),
        ("turn", 1, "main", 0, None),
        ("turn", 2, "main", 0, None),
        ("turn", 0, "branch-2", 0, None),  # Esc Esc back to before "please run echo hello-tui"
        ("turn", 4, "branch-2", 0, None),
    ],
    ("2.1.197", "interactive_rewind"): [
        HEAD,
        ("title", None, None, 2, None),
        ("turn", None, "main", 2, None),
        ("turn", 2, "main", 2, None),
        ("turn", 3, "main", 2, None),
        ("turn", 4, "main", 2, None),
        ("turn", 2, "branch-2", 2, None),
        ("turn", 6, "branch-2", 2, None),
    ],
    ("2.1.332", "interactive_compact"): [
        ("turn", None, "main", 0, None),
        ("turn", 0, "main", 0, None),
        ("turn", 1, "main", 0, None),
        ("turn", 2, "main", 0, None),
        ("compaction", 3, "main", 0, None),
        ("turn", 4, "compact-1", 0, None),
    ],
    ("2.1.197", "auto_compact"): [  # a 20 000-token window at 1 %: every turn compacts first
        HEAD,
        ("turn", None, "main", 1, None),
        HEAD,
        ("turn", 1, "main", 1, None),
        ("compaction", 3, "main", 1, None),
        ("turn", 4, "compact-1", 1, None),
        HEAD,
        ("compaction", 5, "compact-1", 1, None),
        ("turn", 7, "compact-2", 1, None),
    ],
    ("2.1.332", "auto_compact"): [  # a 20 000-token window at 1 %: every turn compacts first
        ("turn", None, "main", 0, None),
        ("turn", 0, "main", 0, None),
        ("compaction", 1, "main", 0, None),
        ("turn", 2, "compact-1", 0, None),
        ("compaction", 3, "compact-1", 0, None),
        ("turn", 4, "compact-2", 0, None),
    ],
}


_ID = [f"{v}-{s}" for v, s in sorted(EXPECTED)]


@pytest.mark.parametrize(("version", "scenario"), sorted(EXPECTED), ids=_ID)
async def test_captured_session_links_as_lived(store: Any, version: str, scenario: str) -> None:
    records = captured_records(scenario, version=version)
    assert await indexed_links(store, records) == EXPECTED[(version, scenario)]


@pytest.mark.parametrize(("version", "scenario"), sorted(EXPECTED), ids=_ID)
async def test_captured_session_links_the_same_whatever_the_arrival_order(
    store: Any, version: str, scenario: str
) -> None:
    """Live linking in reverse arrival order repairs itself into the same tree."""
    records = captured_records(scenario, version=version)
    await store.write_batch(records)
    linker = ConversationLinker(store)
    for record in reversed(records):
        await linker.link_batch([record])
    ids = [r.id for r in records]
    links = await store.stored_links(ids)
    got = [(str(links[i].traffic_class), links[i].branch) for i in ids]
    assert got == [(row[0], row[2]) for row in EXPECTED[(version, scenario)]]


# -- one row per branch kind and version: where in the captures each kind shows ----------------

BRANCH_KINDS: list[tuple[str, str, str, int]] = [  # (version, kind, scenario, exchange index)
    (v, kind, scenario, i)
    for v in ("2.1.197", "2.1.332")
    for kind, scenario, i in (
        ("main", "interactive_rewind", 3),
        ("rewind", "interactive_rewind", -1),
        ("task", "parallel_subagents", -2),
        ("fork", "fork_session", -1 if v == "2.1.332" else 3),
    )
] + [
    ("2.1.332", "compaction", "interactive_compact", -1),
    ("2.1.332", "compaction", "auto_compact", -1),
    ("2.1.197", "compaction", "auto_compact", -1),
    ("2.1.332", "task", "fork_subagent", 1),  # a fork sub-agent is a sub-task too
]


@pytest.mark.parametrize(("version", "kind", "scenario", "index"), BRANCH_KINDS)
async def test_each_branch_kind_appears_in_the_tree(
    store: Any, version: str, kind: str, scenario: str, index: int
) -> None:
    records = captured_records(scenario, version=version)
    await indexed_links(store, records)
    if scenario == "fork_session" and version == "2.1.332":
        index = 1
    request_id = records[index].id
    links = await store.stored_links([request_id])
    tree = await store.get_conversation(links[request_id].conversation_id)
    branch = next(b for b in tree.branches if b.name == links[request_id].branch)
    assert branch.kind == kind


# -- one row per traffic class and version ------------------------------------------------------


def _body(version: str, scenario: str, index: int) -> dict[str, Any]:
    record = captured_records(scenario, version=version)[index]
    body = parse_json(record.exchange.request_body)
    assert body is not None
    return body


def _with_last_user(body: dict[str, Any], text: str) -> dict[str, Any]:
    """A captured turn's body with one more user message: how the CLI's forked helpers look (the
    whole history and tools, then their own prompt)."""
    return {**body, "messages": [*body["messages"], {"role": "user", "content": text}]}


# The prompts the CLI's forked helpers add, as the 2.1.332 binary holds them (not Nexus's markers).
SUGGESTION_PROMPT = (
    "[SUGGESTION MODE: Suggest what the user might naturally type next into Claude Code.]\n\n"
    "FIRST: Look at the user's recent messages and original request."
)
AWAY_PROMPT = (
    "The user stepped away and is coming back. Recap in under 40 words, 1-2 plain sentences, no "
    "markdown. Lead with the overall goal and current task, then the one next action."
)
AGENT_SUMMARY_PROMPT = (
    "Describe your most recent action in 3-5 words using present tense (-ing). Name the file or "
    'function, not the branch. Do not use tools. Good: "Reading runAgent.ts"'
)
MEMORY_PROMPT = (
    "You are now acting as the memory extraction subagent. Analyze the most recent ~12 messages "
    "above and use them to update your persistent memory systems."
)

CLASSES: list[tuple[str, str, str, int, str | None]] = [
    # (version, class, scenario, exchange index, helper prompt appended to that body or None)
    (v, cls, scenario, i, extra)
    for v, first in (("2.1.197", 2), ("2.1.332", 0))
    for cls, scenario, i, extra in (
        ("turn", "interactive_btw", first, None),
        ("subagent", "parallel_subagents", first + 2, None),
        ("side_question", "interactive_btw", -2, None),
        ("title", "interactive_rename", -1, None),  # /rename
        ("suggestion", "interactive_btw", first, SUGGESTION_PROMPT),
        ("summary", "interactive_btw", first, AWAY_PROMPT),
        ("summary", "parallel_subagents", first + 2, AGENT_SUMMARY_PROMPT),
        ("memory", "interactive_btw", first, MEMORY_PROMPT),
    )
] + [
    ("2.1.197", "title", "interactive_btw", 1, None),  # the JSON-schema {title} haiku call
    ("2.1.197", "other", "interactive_btw", 0, None),  # HEAD /
    ("2.1.332", "compaction", "auto_compact", 2, None),
    ("2.1.197", "compaction", "auto_compact", 4, None),
    ("2.1.332", "compaction", "interactive_compact", 4, None),
]


@pytest.mark.parametrize(("version", "expected", "scenario", "index", "extra"), CLASSES)
def test_each_class_is_recognised_in_captured_bodies(
    version: str, expected: str, scenario: str, index: int, extra: str | None
) -> None:
    record = captured_records(scenario, version=version)[index]
    ex = record.exchange
    body = parse_json(ex.request_body)
    if extra is not None:
        assert body is not None
        body = _with_last_user(body, extra)
    assert classify(ex.method, ex.path, ex.request_headers, body) == TrafficClass(expected)


def test_a_one_token_call_resending_the_history_is_a_warmup_not_a_turn() -> None:
    """resume_cache_warm (2.1.332): the history as it stands, ``max_tokens: 1``, nothing asked."""
    body = _body("2.1.332", "interactive_btw", 2)
    record = captured_records("interactive_btw", version="2.1.332")[2]
    warm = {**body, "max_tokens": 1}
    assert (
        classify("POST", "/v1/messages", record.exchange.request_headers, warm)
        is TrafficClass.WARMUP
    )


def test_a_request_class_header_keeps_an_unknown_helper_off_the_tree() -> None:
    body = _body("2.1.332", "interactive_btw", 2)
    headers = (("x-claude-code-request-class", "auxiliary"),)
    assert classify("POST", "/v1/messages", headers, body) is TrafficClass.OTHER
    side = (("x-claude-code-request-class", "side_reply"),)
    assert classify("POST", "/v1/messages", side, body) is TrafficClass.SIDE_QUESTION


# -- previews say what the person typed ------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "scenario", "index", "preview"),
    [
        (None, "interactive_compact", 7, "what word did I ask you to remember?"),
        ("2.1.332", "interactive_compact", 5, "what word did I ask you to remember?"),
        # Turns that carry no typed text have no preview; they never repeat the last prompt.
        ("2.1.332", "interactive_compact", 4, ""),  # the /compact call: the compaction prompt
        ("2.1.332", "interactive_compact", 2, ""),  # a tool result
        ("2.1.332", "auto_compact", 3, ""),  # a tool result beside a reminder
        ("2.1.332", "parallel_subagents", 1, ""),  # two tool results (agents launched)
        ("2.1.332", "parallel_subagents", 6, ""),  # the agents' completion notifications
        ("2.1.197", "parallel_subagents", 6, ""),
        ("2.1.332", "auto_compact", 5, "what word was it?"),
        ("2.1.332", "auto_compact", 1, "please run echo hello-auto"),
        ("2.1.332", "auto_compact", 2, ""),  # the automatic compaction call
        ("2.1.332", "interactive_btw", 3, "what word was it?"),
        (
            "2.1.332",
            "fork_subagent",
            1,
            "Run the shell command `echo fork-ok` with Bash and report its output.",
        ),
    ],  # fmt: skip
)
def test_previews_say_what_the_person_typed(
    version: str | None, scenario: str, index: int, preview: str
) -> None:
    record = captured_records(scenario, version=version)[index]
    assert record.user_preview == preview


def test_a_message_that_is_only_a_slash_command_previews_as_the_command() -> None:
    """The captured /compact echo (caveat, command, stdout) without the prompt typed after it."""
    record = captured_records("interactive_compact", version="2.1.332")[5]
    body = orjson.loads(record.exchange.request_body)
    index = max(i for i, m in enumerate(body["messages"]) if m["role"] == "user")
    echo = body["messages"][index]["content"][:-1]
    assert any("<command-name>/compact" in b["text"] for b in echo)
    body["messages"][index] = {"role": "user", "content": echo}
    exchange = dataclasses.replace(record.exchange, request_body=orjson.dumps(body))
    assert derive(exchange).user_preview == "/compact"


# Tool-less helpers of 2.1.332 (system prompt, user text) as its binary sends them.
TOOL_LESS = [
    ("summary", "Write a short summary label describing what these tool calls accomplished. It "
     "appears as a single-line row in a mobile app", "Tool: Bash Input: ls Output: a b\nTools "
     "completed: Label:"),
    ("summary", "You write a 3-5 word progress label for a background agent, from short notes "
     "about what it is doing.", "<notes>ran tests</notes>"),
    ("title", "", '2-4 word lowercase label for this job.\nUser: "fix the login bug"\nRespond with '
     "ONLY the label."),
    ("title", "Generate a short kebab-case name (2-4 words) that captures the main topic of this "
     'conversation. Return JSON with a "name" field.', "<conversation>\nhi\n</conversation>"),
]  # fmt: skip


@pytest.mark.parametrize(("expected", "system", "user"), TOOL_LESS)
def test_tool_less_helpers_of_2_1_332_are_recognised(expected: str, system: str, user: str) -> None:
    record = captured_records("interactive_rename", version="2.1.332")[-1]
    body = {
        "model": "claude-haiku-5-5",
        "max_tokens": 512,
        "system": [{"type": "text", "text": "You are Claude Code, Anthropic's official CLI for "
                    "Claude."}] + ([{"type": "text", "text": system}] if system else []),
        "messages": [{"role": "user", "content": user}],
    }  # fmt: skip
    headers = record.exchange.request_headers
    assert classify("POST", "/v1/messages", headers, body) == TrafficClass(expected)


@pytest.mark.parametrize(("version", "scenario"), sorted(EXPECTED), ids=_ID)
async def test_captured_session_rebuilds_to_what_live_linking_made(
    store: Any, version: str, scenario: str
) -> None:
    await link_live(store, captured_records(scenario, version=version))
    live = await snapshot(store)
    await rebuild(store)
    assert await snapshot(store) == live


async def test_a_fork_sub_agent_is_a_sub_task_of_kind_fork(store: Any) -> None:
    records = captured_records("fork_subagent", version="2.1.332")
    await link_live(store, records)
    tree = await store.get_conversation(records[0].id)
    (subtask,) = tree.subtasks
    assert (subtask.request_id, subtask.subtask_of) == (records[1].id, records[0].id)
    assert (subtask.subagent_type, subtask.branch, subtask.request_count) == ("fork", "task-1", 2)
