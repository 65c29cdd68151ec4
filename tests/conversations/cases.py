"""Every linker scenario and every captured Claude Code session, by name, as records in the order
they arrive: the cases the readers of a linked tree are checked over."""

from __future__ import annotations

from nexus.records import RequestRecord
from tests.conversations.captured import DATA, captured_records
from tests.conversations.scenarios import SCENARIOS
from tests.conversations.traffic import Traffic


def case_names() -> list[str]:
    """The captures (``<version>/<name>`` for a CLI version's), then the scenarios."""
    names = [p.stem for p in sorted(DATA.glob("*.json"))]
    for version in ("2.1.197", "2.1.332"):
        names += [f"{version}/{p.stem}" for p in sorted((DATA / version).glob("*.json"))]
    return names + sorted(SCENARIOS)


def case_records(case: str) -> list[RequestRecord]:
    if case in SCENARIOS:
        traffic = Traffic()
        SCENARIOS[case](traffic)
        return sorted(traffic.records, key=lambda r: r.exchange.ended_at_ms)
    version, _, name = case.rpartition("/")
    return captured_records(name, version=version or None)
