"""The Gemini analysis of a conversation gets its cache breaks in its input (issue 19)."""

from __future__ import annotations

from typing import Any

import pytest

from nexus.analysis.cache_note import cache_breaks_note
from nexus.analysis.gemini import GeminiAnalyzer
from nexus.analysis.jobs import AnalysisWorker, request_analysis
from nexus.conversations.worker import summary_of
from nexus.records import now_ms
from nexus.store.base import JobState
from tests.cache.conversation import Chat
from tests.cache.test_ledger import record_live
from tests.fakes.gemini import FakeGemini


@pytest.mark.asyncio
async def test_the_analysis_input_names_each_break_with_its_cause_and_cost(
    store: Any, fake_gemini: FakeGemini
) -> None:
    chat = Chat()
    chat.send("first", read=0, write=10_000)
    chat.send("second", read=10_000, write=500)
    chat.send("third", read=0, write=11_000, gap_ms=10 * 60_000)
    await record_live(store, chat)
    conversation = chat.records[0].id
    await request_analysis(store, conversation, "main", now_ms=now_ms())
    fake_gemini.reply_json(prompt_tokens=5000, output_tokens=700)
    analyzer = GeminiAnalyzer(api_key="g-key", model="gemini-2.5-pro", base_url=fake_gemini.url)
    try:
        done = await AnalysisWorker(store, analyzer, poll_s=0.01).run_once()
    finally:
        await analyzer.aclose()
    assert done is not None and done.state is JobState.DONE, done and done.error
    last = fake_gemini.calls[0].json["contents"][-1]["parts"][0]["text"]
    assert "broke the prompt cache 1 times, costing $0.06" in last
    assert f"request {chat.records[2].id}: TTL expired (idle 10m00s" in last
    assert "10,500 tokens written again, $0.06" in last
    assert last.index("broke the prompt cache") < last.index("Analyse it now")  # the ask ends it


def test_a_conversation_without_breaks_adds_no_note() -> None:
    chat = Chat()
    chat.send("first", read=0, write=10_000)
    assert cache_breaks_note([summary_of(r) for r in chat.records]) == ""
