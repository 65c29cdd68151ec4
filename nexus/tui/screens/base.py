"""``NexusScreen``: what every screen shares — typed access to the app, and the forwarding of
worker state changes (which do not bubble) to the app's one failure handler."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.screen import Screen
from textual.worker import Worker

if TYPE_CHECKING:
    from nexus.tui.app import NexusApp


class NexusScreen(Screen[None]):
    @property
    def nexus(self) -> NexusApp:
        return self.app  # type: ignore[return-value]

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        self.nexus.report_worker(event)
