from __future__ import annotations

import copy

import orjson
import pytest

from nexus.analysis.schema import (
    RESPONSE_SCHEMA,
    MalformedReply,
    parse_result,
    render_markdown,
    result_to_json,
)
from tests.fakes.gemini import GOOD_ANALYSIS


def test_good_reply_parses_into_every_field() -> None:
    result = parse_result(orjson.dumps(GOOD_ANALYSIS))
    assert result.outcome.value == "achieved"
    assert result.sentiment.value == "positive"
    assert result.problems[0].severity == "low"
    assert result.prompting_tips[0].example.startswith("Fix tests/")
    assert result.action_items == ("Add a regression test for empty input.",)


def test_stored_json_round_trips_to_the_same_result() -> None:
    result = parse_result(orjson.dumps(GOOD_ANALYSIS))
    assert orjson.loads(result_to_json(result)) == GOOD_ANALYSIS
    assert parse_result(result_to_json(result)) == result


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda d: d.pop("summary"), "summary"),
        (lambda d: d.__setitem__("key_topics", "pytest"), "key_topics"),
        (lambda d: d["outcome"].__setitem__("status", "great"), "outcome.status"),
        (lambda d: d["problems"][0].__setitem__("severity", "huge"), "problems[0].severity"),
        (lambda d: d["prompting_tips"][0].pop("example"), "prompting_tips[0].example"),
        (lambda d: d.__setitem__("sentiment", "happy"), "sentiment"),
    ],
)
def test_invalid_reply_names_the_bad_field(mutate, field: str) -> None:  # type: ignore[no-untyped-def]
    data = copy.deepcopy(GOOD_ANALYSIS)
    mutate(data)
    with pytest.raises(MalformedReply, match=field.replace("[", r"\[").replace("]", r"\]")):
        parse_result(orjson.dumps(data))


@pytest.mark.parametrize("text", ["{not json", "[]", '"a string"', ""])
def test_non_object_reply_is_malformed(text: str) -> None:
    with pytest.raises(MalformedReply):
        parse_result(text)


def test_markdown_has_a_section_per_part_of_the_result() -> None:
    markdown = render_markdown(parse_result(orjson.dumps(GOOD_ANALYSIS)), title="Analysis of c1")
    assert markdown.startswith("# Analysis of c1\n")
    for heading in (
        "## What went well",
        "## Problems",
        "## Prompting tips",
        "## Tool usage",
        "## Context window",
        "## Action items",
    ):
        assert heading in markdown
    assert "**Outcome:** Achieved — All tests pass at the end." in markdown
    assert "- [ ] Add a regression test for empty input." in markdown
    assert "Fix tests/test_parse.py::test_empty" in markdown


def test_response_schema_requires_every_result_field() -> None:
    assert set(RESPONSE_SCHEMA["required"]) == set(GOOD_ANALYSIS)
