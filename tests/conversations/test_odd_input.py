"""Whatever a client sends, preparing a request for the linker never raises (unknown → other)."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from nexus.conversations.view import RequestView, prepare
from tests.export.builders import make_summary

_json: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.floats(allow_nan=False)
    | st.text(max_size=20) | st.sampled_from(["user", "assistant", "system", "text", "tool_use",
                                              "tool_result", "Agent", "Task", "thinking"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["role", "content", "type", "text", "name", "id", "input", "prompt",
                         "tool_use_id", "messages", "system", "tools", "max_tokens"]),
        inner, max_size=5),
    max_leaves=30,
)  # fmt: skip
_block = st.fixed_dictionaries(
    {"type": st.sampled_from(["text", "tool_use", "tool_result", "thinking", "image"]) | _json},
    optional={"text": _json, "name": st.sampled_from(["Agent", "Task"]) | _json, "id": _json,
              "input": st.fixed_dictionaries({}, optional={"prompt": _json}) | _json,
              "content": _json, "tool_use_id": _json, "cache_control": _json},
)  # fmt: skip
_message = st.fixed_dictionaries(
    {"role": st.sampled_from(["user", "assistant", "system"]) | _json,
     "content": st.lists(_block, max_size=3) | _json},
)  # fmt: skip
_body = st.fixed_dictionaries(
    {"messages": st.lists(_message | _json, max_size=5)},
    optional={"system": _json, "tools": _json, "max_tokens": _json, "metadata": _json,
              "output_config": _json},
)  # fmt: skip


def _view(body: bytes, response: bytes | None, path: str = "/v1/messages") -> RequestView:
    return RequestView(make_summary(id="r1", started_at_ms=1, path=path), (), body, response)


@settings(max_examples=300, deadline=None)
@given(body=_body, response=st.none() | st.lists(_block, max_size=3) | _json)
def test_prepare_never_raises_on_odd_json(body: dict[str, Any], response: Any) -> None:
    raw_response = None if response is None else orjson.dumps({"content": response})
    prepare(_view(orjson.dumps(body), raw_response))


@settings(max_examples=100, deadline=None)
@given(body=st.binary(max_size=200), path=st.sampled_from(["/v1/messages", "/", "/v1/models"]))
def test_prepare_never_raises_on_odd_bytes(body: bytes, path: str) -> None:
    assert prepare(_view(body, body, path)).traffic_class is not None


def test_a_tool_use_with_an_odd_name_is_no_sub_agent_call() -> None:
    body = orjson.dumps({"messages": [{"role": "user", "content": "x"}]})
    reply = orjson.dumps({"content": [{"type": "tool_use", "name": ["Agent"], "input": {}}]})
    prepared = prepare(_view(body, reply))
    assert prepared.fingerprint is not None and prepared.fingerprint.agent_calls == ()
