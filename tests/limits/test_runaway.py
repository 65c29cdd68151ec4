"""The runaway guard through a running Nexus: an agent that makes the same tool call again and
again (the fake upstream's ``LoopingResponder``) is flagged and, as the policy says, refused with a
429 naming the loop; a person typing again lets the session go on."""

from __future__ import annotations

import logging
from typing import Any

import httpx

from tests.fakes.upstream import LoopingResponder
from tests.limits.helpers import BODY, call, write_team_host

SESSION = "5f0c1d2e-0000-4000-8000-00000000loop"


def _next_turn(messages: list[dict[str, Any]], answer: dict[str, Any]) -> list[dict[str, Any]]:
    """What an agent sends next: its history, the reply's tool call, the tool's result."""
    tool = next(block for block in answer["content"] if block["type"] == "tool_use")
    result = {"type": "tool_result", "tool_use_id": tool["id"], "content": "1 test failed"}
    return [*messages, {"role": "assistant", "content": answer["content"]},
            {"role": "user", "content": [result]}]  # fmt: skip


async def test_an_agent_repeating_one_tool_call_is_refused_with_a_429_naming_the_loop(
    start_nexus, fake_upstream, tmp_path, caplog
):
    fake_upstream.responder = LoopingResponder()
    write_team_host(tmp_path / "credentials", {"runaway": {"repeats": 4, "refuse": True}})
    server = await start_nexus()
    url = server.endpoints.proxy_url
    messages: list[dict[str, Any]] = [{"role": "user", "content": "make the tests pass"}]
    statuses = []
    caplog.set_level(logging.WARNING, logger="nexus.limits")
    async with httpx.AsyncClient(timeout=10) as client:
        for _ in range(8):
            answer = await call(client, url, "alice", {**BODY, "messages": messages},
                                **{"x-claude-code-session-id": SESSION})  # fmt: skip
            statuses.append(answer.status_code)
            if answer.status_code != 200:
                break
            messages = _next_turn(messages, answer.json())
        # The person sees the loop and types: the agent may go on.
        typed = [*messages, {"role": "user", "content": "stop running make; read the log"}]
        after = await call(client, url, "alice", {**BODY, "messages": typed},
                           **{"x-claude-code-session-id": SESSION})  # fmt: skip
    # calls 1-4 each answer with the same tool call; the 5th carries 4 of them in a row
    assert statuses == [200, 200, 200, 200, 429]
    assert answer.json()["error"]["type"] == "rate_limit_error"
    message = answer.json()["error"]["message"]
    assert "runaway guard: the agent called Bash with the same input 4 times in a row" in message
    assert answer.headers["x-should-retry"] == "false"
    assert after.status_code == 200
    assert any("runaway" in r.getMessage() for r in caplog.records)  # flagged (alerted) too


async def test_a_flag_only_policy_alerts_but_lets_the_loop_go_on(
    start_nexus, fake_upstream, tmp_path, caplog
):
    fake_upstream.responder = LoopingResponder()
    write_team_host(tmp_path / "credentials", {"runaway": {"repeats": 3}})
    server = await start_nexus()
    messages: list[dict[str, Any]] = [{"role": "user", "content": "make the tests pass"}]
    caplog.set_level(logging.WARNING, logger="nexus.limits")
    async with httpx.AsyncClient(timeout=10) as client:
        for _ in range(6):
            answer = await call(client, server.endpoints.proxy_url, "bob",
                                {**BODY, "messages": messages})  # fmt: skip
            assert answer.status_code == 200
            messages = _next_turn(messages, answer.json())
    flagged = [r.getMessage() for r in caplog.records if "runaway" in r.getMessage()]
    assert flagged and "3 times in a row" in flagged[0] and "flagged" in flagged[0]


async def test_a_body_whose_messages_are_not_a_list_of_turns_is_forwarded_and_recorded(
    start_nexus, fake_upstream, tmp_path
):
    # The guard reads the tail of ``messages``; an object there (valid JSON, a bad request) made
    # the array look-up raise inside the proxy: the client got a 500 and the call no record.
    from nexus.records import RequestFilter

    write_team_host(tmp_path / "credentials", {"runaway": {"repeats": 2, "refuse": True}})
    server = await start_nexus()
    odd: list[Any] = [
        {"a": 1, "b": 2},
        "hello",
        [1, "two", None, [3]],
        [{"role": "assistant"}, {"role": "user", "content": {"type": "tool_result"}}],
        [{"role": "assistant", "content": 5}, {"role": "user", "content": [7]}],
    ]
    async with httpx.AsyncClient(timeout=10) as client:
        for messages in odd:
            answer = await call(client, server.endpoints.proxy_url, "alice",
                                {**BODY, "messages": messages})  # fmt: skip
            assert answer.status_code == 200, (messages, answer.text)
    assert len(fake_upstream.requests) == len(odd)  # the upstream judges what it was sent
    await server.flush()
    rows = (await server.store.list_requests(RequestFilter(), None, 10)).items
    assert len(rows) == len(odd)
