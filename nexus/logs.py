"""How every Nexus process logs: one rich handler on stderr, every line redacted.

The sole owner of the logging set-up, shared by the CLI (``nexus serve`` and the other commands)
and the recorder child, so both write the same lines at the same level.
"""

from __future__ import annotations

import logging

from rich.console import Console


def setup_logging(level: str = "INFO", console: Console | None = None) -> None:
    from rich.logging import RichHandler

    from nexus.redact import LogRedaction

    handler = RichHandler(
        console=console or Console(stderr=True),
        show_path=False,
        rich_tracebacks=True,
        markup=False,
    )
    handler.addFilter(LogRedaction())  # no secret reaches a log line, whoever logs it
    logging.basicConfig(level=level.upper(), handlers=[handler], format="%(message)s", force=True)
    for noisy in ("hypercorn.error", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
