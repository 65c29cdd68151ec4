"""``/api/analyses``: start the AI analysis of a conversation branch, read it back, list jobs.

``POST /api/analyses`` ``{"conversation_id", "branch"?, "force"?, "prompt"?, "prompt_name"?}``
enqueues (202 while it is pending or running, 200 when the stored analysis is returned as is);
``prompt`` is a custom prompt's text (instead of the built-in instructions), ``prompt_name`` what
to call it. ``GET /api/analyses/<conversation>/<branch>`` is the branch's job with its result
(``?prompt=`` a job's ``prompt_version``: that prompt's job); ``GET /api/analyses``
lists jobs (``?state=``, ``?conversation_id=``, ``?limit=``). The TUI client's paths,
``POST|GET /api/conversations/<conversation>/analyses?branch=``, are the same operations. Without
``GEMINI_API_KEY`` on the server, starting an analysis is refused with 503 and says so; reading
stored analyses still works.
"""

from __future__ import annotations

from typing import Any

import orjson
from quart import Blueprint, Response, request

from nexus.analysis.jobs import request_analysis
from nexus.analysis.loader import BranchNotFound, branch_requests
from nexus.analysis.prompts import PROMPT_VERSION, BadPrompt, PromptChoice, custom_prompt
from nexus.analysis.report import MISSING_KEY_MESSAGE, job_document
from nexus.api.context import api_context
from nexus.api.params import BadParameter, parse_limit
from nexus.api.serialize import dumps
from nexus.errors import ApiError
from nexus.store.base import AnalysisJob, JobState

bp = Blueprint("analyses", __name__)
blueprint = bp
JSON = "application/json"
_MAX_ID_CHARS = 128


@bp.post("/api/analyses")
async def start_analysis() -> Response:
    body = await _json_body()
    conversation_id = body.get("conversation_id")
    if not isinstance(conversation_id, str) or not conversation_id:
        raise BadParameter("conversation_id", "required: the conversation to analyse")
    return await _start(
        conversation_id, body.get("branch", "main"), body.get("force", False), _prompt(body)
    )


@bp.post("/api/conversations/<conversation_id>/analyses")
async def start_conversation_analysis(conversation_id: str) -> Response:
    body = await _json_body()
    branch = request.args.get("branch") or body.get("branch", "main")
    force = request.args.get("force", "").lower() in ("1", "true") or body.get("force", False)
    return await _start(conversation_id, branch, force, _prompt(body))


@bp.get("/api/analyses/<conversation_id>/<branch>")
async def get_analysis(conversation_id: str, branch: str) -> Response:
    return await _found(conversation_id, branch, _prompt_key())


@bp.get("/api/conversations/<conversation_id>/analyses")
async def get_conversation_analysis(conversation_id: str) -> Response:
    return await _found(conversation_id, request.args.get("branch") or "main", _prompt_key())


@bp.get("/api/analyses")
async def list_analyses() -> Response:
    state = request.args.get("state")
    if state is not None and state not in JobState._value2member_map_:
        raise BadParameter("state", "expected pending, running, done or failed")
    conversation_id = request.args.get("conversation_id") or None
    jobs = await api_context().store.list_analyses(
        state=None if state is None else JobState(state),
        conversation_id=conversation_id,
        limit=parse_limit(request.args),
    )
    items = [job_document(job, with_result=False) for job in jobs]
    return Response(dumps({"items": items, "prompt_version": PROMPT_VERSION}), content_type=JSON)


def _prompt(body: dict[str, Any]) -> PromptChoice:
    """The prompt a start asks for: the built-in one, or a custom text (checked here)."""
    text, name = body.get("prompt"), body.get("prompt_name", "custom")
    if text is None:
        return PromptChoice()
    if not isinstance(text, str):
        raise BadParameter("prompt", "expected the custom prompt's text")
    if not isinstance(name, str):
        raise BadParameter("prompt_name", "expected a short name such as the prompt's file name")
    try:
        return custom_prompt(text, name)
    except BadPrompt as exc:
        raise BadParameter("prompt", str(exc)) from exc


def _prompt_key() -> str:
    key = request.args.get("prompt") or PROMPT_VERSION
    if len(key) > _MAX_ID_CHARS:
        raise BadParameter("prompt", "expected a job's prompt_version")
    return key


async def _start(conversation_id: str, branch: Any, force: Any, prompt: PromptChoice) -> Response:
    if not isinstance(branch, str) or not branch or len(branch) > _MAX_ID_CHARS:
        raise BadParameter("branch", "expected a branch name such as main")
    if not isinstance(force, bool):
        raise BadParameter("force", "expected true or false")
    ctx = api_context()
    if not ctx.settings.gemini_api_key:
        raise ApiError(MISSING_KEY_MESSAGE, status=503)
    await _require_branch(ctx.store, conversation_id, branch)
    job: AnalysisJob = await request_analysis(
        ctx.store, conversation_id, branch, force=force, prompt=prompt
    )
    status = 202 if job.state in (JobState.PENDING, JobState.RUNNING) else 200
    return Response(dumps(job_document(job)), status=status, content_type=JSON)


async def _found(conversation_id: str, branch: str, prompt_key: str) -> Response:
    job = None
    if len(conversation_id) <= _MAX_ID_CHARS and len(branch) <= _MAX_ID_CHARS:
        job = await api_context().store.find_analysis(conversation_id, branch, prompt_key)
    if job is None:
        raise ApiError(f"no analysis of conversation {conversation_id} ({branch})", status=404)
    return Response(dumps(job_document(job)), content_type=JSON)


async def _require_branch(store: Any, conversation_id: str, branch: str) -> None:
    """404 unless the analysis loader can read the branch (``branch_requests``), as the job will."""
    if len(conversation_id) > _MAX_ID_CHARS:
        raise ApiError(f"conversation {conversation_id[:40]}… not found", status=404)
    try:
        await branch_requests(store, conversation_id, branch)
    except BranchNotFound as exc:
        raise ApiError(exc.message, status=404) from None


async def _json_body() -> dict[str, Any]:
    raw = await request.get_data()
    if not raw:
        return {}
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadParameter("body", "not JSON") from exc
    if not isinstance(body, dict):
        raise BadParameter("body", "expected a JSON object")
    return body
