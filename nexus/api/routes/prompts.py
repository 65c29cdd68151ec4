"""``/api/prompts``: the prompt library ``/mcp`` serves, for the TUI's Prompts screen.

``GET /api/prompts`` lists prompts and broken files, ``GET /api/prompts/<name>`` adds the
template, ``GET /api/prompts/<name>/render?<argument>=<value>…`` renders it as Claude Code would
receive it (a missing or unknown argument is a 400 naming it). Read-only, like the rest of the API;
the library itself (``nexus.prompts``) owns the format and the rendering.
"""

from __future__ import annotations

from typing import Any

from quart import Blueprint, Response, request

from nexus.api.context import api_context
from nexus.api.serialize import dumps
from nexus.errors import ApiError, RenderError
from nexus.prompts import prompt_json, render

blueprint = Blueprint("prompts", __name__)
JSON = "application/json"


@blueprint.get("/api/prompts")
async def list_prompts() -> Response:
    library = _library()
    body = {
        "prompts": [prompt_json(p) for p in library.prompts.values()],
        "errors": [{"path": str(path), "error": e} for path, e in library.errors.items()],
    }
    return Response(dumps(body), content_type=JSON)


@blueprint.get("/api/prompts/<name>")
async def get_prompt(name: str) -> Response:
    prompt = _prompt(name)
    return Response(dumps(prompt_json(prompt, with_template=True)), content_type=JSON)


@blueprint.get("/api/prompts/<name>/render")
async def render_prompt(name: str) -> Response:
    prompt = _prompt(name)
    try:
        text = render(prompt, dict(request.args.items()))
    except RenderError as exc:
        raise ApiError(exc.message, status=400) from exc
    return Response(dumps({"name": prompt.name, "text": text}), content_type=JSON)


def _library() -> Any:
    library = api_context().prompts
    if library is None:
        raise ApiError("this server has no prompt library", status=501)
    return library


def _prompt(name: str) -> Any:
    prompt = _library().get(name)
    if prompt is None:
        raise ApiError(f"no prompt named {name!r}", status=404)
    return prompt
