"""``/api/conversations``: the list (filters and paging as for requests, but for the ones in
``CONVERSATION_FILTER_LIMITS``), how many match (``/count``), and one tree.

The tree is ``{"id", "summary", "nodes", "branches", "subtasks"}``: ``nodes`` are the summary rows
of every request of the conversation in start order, each carrying its link (``parent_request_id``,
``branch``, ``subtask_of``, ``traffic_class``, ``agent_id``). The conversation store answers; this
module only parses and serialises.
"""

from __future__ import annotations

from typing import Any

from quart import Blueprint, Response, request

from nexus.api.context import api_context
from nexus.api.paging import page_response
from nexus.api.params import BadParameter, parse_filter
from nexus.api.serialize import dumps
from nexus.errors import ApiError
from nexus.records import CONVERSATION_FILTER_LIMITS, RequestFilter

blueprint = Blueprint("conversations", __name__)
JSON = "application/json"


@blueprint.get("/api/conversations")
async def list_conversations() -> Response:
    store = _conversation_store()
    flt = _conversation_filter()
    return await page_response(
        request.args, lambda cursor, limit: store.list_conversations(flt, cursor, limit)
    )


@blueprint.get("/api/conversations/count")
async def count_conversations() -> Response:
    count = await _conversation_store().count_conversations(_conversation_filter())
    return Response(dumps({"count": count}), content_type=JSON)


@blueprint.get("/api/conversations/<conversation_id>")
async def get_conversation(conversation_id: str) -> Response:
    store = _conversation_store()
    tree = await store.get_conversation(conversation_id) if len(conversation_id) <= 128 else None
    if tree is None:
        raise ApiError(f"no conversation with id {conversation_id!r}", status=404)
    return Response(
        dumps(
            {
                "id": tree.summary.id,
                "summary": tree.summary,
                "nodes": tree.nodes,
                "branches": tree.branches,
                "subtasks": tree.subtasks,
            }
        ),
        content_type=JSON,
    )


def _conversation_filter() -> RequestFilter:
    flt = parse_filter(request.args)
    for name, reason in CONVERSATION_FILTER_LIMITS.items():
        if getattr(flt, name) is not None:  # the field and the parameter share the name
            raise BadParameter(name, f"conversations cannot be filtered by it: {reason}")
    return flt


def _conversation_store() -> Any:
    store = api_context().store
    if not hasattr(store, "get_conversation"):
        raise ApiError("this store has no conversation index yet", status=501)
    return store
