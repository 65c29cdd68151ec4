"""The recorder: turns what the proxy captured into records for the store, beside the hot path."""

from __future__ import annotations

from nexus.recorder.sse import Assembled, SseAssembler, assemble_json, assemble_sse

__all__ = ["Assembled", "SseAssembler", "assemble_json", "assemble_sse"]
