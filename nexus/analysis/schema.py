"""The structured result of an analysis: the response schema Gemini must follow, the validation of
its reply into frozen records, and the markdown rendering people read.

This module is the sole owner of the result's shape; the prompt text refers to its field names, the
store keeps it as JSON (``result_to_json``) and the API returns that JSON unchanged.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import orjson

from nexus.errors import AnalysisError

OUTCOME_STATUSES = ("achieved", "partially_achieved", "not_achieved", "unclear")
SENTIMENTS = ("positive", "neutral", "mixed", "negative", "frustrated")
SEVERITIES = ("low", "medium", "high")
RATINGS = ("good", "fair", "poor", "not_applicable")


class MalformedReply(AnalysisError):
    """The model's reply is not a valid analysis."""


@dataclass(frozen=True, slots=True)
class Assessment:
    """A closed-set verdict with the reasoning behind it (outcome, sentiment, ratings)."""

    value: str
    details: str


@dataclass(frozen=True, slots=True)
class Problem:
    title: str
    details: str
    severity: str


@dataclass(frozen=True, slots=True)
class PromptingTip:
    tip: str
    why: str
    example: str  # a better prompt the user could have written


@dataclass(frozen=True, slots=True)
class AnalysisResult:
    summary: str
    key_topics: tuple[str, ...]
    user_intent: str
    outcome: Assessment
    sentiment: Assessment
    what_went_well: tuple[str, ...]
    problems: tuple[Problem, ...]
    prompting_tips: tuple[PromptingTip, ...]
    tool_usage_efficiency: Assessment
    context_window_management: Assessment
    action_items: tuple[str, ...]


# -- the schema sent to Gemini (its OpenAPI subset) ---------------------------------------------


def _string(description: str, enum: tuple[str, ...] | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "STRING", "description": description}
    if enum:
        schema["enum"] = list(enum)
    return schema


def _strings(description: str) -> dict[str, Any]:
    return {"type": "ARRAY", "description": description, "items": {"type": "STRING"}}


def _object(properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "OBJECT",
        "properties": properties,
        "required": list(properties),
        "propertyOrdering": list(properties),
    }


def _assessment(key: str, enum: tuple[str, ...], description: str) -> dict[str, Any]:
    return _object({key: _string(description, enum), "details": _string("Why, with evidence.")})


RESPONSE_SCHEMA: dict[str, Any] = _object(
    {
        "summary": _string("Three to six sentences: what happened in the conversation."),
        "key_topics": _strings("Short topic labels."),
        "user_intent": _string("What the user was trying to achieve."),
        "outcome": _assessment("status", OUTCOME_STATUSES, "Whether the intent was met."),
        "sentiment": _assessment("overall", SENTIMENTS, "The user's mood over the conversation."),
        "what_went_well": _strings("Concrete things that worked."),
        "problems": {
            "type": "ARRAY",
            "items": _object(
                {
                    "title": _string("A short name for the problem."),
                    "details": _string("What went wrong, where, and its cost."),
                    "severity": _string("How much it hurt.", SEVERITIES),
                }
            ),
        },
        "prompting_tips": {
            "type": "ARRAY",
            "items": _object(
                {
                    "tip": _string("The advice."),
                    "why": _string("What it would have changed in this conversation."),
                    "example": _string("A better prompt the user could have written."),
                }
            ),
        },
        "tool_usage_efficiency": _assessment("rating", RATINGS, "How well tools were used."),
        "context_window_management": _assessment(
            "rating", RATINGS, "How well the context window was used."
        ),
        "action_items": _strings("Next steps for the user or the team."),
    }
)


# -- validation ---------------------------------------------------------------------------------


def parse_result(text: str | bytes) -> AnalysisResult:
    """The model's reply validated into a result; ``MalformedReply`` names the first bad field."""
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise MalformedReply(f"the reply is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise MalformedReply("the reply is not a JSON object")
    return result_from_dict(data)


def result_from_dict(data: dict[str, Any]) -> AnalysisResult:
    return AnalysisResult(
        summary=_text(data, "summary"),
        key_topics=_texts(data, "key_topics"),
        user_intent=_text(data, "user_intent"),
        outcome=_verdict(data, "outcome", "status", OUTCOME_STATUSES),
        sentiment=_verdict(data, "sentiment", "overall", SENTIMENTS),
        what_went_well=_texts(data, "what_went_well"),
        problems=tuple(
            Problem(
                title=_text(item, "title", f"problems[{i}]"),
                details=_text(item, "details", f"problems[{i}]"),
                severity=_choice(item, "severity", SEVERITIES, f"problems[{i}]"),
            )
            for i, item in enumerate(_objects(data, "problems"))
        ),
        prompting_tips=tuple(
            PromptingTip(
                tip=_text(item, "tip", f"prompting_tips[{i}]"),
                why=_text(item, "why", f"prompting_tips[{i}]", required=False),
                example=_text(item, "example", f"prompting_tips[{i}]"),
            )
            for i, item in enumerate(_objects(data, "prompting_tips"))
        ),
        tool_usage_efficiency=_verdict(data, "tool_usage_efficiency", "rating", RATINGS),
        context_window_management=_verdict(data, "context_window_management", "rating", RATINGS),
        action_items=_texts(data, "action_items"),
    )


def _text(data: dict[str, Any], key: str, where: str = "", *, required: bool = True) -> str:
    value = data.get(key)
    name = f"{where}.{key}" if where else key
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise MalformedReply(f"field {name} must be a non-empty string")
    return value.strip()


def _texts(data: dict[str, Any], key: str) -> tuple[str, ...]:
    value = data.get(key)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise MalformedReply(f"field {key} must be a list of strings")
    return tuple(v.strip() for v in value if v.strip())


def _objects(data: dict[str, Any], key: str) -> list[dict[str, Any]]:
    value = data.get(key)
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise MalformedReply(f"field {key} must be a list of objects")
    return value


def _choice(data: dict[str, Any], key: str, allowed: tuple[str, ...], where: str) -> str:
    value = data.get(key)
    if isinstance(value, str) and value.strip().lower() in allowed:
        return value.strip().lower()
    raise MalformedReply(f"field {where}.{key} must be one of {', '.join(allowed)}")


def _verdict(
    data: dict[str, Any], key: str, value_key: str, allowed: tuple[str, ...]
) -> Assessment:
    value = data.get(key)
    if not isinstance(value, dict):
        raise MalformedReply(f"field {key} must be an object")
    return Assessment(
        value=_choice(value, value_key, allowed, key),
        details=_text(value, "details", key, required=False),
    )


# -- storage and rendering ----------------------------------------------------------------------


def result_to_json(result: AnalysisResult) -> bytes:
    """The stored and served JSON: the schema's own field names (verdicts keep their key)."""
    data = asdict(result)
    for key, value_key in _VERDICT_KEYS.items():
        verdict = data[key]
        data[key] = {value_key: verdict["value"], "details": verdict["details"]}
    return orjson.dumps(data)


_VERDICT_KEYS = {
    "outcome": "status",
    "sentiment": "overall",
    "tool_usage_efficiency": "rating",
    "context_window_management": "rating",
}


def render_markdown(
    result: AnalysisResult, *, title: str = "Conversation analysis", note: str = ""
) -> str:
    """A readable report with one section per field, in the order a reader wants them; ``note``
    says what the model did not see (a transcript cut to fit)."""
    out = [f"# {title}", ""]
    if note:
        out += [f"> Note: {note}", ""]
    out += [result.summary, ""]
    out += [f"**Intent:** {result.user_intent}", ""]
    out += [f"**Outcome:** {_label(result.outcome.value)}" + _after(result.outcome.details)]
    out += [f"**Sentiment:** {_label(result.sentiment.value)}" + _after(result.sentiment.details)]
    if result.key_topics:
        out += ["", "**Topics:** " + ", ".join(result.key_topics)]
    out += _bullets("What went well", result.what_went_well)
    if result.problems:
        out += ["", "## Problems", ""]
        out += [f"- **{p.title}** ({p.severity}): {p.details}" for p in result.problems]
    if result.prompting_tips:
        out += ["", "## Prompting tips", ""]
        for tip in result.prompting_tips:
            out.append(f"- **{tip.tip}**" + _after(tip.why))
            out += ["", "  ```text", *("  " + line for line in tip.example.splitlines()), "  ```"]
    out += [
        "",
        "## Tool usage",
        "",
        f"{_label(result.tool_usage_efficiency.value)}"
        + _after(result.tool_usage_efficiency.details),
    ]
    out += [
        "",
        "## Context window",
        "",
        f"{_label(result.context_window_management.value)}"
        + _after(result.context_window_management.details),
    ]
    out += _bullets("Action items", result.action_items, checkbox=True)
    return "\n".join(out).rstrip() + "\n"


def _label(value: str) -> str:
    return value.replace("_", " ").capitalize()


def _after(details: str) -> str:
    return f" — {details}" if details else ""


def _bullets(heading: str, items: tuple[str, ...], *, checkbox: bool = False) -> list[str]:
    if not items:
        return []
    mark = "- [ ] " if checkbox else "- "
    return ["", f"## {heading}", "", *(mark + item for item in items)]
