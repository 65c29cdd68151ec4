"""``get_conversation``'s transcript is the branch's newest call that is part of the tree."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from nexus.mcp.caller import Caller
from nexus.mcp.tools import Tools
from nexus.records import TrafficClass


class _Store:
    def __init__(self, classes: list[TrafficClass | None]) -> None:
        nodes = [
            SimpleNamespace(id=f"r{i}", branch=None, traffic_class=c) for i, c in enumerate(classes)
        ]
        summary = SimpleNamespace(host="h", account_id=None)
        self.tree = SimpleNamespace(summary=summary, branches=[SimpleNamespace(name="main")],
                                    nodes=nodes)  # fmt: skip
        self.asked: list[str] = []

    async def get_conversation(self, conversation_id: str) -> Any:
        return self.tree

    async def get_request(self, request_id: str) -> None:
        self.asked.append(request_id)


async def test_background_calls_after_the_last_turn_are_not_its_transcript(monkeypatch) -> None:
    monkeypatch.setattr("nexus.mcp.tools._conversation_json", lambda summary: {})
    background = [c for c in TrafficClass if c.is_background]
    for tree in ([TrafficClass.TURN, TrafficClass.SUBAGENT, *background], [None, *background]):
        store = _Store(tree)
        got = await Tools(store).get_conversation(Caller(), "c1")
        last_tree_call = 1 if tree[1] is TrafficClass.SUBAGENT else 0
        assert got["transcript_of_request"] == f"r{last_tree_call}"
        assert got["requests_on_branch"] == len(tree)
