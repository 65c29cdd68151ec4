"""AI analysis of a conversation branch: transcript, prompt, model call, validated result, jobs.

``GeminiAnalyzer`` lives in ``nexus.analysis.gemini`` and is not re-exported here, so importing the
package does not load the google-genai SDK.
"""

from __future__ import annotations

from nexus.analysis.analyzer import (
    AnalysisRequest,
    Analyzer,
    AnalyzerReply,
    RejectedAnalysisError,
    TransientAnalysisError,
    make_request,
)
from nexus.analysis.prompts import PROMPT_VERSION
from nexus.analysis.schema import AnalysisResult, MalformedReply, parse_result, render_markdown
from nexus.analysis.transcript import Transcript, Turn, build_turns, fit_to_budget

__all__ = [
    "PROMPT_VERSION",
    "AnalysisRequest",
    "AnalysisResult",
    "Analyzer",
    "AnalyzerReply",
    "MalformedReply",
    "RejectedAnalysisError",
    "Transcript",
    "TransientAnalysisError",
    "Turn",
    "build_turns",
    "fit_to_budget",
    "make_request",
    "parse_result",
    "render_markdown",
]
