"""`nexus doctor --wire`: find the CLI, run the check (nexus.wirecheck), print what it saw."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from nexus.cli.output import err, fail, out, print_json, run

if TYPE_CHECKING:
    from nexus.wirecheck import WireReport


def wire_check(claude_bin: str, *, timeout_s: float, as_json: bool, debug: bool) -> None:
    from nexus.wirecheck import run_wire_check

    found = shutil.which(claude_bin)
    if found is None:
        fail(
            f"{claude_bin}: not found. Install Claude Code (npm install -g "
            "@anthropic-ai/claude-code) or pass --claude PATH."
        )
    claude = Path(found).absolute()
    err.print(f"running {claude} once through a private Nexus (at most {timeout_s:.0f} s)…")
    report = run(run_wire_check(claude, timeout_s=timeout_s), debug=debug)
    if as_json:
        print_json(report.to_json())
    else:
        for line in render(report):
            out.print(line, highlight=False, markup=False, soft_wrap=True)
    if not report.ok:
        raise SystemExit(1)


def render(report: WireReport) -> list[str]:
    """The report as plain lines: what was seen, then one line per problem (or that there is none)."""
    code = "timed out" if report.exit_code is None else f"exit {report.exit_code}"
    lines = [
        f"Claude Code {report.cli_version}  {report.cli_path}  ({code}, {report.duration_s:.1f} s)",
        f"calls ({len(report.calls)}):",
    ]
    for number, call in enumerate(report.calls, 1):
        place = call.traffic_class or "never linked"
        if call.conversation_id:
            place += f"  conversation {call.conversation_id} {call.branch or ''}".rstrip()
        if call.subtask_of:
            place += f"  sub-task of #{_number_of(report, call.subtask_of)}"
        lines.append(f"  {call.label(number)}  → {call.status}  {place}")
    lines.append("paths:   " + (", ".join(report.paths) or "none"))
    lines.append("betas:   " + (", ".join(report.betas) or "none"))
    classes = ", ".join(f"{name} {count}" for name, count in report.classes.items())
    lines.append("classes: " + (classes or "none"))
    if report.ok:
        lines.append(
            "ok: every call classified and linked; the upstream got exactly what the client sent "
            "(bodies byte for byte, headers as docs/wire.md says)"
        )
    else:
        lines.extend(f"✗ {problem}" for problem in report.problems)
    return lines


def _number_of(report: WireReport, request_id: str) -> str:
    return next((str(n) for n, c in enumerate(report.calls, 1) if c.id == request_id), "?")
