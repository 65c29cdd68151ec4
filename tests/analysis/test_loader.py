"""The branch loader over conversations linked by the real conversation engine."""

from __future__ import annotations

from typing import Any

from nexus.analysis.loader import BranchNotFound, load_branch_exchanges
from nexus.analysis.transcript import build_turns
from nexus.conversations.worker import ConversationLinker
from tests.analysis.bodies import assistant, make_record, request_body, response, text, user
from tests.conversations.harness import link_live
from tests.conversations.traffic import Traffic, agent_call

T0 = 1_700_000_000_000


async def test_rewind_branch_includes_the_turns_before_its_fork_but_not_mains_later_turns(
    job_store: Any,
) -> None:
    import pytest

    h1 = [user("step one")]
    h2 = [*h1, assistant(text("did one")), user("step two")]
    h3 = [*h2, assistant(text("did two")), user("step three")]
    rewind = [*h1, assistant(text("did one")), user("step two, differently")]
    records = [
        make_record("r1", T0, request_body(h1), response(text("did one"))),
        make_record("r2", T0 + 1000, request_body(h2), response(text("did two"))),
        make_record("r3", T0 + 2000, request_body(h3), response(text("did three"))),
        make_record("r4", T0 + 3000, request_body(rewind), response(text("did two again"))),
    ]
    await job_store.write_batch(records)
    links = await ConversationLinker(job_store).link_batch(records)
    await job_store.write_links(links)
    by_id = {link.request_id: link for link in links}
    conversation_id = by_id["r1"].conversation_id
    assert conversation_id and by_id["r4"].branch not in (None, by_id["r3"].branch)

    main = build_turns(await load_branch_exchanges(job_store, conversation_id, "main"))
    assert [t.text for t in main][-2:] == ["step three", "did three"]
    branch = by_id["r4"].branch
    assert branch is not None
    rewound = build_turns(await load_branch_exchanges(job_store, conversation_id, branch))
    assert [t.text for t in rewound] == [
        "step one",
        "did one",
        "step two, differently",
        "did two again",
    ]
    with pytest.raises(BranchNotFound, match="no branch 'nope'"):
        await load_branch_exchanges(job_store, conversation_id, "nope")
    with pytest.raises(BranchNotFound, match="not found"):
        await load_branch_exchanges(job_store, "no-such-conversation", "main")


async def test_a_subagent_branch_is_its_own_turns_even_when_the_client_sends_no_agent_id(
    job_store: Any,
) -> None:
    # An older client sends no x-claude-code-agent-id, so the main agent and its sub-agent both
    # carry agent id None; the linker still knows the sub-task (subtask_of). Reading the branch by
    # agent id took the main agent's turns before the spawn into the sub-agent's analysis.
    prompt = "Run `echo ok` with Bash and report its output."
    t = Traffic()
    s = t.session()
    a = s.agent("spawn a sub-agent that runs one command, then answer")
    a.send("p1", tools=[agent_call(prompt)])
    sub = s.subagent(prompt, agent_id="")
    sub.send("s1", tools=[("Bash", {"command": "echo ok"})])
    sub.results("ok").send("s2", text="The tool said: ok")
    a.results("The tool said: ok").send("p2")
    await link_live(job_store, sorted(t.records, key=lambda r: r.exchange.ended_at_ms))
    links = await job_store.stored_links([t.labels["s2"]])
    link = links[t.labels["s2"]]
    assert (link.branch, link.subtask_of, link.agent_id) == ("task-1", t.labels["p1"], None)

    turns = build_turns(await load_branch_exchanges(job_store, t.labels["p1"], "task-1"))
    assert turns[0].text.endswith(prompt)
    assert not any("spawn a sub-agent" in turn.text for turn in turns)
