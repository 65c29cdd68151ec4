"""``nexus doctor --wire``: Claude Code once through a private Nexus against a built-in fake API,
and a report of what Nexus could not place or passed on changed (docs/wire.md)."""

from __future__ import annotations

from nexus.wirecheck.check import Call, WireReport, run_wire_check

__all__ = ["Call", "WireReport", "run_wire_check"]
