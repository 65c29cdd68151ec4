"""``GeminiAnalyzer``: the ``Analyzer`` calling Gemini's ``generateContent`` through google-genai.

It asks for JSON that follows ``RESPONSE_SCHEMA`` and translates the SDK's and httpx's exceptions
into the analysis error kinds where they enter (``map_gemini_errors``): 429, 408 and 5xx and network
failures are transient, any other 4xx is a rejection. It owns its httpx client (so every call has a
timeout and nothing is left open) and never retries by itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import httpx
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from nexus.analysis.analyzer import (
    MISSING_KEY_MESSAGE,
    AnalysisRequest,
    AnalyzerReply,
    RejectedAnalysisError,
    TransientAnalysisError,
)
from nexus.analysis.schema import RESPONSE_SCHEMA, MalformedReply
from nexus.errors import ConfigError

if TYPE_CHECKING:
    from nexus.settings import Settings

GEMINI_API_VERSION = "v1beta"
_TRANSIENT_STATUSES = {408, 429}


class GeminiAnalyzer:
    """Calls one Gemini model; ``base_url`` points it elsewhere (a fake in tests)."""

    def __init__(
        self,
        *,
        api_key: str,
        model: str,
        base_url: str | None = None,
        timeout_s: float = 300.0,
        temperature: float = 0.2,
    ) -> None:
        self._model = model
        self._temperature = temperature
        self._http = httpx.AsyncClient(timeout=httpx.Timeout(timeout_s, connect=10.0))
        options = types.HttpOptions(
            base_url=base_url, api_version=GEMINI_API_VERSION, httpx_async_client=self._http
        )
        self._client = genai.Client(api_key=api_key, http_options=options)

    @classmethod
    def from_settings(cls, settings: Settings) -> GeminiAnalyzer:
        """The analyzer ``nexus serve`` and ``nexus analyze`` use; ``ConfigError`` without a key."""
        if not settings.gemini_api_key:
            raise ConfigError(MISSING_KEY_MESSAGE)
        return cls(
            api_key=settings.gemini_api_key,
            model=settings.gemini_model,
            base_url=settings.gemini_url,
        )

    @property
    def model(self) -> str:
        return self._model

    async def generate(self, request: AnalysisRequest) -> AnalyzerReply:
        config = types.GenerateContentConfig(
            system_instruction=request.system,
            response_mime_type="application/json",
            response_schema=RESPONSE_SCHEMA,
            temperature=self._temperature,
        )
        contents = [
            types.Content(role=turn.role, parts=[types.Part(text=turn.text)])
            for turn in request.turns
        ]
        with map_gemini_errors():
            response = await self._client.aio.models.generate_content(
                model=self._model, contents=contents, config=config
            )
        return _reply(response, self._model)

    async def aclose(self) -> None:
        await self._client.aio.aclose()
        await self._http.aclose()
        self._client.close()


def _reply(response: types.GenerateContentResponse, model: str) -> AnalyzerReply:
    usage = response.usage_metadata
    input_tokens = (usage.prompt_token_count or 0) if usage else 0
    output_tokens = (
        (usage.candidates_token_count or 0) + (usage.thoughts_token_count or 0) if usage else 0
    )
    candidate = response.candidates[0] if response.candidates else None
    parts = candidate.content.parts if candidate and candidate.content else None
    text = "".join(p.text for p in parts or () if p.text and not p.thought)
    if not text:
        reason = candidate.finish_reason if candidate else None
        blocked = response.prompt_feedback.block_reason if response.prompt_feedback else None
        raise MalformedReply(f"the model returned no text (finish: {reason}, block: {blocked})")
    return AnalyzerReply(
        text=text,
        model=response.model_version or model,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
    )


@contextmanager
def map_gemini_errors() -> Iterator[None]:
    """Translate google-genai and httpx failures into the analysis error kinds, raising ``from``."""
    try:
        yield
    except genai_errors.APIError as exc:
        message = f"Gemini answered {exc.code} {exc.status or ''}: {exc.message or ''}".strip()
        if exc.code in _TRANSIENT_STATUSES or exc.code >= 500:
            raise TransientAnalysisError(message, retry_after_s=_retry_delay(exc.details)) from exc
        raise RejectedAnalysisError(message) from exc
    except httpx.TimeoutException as exc:
        raise TransientAnalysisError("Gemini did not answer in time") from exc
    except httpx.TransportError as exc:
        raise TransientAnalysisError(f"Gemini could not be reached: {type(exc).__name__}") from exc


def _retry_delay(details: Any) -> float | None:
    """The ``RetryInfo.retryDelay`` Google attaches to quota errors (``"31s"``), in seconds."""
    error = details.get("error", details) if isinstance(details, dict) else None
    for item in (error or {}).get("details") or ():
        if isinstance(item, dict) and str(item.get("@type", "")).endswith("RetryInfo"):
            match = re.fullmatch(r"(\d+(?:\.\d+)?)s", str(item.get("retryDelay", "")))
            if match:
                return float(match.group(1))
    return None
