from __future__ import annotations

from nexus.analysis.transcript import (
    COMPACTION_MARK,
    Turn,
    build_turns,
    fit_to_budget,
)
from tests.analysis.bodies import (
    assistant,
    request_body,
    response,
    session,
    text,
    tool_result,
    tool_use,
    user,
)


def test_linear_session_becomes_alternating_turns_from_the_last_request() -> None:
    turns = build_turns(
        session([("fix the bug", "done"), ("add a test", "added"), ("thanks", "bye")])
    )
    assert [t.role for t in turns] == ["user", "model"] * 3
    assert [t.text for t in turns] == [
        "fix the bug",
        "done",
        "add a test",
        "added",
        "thanks",
        "bye",
    ]


def test_system_reminders_thinking_and_injected_system_messages_are_dropped() -> None:
    messages = [
        user("hello"),
        {"role": "system", "content": "agent types: general-purpose"},
        assistant({"type": "thinking", "thinking": "hmm", "signature": "sig"}, text("hi there")),
        user("bye"),
    ]
    turns = build_turns([(request_body(messages), None)])
    assert [t.text for t in turns] == ["hello", "hi there", "bye"]


def test_tool_calls_are_named_with_a_short_input_summary_and_results_previewed() -> None:
    messages = [
        user("run the tests"),
        assistant(text("Running them."), tool_use("Bash", "t1", command="pytest -q " + "x" * 500)),
        tool_result("t1", "FAILED test_a\n" * 100, is_error=True),
    ]
    reply = response(tool_use("Read", "t2", file_path="src/a.py", limit=50))
    turns = build_turns([(request_body(messages), reply)])
    assert turns[1].text.startswith("Running them.\n\n[tool call Bash: command=pytest -q xxx")
    assert len(turns[1].text) < 250
    assert turns[2].text.startswith("[tool error: FAILED test_a FAILED test_a")
    assert len(turns[2].text) < 300
    assert turns[3].text == "[tool call Read: file_path=src/a.py]"


def test_compaction_starts_a_new_segment_after_the_old_one() -> None:
    before = session([("step one", "ok one"), ("step two", "ok two")])
    after = session([("This session is being continued from a previous conversation.", "resuming")])
    turns = build_turns([*before, *after])
    texts = [t.text for t in turns]
    assert texts[:4] == ["step one", "ok one", "step two", "ok two"]
    assert texts[4].startswith(COMPACTION_MARK)
    assert texts[-1] == "resuming"


def test_secrets_in_messages_are_redacted() -> None:
    pairs = session([("my key is sk-ant-api03-SECRETSECRETSECRET", "use cnp_live_abcdef123456")])
    joined = " ".join(t.text for t in build_turns(pairs))
    assert "SECRETSECRET" not in joined and "cnp_live_abcdef123456" not in joined
    assert "[REDACTED:anthropic-key]" in joined


def test_unparseable_bodies_are_skipped() -> None:
    assert build_turns([(b"not json", None), (b'{"messages": 3}', None)]) == []


def test_short_transcript_is_sent_whole() -> None:
    turns = [Turn("user", "a" * 10), Turn("model", "b" * 10)]
    fitted = fit_to_budget(turns, 1_000)
    assert fitted.turns == tuple(turns) and fitted.note == ""


def test_huge_transcript_keeps_start_and_end_and_says_what_was_cut() -> None:
    turns = [
        Turn("user" if i % 2 == 0 else "model", f"turn-{i} " + "x" * 990) for i in range(1_000)
    ]
    fitted = fit_to_budget(turns, 50_000)
    assert fitted.chars <= 50_000
    texts = [t.text for t in fitted.turns]
    assert texts[0].startswith("turn-0 ") and texts[-1].startswith("turn-999 ")
    assert fitted.omitted_turns > 900
    assert "left out to fit" in fitted.note and "of 1000" in fitted.note
    assert any("[Nexus: Turns " in t for t in texts)
    roles = [t.role for t in fitted.turns]
    assert all(a != b for a, b in zip(roles, roles[1:], strict=False))


def test_one_giant_message_is_cut_in_its_middle() -> None:
    turns = [Turn("user", "start " + "y" * 100_000 + " end"), Turn("model", "ok")]
    fitted = fit_to_budget(turns, 20_000)
    assert fitted.chars <= 20_000
    assert fitted.turns[0].text.startswith("start ") and fitted.turns[0].text.endswith(" end")
    assert "characters cut" in fitted.turns[0].text
    assert fitted.note
