"""An analysis job as the documents people and programs read: the JSON object the API serves and
``nexus analyze --json`` prints, and the one-line status the CLI shows.

The sole owner of the job document's shape (``docs/api.md`` describes it); the result inside it is
``schema.py``'s JSON, embedded as an object.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from nexus.analysis.analyzer import MISSING_KEY_MESSAGE
from nexus.analysis.prompts import BUILT_IN

if TYPE_CHECKING:
    from nexus.store.base import AnalysisJob

__all__ = ["MISSING_KEY_MESSAGE", "job_document", "job_line"]


def job_document(job: AnalysisJob, *, with_result: bool = True) -> dict[str, Any]:
    """The job as JSON-ready data; ``result`` and ``markdown`` only when asked for and present."""
    document: dict[str, Any] = {
        "id": job.id,
        "conversation_id": job.conversation_id,
        "branch": job.branch,
        "prompt_version": job.prompt_version,
        "prompt_name": job.prompt_name or BUILT_IN,
        "state": str(job.state),
        "attempts": job.attempts,
        "error": job.error,
        "model": job.model,
        "input_tokens": job.input_tokens,
        "output_tokens": job.output_tokens,
        "created_at_ms": job.created_at_ms,
        "updated_at_ms": job.updated_at_ms,
        "run_after_ms": job.run_after_ms,
        "started_at_ms": job.started_at_ms,
        "finished_at_ms": job.finished_at_ms,
        "duration_ms": job.duration_ms,
    }
    if with_result:
        document["prompt_text"] = job.prompt_text
        document["result"] = orjson.loads(job.result_json) if job.result_json else None
        document["markdown"] = job.markdown
    return document


def job_line(job: AnalysisJob | dict[str, Any]) -> str:
    """``<conversation> <branch>: <state> (attempt n) — error``, for progress and lists."""
    doc = job if isinstance(job, dict) else job_document(job, with_result=False)
    line = f"{doc['conversation_id']} {doc['branch']}: {doc['state']}"
    if doc.get("prompt_name", BUILT_IN) != BUILT_IN:
        line += f" (prompt {doc['prompt_name']})"
    if doc.get("attempts") and doc["state"] != "done":
        line += f" (attempt {doc['attempts']})"
    if doc["state"] == "done" and doc.get("model"):
        line += f" · {doc['model']} · {doc['input_tokens']}+{doc['output_tokens']} tokens"
    if doc.get("error"):
        line += f" — {doc['error']}"
    return line
