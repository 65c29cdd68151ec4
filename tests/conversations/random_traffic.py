"""Random Claude Code-shaped traffic for property tests: a few sessions (with session ids, legacy
``metadata.user_id`` only, or none) taking turns at tool loops, rewinds, retries, compactions,
parallel and nested sub-agents and background calls, with overlapping start times."""

from __future__ import annotations

import random

from tests.conversations.traffic import Agent, Scope, Traffic, agent_call, is_typed


def random_traffic(seed: int, steps: int = 14) -> Traffic:
    rng = random.Random(seed)
    traffic = Traffic()
    scopes = [Scope(), Scope(client_key_id="key-b")]
    agents: list[Agent] = []
    for s in range(rng.randint(1, 3)):
        kind = rng.choice(["headers", "headers", "legacy", "anonymous"])
        session = traffic.session(
            scope=rng.choice(scopes),
            headers=kind == "headers",
            legacy=kind == "legacy",
            anonymous=kind == "anonymous",
        )
        agents.append(session.agent(rng.choice(["hi", "fix the bug", f"task {s}"])))
    sent = [False] * len(agents)
    n = 0

    def label(prefix: str) -> str:
        nonlocal n
        n += 1
        return f"{prefix}{n}"

    for _ in range(steps):
        i = rng.randrange(len(agents))
        a = agents[i]
        action = rng.choice(["turn", "turn", "tools", "rewind", "compact", "agents", "bg", "retry"])
        if not sent[i] or action == "turn":
            a.send(label("t"), text=rng.choice(["ok", "Hello!", None]))
            a.say(rng.choice(["go on", "hi", "next"]), as_string=rng.random() < 0.3)
        elif action == "tools":
            a.send(label("t"), tools=[("Bash", {"command": "ls"})])
            a.results("file")
        elif action == "rewind":
            typed = sum(1 for m in a.history if m["role"] == "user" and is_typed(m))
            agents[i] = a = a.rewind(rng.randint(1, max(1, typed))).say(f"again {n}")
        elif action == "compact":
            a.compact(
                label("k"),
                f"Summary line number {n} of what happened so far.",
                new_marker=rng.random() < 0.5,
                keep_tail=rng.choice([0, 1, 2]),
            )
            a.say("continue")
        elif action == "agents":
            prompts = [
                rng.choice(["Look around.", f"Check part {k}."]) for k in range(rng.randint(1, 3))
            ]
            a.send(label("p"), tools=[agent_call(p) for p in prompts])
            base = traffic.tick(50)
            subs = [a.session.subagent(p) for p in prompts]
            for k, sub in enumerate(subs):
                sub.send(
                    label("s"),
                    started_at_ms=base + rng.randint(0, 20),
                    duration_ms=rng.randint(50, 900),
                    tools=[agent_call("Dig deeper.")] if rng.random() < 0.2 else (),
                )
                if sub.pending_tools and rng.random() < 0.8:
                    inner = a.session.subagent("Dig deeper.")
                    inner.send(label("i"), started_at_ms=base + 1000 + k, duration_ms=30)
                    sub.results("deep")
                    sub.send(label("s"), started_at_ms=base + 1100 + k, duration_ms=30)
            traffic.tick(2000)
            a.results(*["done"] * len(prompts))
        elif action == "bg":
            a.session.background(
                label("b"),
                rng.choice(["quota", "title", "count_tokens"]),
                started_at_ms=traffic.clock_ms - rng.randint(0, 1500),
            )
        elif action == "retry":
            a.send(label("f"), fail=True)
        sent[i] = True
    return traffic
