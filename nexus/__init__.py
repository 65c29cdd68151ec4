"""Nexus: a terminal-first monitoring proxy for teams that use Claude Code.

The package is layered so data flows one way: proxy → recorder → store → conversations → api → tui.
Importing ``nexus`` itself loads nothing heavy.
"""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__"]
