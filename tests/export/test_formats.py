"""Every format on one conversation with a tool loop, a sub-agent, a rewind, a compaction and
background calls: all of it shown, nothing secret, nothing unescaped."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import orjson
import pytest

from nexus.export import BranchNotFound, ExportFormat, ExportOptions, ExportUsageError, run_export
from nexus.export.markdown import fence, message_markdown
from nexus.records import RequestFilter
from tests.export.builders import FAKE_KEY, MemorySource, scenario


async def _export(fmt: str, **kw: object) -> tuple[str, dict[str, str]]:
    records, ids = scenario()
    chunks: list[bytes] = []
    options = ExportOptions(ExportFormat(fmt), **kw)  # type: ignore[arg-type]
    await run_export(MemorySource(records), options, chunks.append)
    return b"".join(chunks).decode("utf-8"), ids


def _no_secrets(text: str) -> None:
    assert FAKE_KEY not in text
    assert "QQQQQQQQ" not in text
    assert "abcdefghijklmnop1234" not in text


async def test_markdown_shows_every_turn_subagents_nested_and_branches_apart() -> None:
    md, ids = await _export("markdown", conversation_id="conv-1")
    for key in ("t1", "t2", "t3", "t4", "s1", "s2", "b1", "b2", "compaction", "after_compaction"):
        assert ids[key] in md
    assert "## Main thread (main)" in md
    assert "## Branch branch-2, forks after turn 3" in md
    assert "> ### Sub-agent: Investigate flake (general-purpose)" in md
    assert "> #### Turn 1" in md  # the sub-agent's turns are inside its quote
    assert "compaction (summarising call)" in md
    assert "## Branch compact-1, continues after the compaction in turn 5" in md
    assert "## Background calls" in md and "| title |" in md
    assert "naïve café ☕ 你好" in md
    assert "characters folded" in md  # the 5 000-character tool result
    assert "**Tool result** `Bash` (`toolu_1`) — **error**" in md
    assert re.search(r"in 10 · out 20 · cache read 1.0k · cache write 100 · \$0\.0123", md)
    _no_secrets(md)
    # Sub-agent section comes between the turn that spawned it and the next main turn.
    assert md.index(ids["t2"]) < md.index(ids["s1"]) < md.index(ids["t3"])
    # Branches by start: the rewind began before the compaction's continuation.
    assert md.index(ids["compaction"]) < md.index(ids["b1"]) < md.index(ids["after_compaction"])


async def test_markdown_of_one_branch_has_its_history_but_not_the_other_branch() -> None:
    md, ids = await _export("markdown", conversation_id="conv-1", branch="branch-2")
    assert ids["t1"] in md and ids["b2"] in md and ids["s1"] in md
    assert ids["t4"] not in md and ids["after_compaction"] not in md


def test_a_fence_is_longer_than_any_backticks_inside() -> None:
    assert fence("a ``` b").startswith("````\n")
    assert fence("plain", "json") == "```json\nplain\n```"


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


async def test_html_is_self_contained_escaped_and_links_every_turn() -> None:
    html, ids = await _export("html", conversation_id="conv-1")
    parser = _Tags()
    parser.feed(html)
    tags = parser.tags
    # No external resources of any kind; a CSP forbids fetching anyway.
    assert not [t for t, a in tags if t in ("link", "img", "iframe", "object", "embed")]
    assert all("src" not in a for t, a in tags if t == "script")
    assert "default-src 'none'" in html
    assert not re.search(r"https?://", html)
    # The only script is ours: the assistant's <script> is text, not a tag.
    assert sum(1 for t, _ in tags if t == "script") == 1
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    anchors = {a.get("id") for _, a in tags}
    links = {a.get("href") for t, a in tags if t == "a"}
    for key in ("t1", "t2", "t3", "t4", "s1", "s2", "b1", "b2", "compaction", "after_compaction"):
        assert f"t-{ids[key]}" in anchors
        assert f"#t-{ids[key]}" in links
    assert sum(1 for t, a in tags if t == "details" and "thread" in (a.get("class") or "")) >= 3
    _no_secrets(html)


async def test_json_is_the_tree_with_content_per_turn() -> None:
    text, ids = await _export("json", conversation_id="conv-1")
    data = orjson.loads(text)
    assert data["nexus_conversation"] == 1 and data["id"] == "conv-1"
    assert data["totals"]["requests"] == 12
    assert data["totals"]["branches"] == ["main", "branch-2", "compact-1"]
    assert len(data["nodes"]) == 12
    main, branch, after = data["threads"]
    assert (after["branch"], after["anchor_request_id"]) == ("compact-1", ids["compaction"])
    assert [t["request_id"] for t in main["turns"]][:3] == [ids["t1"], ids["t2"], ids["t3"]]
    sub = main["turns"][1]["subagents"][0]
    assert (
        sub["kind"] == "subagent"
        and sub["title"] == "Sub-agent: Investigate flake (general-purpose)"
    )
    assert [t["request_id"] for t in sub["turns"]] == [ids["s1"], ids["s2"]]
    assert (branch["branch"], branch["anchor_request_id"]) == ("branch-2", ids["t3"])
    first = main["turns"][0]
    assert first["input"][0]["content"][1] == {
        "type": "text",
        "text": "Fix the flaky test, s'il vous plaît — naïve café ☕ 你好",
    }
    assert first["output"]["content"][1]["type"] == "tool_use"
    assert [b["traffic_class"] for b in data["background"]] == ["title", "quota"]
    _no_secrets(text)


async def test_har_is_har_1_2_with_timings_and_redacted_headers() -> None:
    text, ids = await _export("har", conversation_id="conv-1")
    log = orjson.loads(text)["log"]
    assert log["version"] == "1.2" and log["creator"]["name"] == "nexus"
    assert len(log["entries"]) == 12
    entry = next(e for e in log["entries"] if e["_nexus"]["id"] == ids["t1"])
    req, resp = entry["request"], entry["response"]
    assert req["url"] == "http://localhost:3000/v1/messages?beta=true"
    assert req["queryString"] == [{"name": "beta", "value": "true"}]
    assert {"name": "x-api-key", "value": "[redacted]"} in req["headers"]
    assert orjson.loads(req["postData"]["text"])["messages"][0]["role"] == "user"
    assert resp["status"] == 200 and resp["statusText"] == "OK"
    assert resp["content"]["mimeType"] == "text/event-stream"
    assert entry["timings"] == {"send": 0, "wait": 300, "receive": 1200}
    assert entry["time"] == 1500
    assert entry["startedDateTime"].endswith("+00:00")
    _no_secrets(text)


async def test_har_of_everything_needs_no_conversation() -> None:
    records, _ = scenario()
    chunks: list[bytes] = []
    n = await run_export(MemorySource(records), ExportOptions(ExportFormat.HAR), chunks.append)
    assert n == len(orjson.loads(b"".join(chunks))["log"]["entries"]) == 12


@pytest.mark.parametrize("fmt", ["json", "markdown", "html"])
async def test_conversation_formats_need_a_conversation(fmt: str) -> None:
    with pytest.raises(ExportUsageError, match="--conversation"):
        await _export(fmt)


async def test_an_unknown_branch_names_the_branches_there_are() -> None:
    with pytest.raises(BranchNotFound, match="branch-2, compact-1, main, task-1"):
        await _export("markdown", conversation_id="conv-1", branch="nope")


async def test_filters_reach_the_source() -> None:
    records, _ = scenario()
    chunks: list[bytes] = []
    flt = RequestFilter(traffic_class="title")
    options = ExportOptions(ExportFormat.JSONL, filter=flt)
    assert await run_export(MemorySource(records), options, chunks.append) == 1


async def test_progress_reports_a_total_then_every_record() -> None:
    records, _ = scenario()
    seen: list[tuple[str, int | None]] = []

    class Recorder:
        def start(self, total: int | None) -> None:
            seen.append(("start", total))

        def advance(self, done: int) -> None:
            seen.append(("advance", done))

    await run_export(MemorySource(records), ExportOptions(), lambda b: None, Recorder())
    assert seen[0] == ("start", 12) and seen[-1] == ("advance", 12)
    seen.clear()
    await run_export(
        MemorySource(records),
        ExportOptions(ExportFormat.HTML, "conv-1"),
        lambda b: None,
        Recorder(),
    )
    assert seen[0] == ("start", 10) and seen[-1] == ("advance", 10)


def test_message_text_cannot_break_the_transcript_outline() -> None:
    text = "# Title\nsome\n---\n```py\n# comment\n```\n   ## Sub\n```\nunclosed"
    assert message_markdown(text).split("\n") == [
        "\\# Title",
        "some",
        "\\---",
        "```py",
        "# comment",  # inside a code block: left alone
        "```",
        "   \\## Sub",
        "```",
        "unclosed",
        "```",  # the fence the message left open is closed
    ]
