"""What the TUI reads, as a Protocol: the subset of ``nexus.client.NexusClient`` the screens call.

Tests pass an in-memory object with these methods; ``nexus tui`` passes the real client. Screens
never import the client module itself, so the seam is this Protocol and nothing else.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, Protocol

from nexus.records import (
    ConversationSummary,
    ConversationTree,
    LiveEvent,
    Page,
    RequestFilter,
    RequestSummary,
    StoredRequest,
)


class Source(Protocol):
    base_url: str

    async def health(self) -> dict[str, Any]:
        """``GET /health`` (no key needed): the server's version and the port its proxy listens on."""
        ...

    async def list_requests(
        self, flt: RequestFilter | None = None, cursor: str | None = None, limit: int = 100
    ) -> Page[RequestSummary]: ...

    async def count_requests(self, flt: RequestFilter | None = None) -> int: ...

    async def get_request(self, request_id: str) -> StoredRequest | None: ...

    async def raw_request_body(self, request_id: str) -> bytes: ...

    async def raw_response_body(self, request_id: str) -> bytes: ...

    async def list_conversations(
        self, flt: RequestFilter | None = None, cursor: str | None = None, limit: int = 100
    ) -> Page[ConversationSummary]: ...

    async def count_conversations(self, flt: RequestFilter | None = None) -> int: ...

    async def get_conversation(self, conversation_id: str) -> ConversationTree | None: ...

    async def usage(
        self,
        by: Sequence[str] = (),
        *,
        bucket: str | None = None,
        flt: RequestFilter | None = None,
        utc_offset_ms: int = 0,
    ) -> dict[str, Any]: ...

    async def cache(
        self,
        by: str = "cause",
        *,
        flt: RequestFilter | None = None,
        cursor: str | None = None,
        limit: int = 100,
        utc_offset_ms: int = 0,
    ) -> dict[str, Any]: ...

    async def windows(
        self, *, account: str | None = None, since_ms: int | None = None, series: bool = True
    ) -> dict[str, Any]: ...

    async def start_analysis(
        self,
        conversation_id: str,
        branch: str = "main",
        *,
        force: bool = False,
        prompt: str | None = None,
        prompt_name: str | None = None,
    ) -> dict[str, Any]: ...

    async def get_analysis(
        self, conversation_id: str, branch: str = "main", prompt_version: str | None = None
    ) -> dict[str, Any]: ...

    def events(
        self, after: int | None = None, *, include_status: bool = False, max_retry_s: float = 10.0
    ) -> AsyncIterator[LiveEvent]:
        """The live feed after ``after``; reconnects by itself (waiting at most ``max_retry_s``
        between tries). With ``include_status`` it also yields ``connected`` / ``disconnected``
        pseudo-events (no summary)."""
        ...

    async def aclose(self) -> None: ...

    async def list_prompts(self) -> dict[str, Any]: ...

    async def get_prompt(self, name: str) -> dict[str, Any] | None: ...

    async def render_prompt(self, name: str, arguments: Mapping[str, str]) -> str: ...
