"""The html export: one self-contained page (inline CSS and JS, no network) to share a
conversation in a review.

A side panel draws the conversation tree (threads, their turns, sub-agents and branches nested at
the turn they start from, each a link to the turn); the transcript shows every turn with tool
calls, results, thinking and system reminders collapsed. Every piece of text is scrubbed of
key-shaped strings and then HTML-escaped; a Content-Security-Policy forbids any fetch.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from html import escape

from nexus import __version__
from nexus.conversations.shape import ConversationView, Thread
from nexus.export.figures import (
    format_clock,
    format_cost,
    format_time,
    total_cost_line,
    totals,
    turn_line,
    usage_line,
)
from nexus.export.scrub import scrub_text
from nexus.export.source import ExportSource
from nexus.export.transcript import Block, Message, fold
from nexus.export.walk import ThreadEnd, ThreadStart, TurnShown, thread_title, walk
from nexus.records import RequestSummary, TrafficClass

WriteText = Callable[[str], object]

BLOCK_FOLD = 20_000  # a shared page stays small enough to open; the jsonl export has it all
PREVIEW_CHARS = 80

_CSS = """
:root{--bg:#fbfbfa;--fg:#1d1d1f;--mute:#6b6b70;--line:#e2e2e0;--user:#eef4ff;--asst:#f4f1fb;
--tool:#f6f6f4;--err:#b42318;--accent:#3b5bdb}
*{box-sizing:border-box}body{margin:0;font:14px/1.5 system-ui,sans-serif;color:var(--fg);
background:var(--bg)}header{padding:12px 20px;border-bottom:1px solid var(--line)}
h1{font-size:18px;margin:0 0 6px}.facts{color:var(--mute);font-size:13px}
.facts span{margin-right:14px}.layout{display:flex;align-items:flex-start}
nav{position:sticky;top:0;width:340px;max-height:100vh;overflow:auto;padding:12px;
border-right:1px solid var(--line);font-size:13px}nav ul{list-style:none;margin:0;padding-left:12px}
nav>ul{padding-left:0}nav a{color:var(--fg);text-decoration:none;display:block;white-space:nowrap;
overflow:hidden;text-overflow:ellipsis}nav a:hover{color:var(--accent)}
nav summary{font-weight:600;cursor:pointer}.tools{margin-bottom:8px;display:flex;gap:6px}
.tools input{flex:1;min-width:0}main{flex:1;padding:12px 20px;min-width:0}
details.thread{border-left:3px solid var(--line);padding-left:12px;margin:10px 0}
details.thread.subagent{border-color:#b197fc}details.thread.branch{border-color:#ffa94d}
details.thread>summary{font-weight:600;font-size:15px;cursor:pointer}
article.turn{border:1px solid var(--line);border-radius:6px;margin:10px 0;background:#fff}
article.turn>h3{font-size:14px;margin:0;padding:6px 10px;border-bottom:1px solid var(--line)}
.fig{color:var(--mute);font-size:12px;padding:2px 10px}.msg{padding:6px 10px}
.msg.user{background:var(--user)}.msg.assistant{background:var(--asst)}.who{font-weight:600}
.text{white-space:pre-wrap;word-break:break-word}pre{white-space:pre-wrap;word-break:break-word;
background:var(--tool);padding:6px;margin:4px 0;font-size:12px}.err{color:var(--err)}
details.block>summary{cursor:pointer;color:var(--mute)}.kind{font-size:11px;padding:0 6px;
border-radius:8px;background:var(--line);margin-left:6px}.hidden{display:none}
table{border-collapse:collapse;font-size:13px}td,th{border:1px solid var(--line);padding:2px 8px}
"""

_JS = """
(function(){
  function all(open){document.querySelectorAll('details').forEach(function(d){d.open=open;});}
  document.getElementById('expand').onclick=function(){all(true);};
  document.getElementById('collapse').onclick=function(){all(false);};
  document.getElementById('filter').oninput=function(e){
    var q=e.target.value.toLowerCase();
    document.querySelectorAll('nav li.node').forEach(function(li){
      var a=li.querySelector(':scope>a');
      li.classList.toggle('hidden', q!=='' && a.textContent.toLowerCase().indexOf(q)<0
        && !li.querySelector('li.node:not(.hidden)'));
    });
  };
  function reveal(id){var el=document.getElementById(id);
    for(var p=el;p;p=p.parentElement){if(p.tagName==='DETAILS'){p.open=true;}}}
  document.querySelectorAll('nav a').forEach(function(a){a.addEventListener('click',function(){
    reveal(a.getAttribute('href').slice(1));});});
  if(location.hash){reveal(location.hash.slice(1));}
  // The transcript knows each sub-agent's task (from its Agent call); the tree only its agent id.
  document.querySelectorAll('nav li[data-thread]').forEach(function(li){
    var d=document.getElementById(li.getAttribute('data-thread'));
    var t=d&&d.querySelector(':scope>summary');
    if(t){li.querySelector('summary').textContent=t.textContent;}
  });
  document.body.setAttribute('data-ready','1');
})();
"""


def _e(text: str) -> str:
    return escape(scrub_text(text), quote=True)


def _preview(s: RequestSummary) -> str:
    text = " ".join((s.user_preview or s.reply_preview or s.path).split())
    return text[:PREVIEW_CHARS] + ("…" if len(text) > PREVIEW_CHARS else "")


def _nav(view: ConversationView) -> str:
    forks: dict[str, list[Thread]] = defaultdict(list)
    for thread in view.threads:
        if thread.anchor_id is not None:
            forks[thread.anchor_id].append(thread)
    numbers: dict[str, int] = {}
    for thread in view.threads:
        first = 1 if thread.anchor_id is None else numbers.get(thread.anchor_id, 0) + 1
        _number(thread, first, numbers)
    placed = {t.id for ts in forks.values() for t in ts if t.anchor_id in numbers}
    roots = [t for t in view.threads if t.id not in placed]
    return "<ul>" + "".join(_nav_thread(t, forks, numbers) for t in roots) + "</ul>"


def _number(thread: Thread, first: int, numbers: dict[str, int]) -> None:
    for i, turn in enumerate(thread.turns):
        numbers[turn.id] = first + i
        for sub in turn.subagents:
            _number(sub, 1, numbers)


def _nav_thread(thread: Thread, forks: dict[str, list[Thread]], numbers: dict[str, int]) -> str:
    title = thread_title(thread, numbers, thread.turns[0].summary.agent_id or "")
    items = []
    for turn in thread.turns:
        s = turn.summary
        mark = _kind_mark(s.traffic_class)
        label = f"{numbers[turn.id]}. {_preview(s)}"
        children = [*turn.subagents, *forks.get(turn.id, ())]
        nested = "".join(_nav_thread(t, forks, numbers) for t in children)
        items.append(
            f'<li class="node"><a href="#t-{_e(s.id)}" title="{_e(s.user_preview[:300])}">'
            f"{_e(label)}{mark}</a>{'<ul>' + nested + '</ul>' if nested else ''}</li>"
        )
    return (
        f'<li class="thread {thread.kind}" data-thread="th-{_e(thread.id)}"><details open>'
        f"<summary>{_e(title)}</summary>"
        f"<ul>{''.join(items)}</ul></details></li>"
    )


def _kind_mark(cls: TrafficClass | None) -> str:
    if cls is None or cls.is_agent_call:
        return ""
    return f'<span class="kind">{_e(cls.value)}</span>'


def _block_html(block: Block) -> str:
    text = _e(fold(block.text, BLOCK_FOLD))
    if block.kind == "text":
        return f'<div class="text">{text}</div>'
    if block.kind == "image":
        return f'<div class="text"><em>{text}</em></div>'
    if block.kind == "tool_use":
        title = f"Tool call: {block.name}" + (f" ({block.tool_id})" if block.tool_id else "")
    elif block.kind == "tool_result":
        title = "Tool result" + (f": {block.name}" if block.name else "")
        title += f" ({block.tool_id})" if block.tool_id else ""
        title += " — error" if block.is_error else ""
    elif block.kind == "thinking":
        title = "Thinking"
    elif block.kind == "reminder":
        title = "System reminder"
    else:
        title = block.name or "Block"
    size = f" · {len(block.text):,} chars"
    cls = " err" if block.is_error else ""
    return (
        f'<details class="block {block.kind}"><summary class="{cls.strip()}">{_e(title)}{size}'
        f"</summary><pre>{text}</pre></details>"
    )


def _message_html(message: Message) -> str:
    role = message.role if message.role in ("user", "assistant", "system") else "user"
    blocks = "".join(_block_html(b) for b in message.blocks)
    return (
        f'<div class="msg {role}"><div class="who">{_e(message.role.title())}</div>{blocks}</div>'
    )


def _turn_html(event: TurnShown) -> str:
    s = event.turn.summary
    c = event.content
    head = f"Turn {event.number} · {format_clock(s.started_at_ms)} · {s.model or '?'}"
    parts = [
        f'<article class="turn" id="t-{_e(s.id)}"><h3>{_e(head)}{_kind_mark(s.traffic_class)}</h3>',
        f'<div class="fig">{_e(s.id)} · {_e(turn_line(s))}</div>',
    ]
    if c.system_text and (event.number == 1 or event.turn.summary.parent_request_id is None):
        block = Block("other", c.system_text, "System prompt")
        parts.append(f'<div class="msg system">{_block_html(block)}</div>')
    parts.extend(_message_html(m) for m in c.inputs)
    if c.output is not None:
        parts.append(_message_html(c.output))
    if c.error:
        parts.append(f'<div class="msg err">Error: {_e(c.error)}</div>')
    parts.append("</article>")
    return "".join(parts)


def _head(view: ConversationView, branch: str | None) -> str:
    t = totals(view)
    facts = [
        ("Started", format_time(t.started_at_ms) if t.started_at_ms else "–"),
        ("Requests", str(t.requests)),
        ("Models", ", ".join(t.models) or "–"),
        ("Branches", ", ".join(t.branches)),
        ("Sub-agents", str(t.subagents)),
        ("Tokens", usage_line(t.usage)),
        ("Cost", total_cost_line(t)),
    ]
    if branch is not None:
        facts.insert(0, ("Branch", branch))
    spans = "".join(f"<span><b>{_e(k)}</b> {_e(v)}</span>" for k, v in facts)
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="generator" content="nexus {__version__}">'
        f"<title>Conversation {_e(view.id)}</title><style>{_CSS}</style></head><body>"
        f'<header><h1>Conversation {_e(view.id)}</h1><div class="facts">{spans}</div></header>'
        '<div class="layout"><nav id="tree"><div class="tools">'
        '<input id="filter" type="search" placeholder="filter turns">'
        '<button id="expand" type="button">expand</button>'
        '<button id="collapse" type="button">collapse</button></div>'
        f"{_nav(view)}</nav><main>"
    )


def _background_html(view: ConversationView) -> str:
    if not view.background:
        return ""
    rows = "".join(
        f"<tr><td>{_e(format_clock(s.started_at_ms))}</td>"
        f"<td>{_e(s.traffic_class.value if s.traffic_class else '–')}</td>"
        f"<td>{_e(s.model or '–')}</td><td>{_e(usage_line(s.usage))}</td>"
        f"<td>{_e(format_cost(s.cost_usd_micros))}</td></tr>"
        for s in view.background
    )
    return (
        '<details class="thread background"><summary>Background calls '
        f"({len(view.background)})</summary><table><tr><th>time</th><th>class</th><th>model</th>"
        f"<th>tokens</th><th>cost</th></tr>{rows}</table></details>"
    )


async def write_html(
    source: ExportSource,
    view: ConversationView,
    write: WriteText,
    *,
    branch: str | None = None,
) -> None:
    """Render ``view`` as one self-contained HTML page."""
    write(_head(view, branch))
    async for event in walk(source, view):
        if isinstance(event, ThreadStart):
            t = event.thread
            write(
                f'<details class="thread {t.kind}" id="th-{_e(t.id)}" open>'
                f"<summary>{_e(event.title)}</summary>"
            )
        elif isinstance(event, TurnShown):
            write(_turn_html(event))
        elif isinstance(event, ThreadEnd):
            write("</details>")
    write(_background_html(view))
    write(f"</main></div><script>{_JS}</script></body></html>\n")
