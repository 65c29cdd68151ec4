"""What the proxy reads of a body for the limiter (``_check_json``): the model the body names,
read from the bytes when Claude Code's layout allows, always the value a full parse gives."""

from __future__ import annotations

import orjson
import pytest

from nexus.errors import RequestRejected
from nexus.limits.policy import Limits
from nexus.limits.subject import Scope, Subject
from nexus.proxy.forward import _check_json

SUBJECT = Subject((Scope("client:a@h", "client a@h", Limits(models=("claude-*",))),), 0.8)
MESSAGES = [{"role": "user", "content": [{"type": "tool_use", "input": {"model": "nested"}}]}]


@pytest.mark.parametrize(
    "body",
    [
        b'{"model":"claude-opus-4-8","max_tokens":5,"messages":[]}',  # Claude Code's layout
        b'{"model": "claude-opus-4-8", "messages": []}',  # an SDK's spacing
        orjson.dumps({"messages": MESSAGES, "model": "claude-haiku-4-5"}),  # model key last
        orjson.dumps({"model": 'we"ird\\name', "messages": []}),  # escapes in the value
        b'{"model":"","messages":[]}',
        b'{"model":7,"messages":[]}',
        b'{"messages":[]}',
        b'{"model":"caf\xc3\xa9","messages":[]}',
    ],
)
def test_the_model_read_is_the_top_level_value_a_parse_gives(body: bytes) -> None:
    expected = orjson.loads(body).get("model")
    facts = _check_json(body, SUBJECT, {})
    assert facts.model == (expected if isinstance(expected, str) else None)


@pytest.mark.parametrize("pad", [0, 5 * 1024 * 1024])  # past 4 MB the body gets its own parser
def test_a_body_naming_the_top_level_model_twice_is_refused_nested_ones_are_not(pad: int) -> None:
    filler = b'"x' + b"y" * pad + b'"'
    twice = b'{"model":"claude-a","pad":' + filler + b',"model":"evil","messages":[]}'
    with pytest.raises(RequestRejected, match="'model' more than once"):
        _check_json(twice, SUBJECT, {})
    nested = orjson.dumps({"model": "claude-a", "pad": filler.decode(), "messages": MESSAGES})
    assert _check_json(nested, SUBJECT, {}).model == "claude-a"
