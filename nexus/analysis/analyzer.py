"""The seam between the job worker and an analysis model: the ``Analyzer`` protocol, what goes in
(``AnalysisRequest``), what comes back (``AnalyzerReply``) and the two ways a call can fail.

``GeminiAnalyzer`` (gemini.py) is the real implementation; tests may pass any object with the same
shape. An analyzer only talks to the model: it neither validates the reply (schema.py) nor retries
(jobs.py decides, from the error kind, whether and when to try again).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from nexus.analysis.prompts import closing_request, system_prompt
from nexus.analysis.transcript import Transcript, Turn
from nexus.errors import AnalysisError

MISSING_KEY_MESSAGE = (
    "AI analysis needs a Gemini API key: set GEMINI_API_KEY (and restart `nexus serve`)."
)


class TransientAnalysisError(AnalysisError):
    """The analysis model is busy or unreachable; the job will be tried again."""

    def __init__(self, message: str | None = None, *, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class RejectedAnalysisError(AnalysisError):
    """The analysis model refused the request; trying again will not help."""


@dataclass(frozen=True, slots=True)
class AnalysisRequest:
    """A system instruction and alternating user/model turns ending with the user's request."""

    system: str
    turns: tuple[Turn, ...]
    cut_note: str = ""


@dataclass(frozen=True, slots=True)
class AnalyzerReply:
    text: str  # the model's output, expected to be the JSON analysis
    model: str  # the model version that answered
    input_tokens: int
    output_tokens: int  # answer plus thinking tokens: what is billed as output


@runtime_checkable
class Analyzer(Protocol):
    """Something that turns an analysis request into the model's reply text."""

    @property
    def model(self) -> str: ...

    async def generate(self, request: AnalysisRequest) -> AnalyzerReply:
        """One model call. Raises ``TransientAnalysisError`` or ``RejectedAnalysisError``."""
        ...

    async def aclose(self) -> None: ...


def make_request(
    transcript: Transcript, notes: str = "", instructions: str | None = None
) -> AnalysisRequest:
    """The request for a fitted transcript: the system prompt (with a custom prompt's
    ``instructions`` in place of the built-in ones), the turns, then ``notes`` (what Nexus
    measured about the conversation, e.g. its cache breaks) and the closing ask."""
    ask = closing_request(transcript.note.rstrip("."))
    closing = Turn("user", f"{notes}\n\n{ask}" if notes else ask)
    turns = list(transcript.turns)
    if turns and turns[-1].role == "user":
        turns[-1] = Turn("user", turns[-1].text + "\n\n" + closing.text)
    else:
        turns.append(closing)
    return AnalysisRequest(
        system=system_prompt(instructions), turns=tuple(turns), cut_note=transcript.note
    )
