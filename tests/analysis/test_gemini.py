from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from nexus.analysis.analyzer import (
    AnalysisRequest,
    RejectedAnalysisError,
    TransientAnalysisError,
)
from nexus.analysis.gemini import GeminiAnalyzer
from nexus.analysis.schema import MalformedReply, parse_result
from nexus.analysis.transcript import Turn
from nexus.errors import ConfigError
from nexus.settings import Settings
from tests.fakes.gemini import FakeGemini

REQUEST = AnalysisRequest(
    system="be brief",
    turns=(Turn("user", "hello"), Turn("model", "hi"), Turn("user", "analyse")),
)


@pytest.fixture
async def analyzer(fake_gemini: FakeGemini) -> AsyncIterator[GeminiAnalyzer]:
    settings = Settings(gemini_api_key="g-key", gemini_url=fake_gemini.url, gemini_model="gemini-x")
    analyzer = GeminiAnalyzer.from_settings(settings)
    yield analyzer
    await analyzer.aclose()


async def test_generate_sends_contents_system_and_schema_on_the_real_wire_format(
    analyzer: GeminiAnalyzer, fake_gemini: FakeGemini
) -> None:
    fake_gemini.reply_json(prompt_tokens=4321, output_tokens=123)
    reply = await analyzer.generate(REQUEST)
    parse_result(reply.text)
    assert (reply.input_tokens, reply.output_tokens) == (4321, 123)
    call = fake_gemini.calls[0]
    assert call.path == "/v1beta/models/gemini-x:generateContent"
    assert call.headers["x-goog-api-key"] == "g-key"
    body = call.json
    assert [c["role"] for c in body["contents"]] == ["user", "model", "user"]
    assert body["contents"][1]["parts"][0]["text"] == "hi"
    assert body["systemInstruction"]["parts"][0]["text"] == "be brief"
    config = body["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    assert "prompting_tips" in config["responseSchema"]["properties"]


async def test_rate_limit_is_transient_and_carries_the_retry_delay(
    analyzer: GeminiAnalyzer, fake_gemini: FakeGemini
) -> None:
    fake_gemini.reply_error(429, "Quota exceeded", retry_delay_s=31)
    with pytest.raises(TransientAnalysisError, match="429") as caught:
        await analyzer.generate(REQUEST)
    assert caught.value.retry_after_s == 31.0


async def test_server_error_is_transient(analyzer: GeminiAnalyzer, fake_gemini: FakeGemini) -> None:
    fake_gemini.reply_error(500)
    with pytest.raises(TransientAnalysisError, match="500"):
        await analyzer.generate(REQUEST)
    fake_gemini.reply_error(503)
    with pytest.raises(TransientAnalysisError, match="503"):
        await analyzer.generate(REQUEST)


async def test_bad_request_and_bad_key_are_rejections(
    analyzer: GeminiAnalyzer, fake_gemini: FakeGemini
) -> None:
    fake_gemini.reply_error(400, "Request contains an invalid argument.")
    with pytest.raises(RejectedAnalysisError, match="invalid argument"):
        await analyzer.generate(REQUEST)
    fake_gemini.api_key = "another-key"
    with pytest.raises(RejectedAnalysisError, match="API key not valid"):
        await analyzer.generate(REQUEST)


async def test_unreachable_server_is_transient() -> None:
    analyzer = GeminiAnalyzer(api_key="k", model="m", base_url="http://127.0.0.1:9", timeout_s=2)
    try:
        with pytest.raises(TransientAnalysisError, match="could not be reached"):
            await analyzer.generate(REQUEST)
    finally:
        await analyzer.aclose()


async def test_empty_reply_is_malformed(analyzer: GeminiAnalyzer, fake_gemini: FakeGemini) -> None:
    fake_gemini.reply_text("")
    with pytest.raises(MalformedReply, match="no text"):
        await analyzer.generate(REQUEST)


def test_missing_key_is_a_clear_config_error() -> None:
    with pytest.raises(ConfigError, match="GEMINI_API_KEY"):
        GeminiAnalyzer.from_settings(Settings())
