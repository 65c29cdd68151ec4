"""What Nexus knows of the text Claude Code puts into request bodies: the markers of its harness
messages (compaction summaries, local-command echoes, fork boilerplate, side-question reminders)
and of the helper prompts it sends beside the person's turns.

The sole owner of these strings: the classifier, the fingerprints and the recorder's previews all
read them from here. Each marker is a phrase seen in a released CLI (2.1.197, 2.1.332; older
wordings kept); match them lower-cased. Every scan is linear in the text, whatever it holds
(tags are cut with ``str.find``, never a ``<tag>.*?</tag>`` regex). Pure: no I/O.
"""

from __future__ import annotations

from nexus.wire import strip_reminders

# The system blocks every Claude Code call starts with (its billing header, its identity line): a
# reader that wants what is particular to a call's system prompt skips them.
SHARED_SYSTEM_LINES = (
    "x-anthropic-billing-header",
    "You are Claude Code, Anthropic's official CLI",
)

# The first user message after a compaction (old and new Claude Code versions).
COMPACTION_CONTINUATION_MARKERS = (
    "This session is being continued from a previous conversation",
    "The summary below covers the earlier portion of the conversation",
)
# The instruction Claude Code appends to the last user message of the summarising call.
COMPACTION_PROMPT_MARKERS = (
    "create a detailed summary of the conversation so far",
    "create a detailed summary of the recent portion of the conversation",
    "your task is to create a detailed summary of the",
    "respond with text only. do not call any tools",
)

# A fork sub-agent (``Agent`` with ``subagent_type: "fork"``) starts with the parent's history and a
# last user message of [tool_result "Fork started…", "<fork-boilerplate>…</fork-boilerplate>
# Your directive: <the tool_use's prompt>"].
FORK_BOILERPLATE = "<fork-boilerplate>"
_FORK_BOILERPLATE_END = "</fork-boilerplate>"
_DIRECTIVE = "Your directive:"

# Helpers that fork the whole conversation (history, tools and all) and add a user message of their
# own: only that message tells them from a turn. Looked for in every user message, so a helper
# that runs several calls (memory extraction uses tools) is recognised on each. Lower-case.
SIDE_QUESTION_MARKER = "this is a side question from the user"
FORK_HELPER_MARKERS: tuple[tuple[str, str], ...] = (
    (SIDE_QUESTION_MARKER, "side_question"),  # /btw (querySource side_question)
    ("[suggestion mode: suggest what the user might naturally type next", "suggestion"),
    ("the user stepped away and is coming back", "summary"),  # away_summary
    ("describe your most recent action in 3-5 words", "summary"),  # agent_summary
    ("you are now acting as the memory extraction subagent", "memory"),  # extract_memories
    ("generate a short kebab-case name", "title"),  # /rename (rename_generate_name)
)
# Tool-less helpers, by their system prompt or user text. Lower-case.
HELPER_MARKERS: tuple[tuple[str, str], ...] = (
    ("isnewtopic", "topic"),
    ("indicates a new conversation topic", "topic"),
    ("summarize this coding conversation", "summary"),
    ("summarise this coding conversation", "summary"),
    ("write a short summary label describing what these tool calls accomplished", "summary"),
    ("you write a 3-5 word progress label for a background agent", "summary"),
    ("describe your most recent action in 3-5 words", "summary"),
    ("the user stepped away and is coming back", "summary"),
    ('return json with a single "title" field', "title"),  # generate_session_title (2.1.332)
    ("word title", "title"),
    ("sentence-case title", "title"),
    ("title for the conversation", "title"),
    ("generate a title", "title"),
    ("concise title", "title"),
    ("generate a short kebab-case name", "title"),  # /rename
    ("2-4 word lowercase label for this job", "title"),  # agent_namer
    ("[suggestion mode:", "suggestion"),
)
# Structured-output schemas of the tool-less helpers: property names → class.
SCHEMA_CLASSES: tuple[tuple[frozenset[str], str], ...] = (
    (frozenset({"title"}), "title"),  # generate_session_title
    (frozenset({"name"}), "title"),  # /rename
)

# Claude Code's own ``x-claude-code-request-class`` header (sent when its gateway hints are on).
REQUEST_CLASS_HEADER = "x-claude-code-request-class"

# Harness text in a user message that the person did not type (local-command echoes).
_ECHO_TAGS = ("local-command-caveat", "local-command-stdout", "local-command-stderr",
              "command-message", "command-name", "command-args")  # fmt: skip
_HARNESS_BLOCK_STARTS = (FORK_BOILERPLATE, "<task-notification>")


def is_compaction_prompt(text: str) -> bool:
    lowered = text.lower()
    return any(marker in lowered for marker in COMPACTION_PROMPT_MARKERS)


def has_compaction_marker(text: str) -> bool:
    return any(marker in text for marker in COMPACTION_CONTINUATION_MARKERS)


def fork_directive(text: str) -> str | None:
    """The directive of a fork sub-agent's boilerplate block, or None when ``text`` is not one."""
    if not text.startswith(FORK_BOILERPLATE):
        return None
    end = text.find(_FORK_BOILERPLATE_END)
    if end < 0:
        return None
    rest = text[end + len(_FORK_BOILERPLATE_END) :].lstrip()
    if not rest.startswith(_DIRECTIVE):
        return None
    return rest[len(_DIRECTIVE) :].strip() or None


def typed_text(blocks: list[str]) -> str:
    """What the person typed, from the text blocks of one user message: reminders, compaction
    summaries and prompts, fork boilerplate (its directive kept) and local-command echoes left out;
    a message that was only a slash command reads as that command (``/compact focus on tests``)."""
    kept: list[str] = []
    commands: list[str] = []
    for block in blocks:
        text = strip_reminders(block).strip()
        directive = fork_directive(text)
        if directive:  # a fork sub-agent's first call: its task is what it was told
            kept.append(directive)
            continue
        if (
            not text
            or has_compaction_marker(text)
            or is_compaction_prompt(text)
            or text.startswith(_HARNESS_BLOCK_STARTS)
        ):
            continue
        if "<command-" in text or "<local-command-" in text:
            parts = _cut_tags(text)
            name, args = parts.get("command-name", ""), parts.get("command-args", "")
            if name:
                commands.append(f"{name} {args}".strip())
            text = parts[""]
        if text:
            kept.append(text)
    return "\n".join(kept) if kept else "\n".join(commands)


def _cut_tags(text: str) -> dict[str, str]:
    """The local-command echo tags cut out of ``text``: their contents by tag name, and under ""
    what is left. One pass per tag; an unclosed tag is left as it is."""
    found: dict[str, str] = {}
    for tag in _ECHO_TAGS:
        opening, closing = f"<{tag}>", f"</{tag}>"
        out: list[str] = []
        at = 0
        while (start := text.find(opening, at)) >= 0:
            end = text.find(closing, start + len(opening))
            if end < 0:
                break
            out.append(text[at:start])
            found.setdefault(tag, text[start + len(opening) : end].strip())
            at = end + len(closing)
        text = "".join(out) + text[at:]
    found[""] = text.strip()
    return found
