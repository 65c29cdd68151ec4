"""The human formats on real Claude Code 2.1.197 traffic (tests/data/claude_code): the sub-agent
section is titled by the real Agent call, tool results are named, injected context is folded."""

from __future__ import annotations

from pathlib import Path

import orjson

from nexus.export import ExportFormat, ExportOptions, run_export
from nexus.recorder.derive import derive
from nexus.records import Exchange, Link, RequestRecord, TrafficClass, new_id
from nexus.store import Store

DATA = Path(__file__).parent.parent / "data" / "claude_code"
T0 = 1_760_000_000_000


def _records(name: str) -> list[RequestRecord]:
    capture = orjson.loads((DATA / f"{name}.json").read_bytes())
    records = []
    for i, x in enumerate(e for e in capture["exchanges"] if e["method"] == "POST"):
        start = T0 + i * 1000
        exchange = Exchange(
            id=new_id(start),
            started_at_ms=start,
            ended_at_ms=start + 500,
            first_byte_at_ms=start + 100,
            method="POST",
            path=x["path"],
            query=x.get("query") or "",
            host="localhost:3000",
            request_headers=tuple((k, v) for k, v in x["headers"]),
            request_body=x["body"].encode(),
            status=x["response"]["status"],
            response_headers=tuple((k, v) for k, v in x["response"]["headers"]),
            response_body=x["response"]["body"].encode(),
        )
        records.append(derive(exchange))
    return records


async def test_a_captured_subagent_session_reads_as_a_transcript(store: Store) -> None:
    parent, sub1, sub2, final = _records("subagent")
    assert sub1.agent_id and sub2.agent_id and not parent.agent_id
    await store.write_batch([parent, sub1, sub2, final])
    # The links the conversation engine gives this session (DESIGN.md §5 rule 5).
    await store.write_links(
        [
            Link(parent.id, TrafficClass.TURN, "c", None, "main"),
            Link(sub1.id, TrafficClass.SUBAGENT, "c", None, "task-1", parent.id, sub1.agent_id),
            Link(sub2.id, TrafficClass.SUBAGENT, "c", sub1.id, "task-1", parent.id, sub2.agent_id),
            Link(final.id, TrafficClass.TURN, "c", parent.id, "main"),
        ]
    )
    chunks: list[bytes] = []
    await run_export(store, ExportOptions(ExportFormat.MARKDOWN, "c"), chunks.append)
    md = b"".join(chunks).decode()
    assert "> ### Sub-agent: Run echo in a sub-agent (general-purpose)" in md
    assert "spawn a sub-agent that runs one command, then answer" in md
    assert "> **Tool result** `Bash`" in md and "> sub-agent-ok" in md
    assert "**Tool result** `Agent`" in md
    assert "*System reminder (6," in md  # the injected agent-types message, folded
    assert "sk-ant-test-redacted" not in md
    assert md.index(sub1.id) < md.index(sub2.id) < md.index(final.id)


async def test_sessions_linked_by_the_conversation_engine_export_as_they_were_lived(
    store: Store,
) -> None:
    from nexus.conversations.worker import ConversationLinker

    records = _records("interactive_compact")
    await store.write_batch(records)
    await store.write_links(await ConversationLinker(store).link_batch(records))
    conversation = (await store.get_request(records[-1].id)).summary.conversation_id  # type: ignore[union-attr]
    assert conversation is not None
    chunks: list[bytes] = []
    await run_export(store, ExportOptions(ExportFormat.JSON, conversation), chunks.append)
    tree = orjson.loads(b"".join(chunks))
    # The linker's branches, as the TUI draws them: the compaction's continuation is a branch.
    main, after_compaction = tree["threads"]
    classes = [t["traffic_class"] for t in main["turns"]]
    assert classes == ["turn"] * 4 + ["compaction"]
    assert [b["traffic_class"] for b in tree["background"]] == ["title"]
    (after,) = after_compaction["turns"]
    assert after_compaction["anchor_request_id"] == main["turns"][-1]["request_id"]
    assert after["branch"] == after_compaction["branch"] != main["turns"][0]["branch"]
    assert after["number"] == 6  # numbered on from the compaction
    assert "what word did I ask you to remember?" in orjson.dumps(after["input"]).decode()
