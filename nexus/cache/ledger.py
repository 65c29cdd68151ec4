"""The cache ledger as it runs: live right after linking, and as a rebuild over a whole store.

For each linked request it finds the predecessor on the request's line of work (the store's
``links``), compares the two outlines (``prompt.py``: segment count and breakpoints, read from the
parsed body's keys), and only when that finds a break prints both (hashes, sizes) to explain it and
writes a ``cache_breaks`` row (``detect``, ``explain``, ``price``). Live, a request's body is still
parsed in memory (``RequestRecord.parsed_request``) and its predecessor's outline is usually
remembered from a moment ago; anything else is read back from the store and parsed once. A request that arrives
after a later one of its line (a spool replay, concurrent writers) also re-checks that later one,
whose predecessor it now is, so live and ``rebuild_cache_ledger`` agree.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from nexus.cache.detect import detect, needs_sizes
from nexus.cache.explain import describe, find_cause
from nexus.cache.price import excess_cost_usd_micros
from nexus.cache.prompt import PromptOutline, PromptPrint, outline_prompt, print_prompt
from nexus.records import (
    Link,
    RequestFilter,
    RequestRecord,
    StoredRequest,
    Usage,
    is_background_class,
)
from nexus.store.base import CacheLedgerStore, LedgerRow, Position
from nexus.usage.prices import PriceBook, builtin_price_book
from nexus.wire import ParsedRequest, parsed_body

ProgressFn = Callable[[int, int], None]  # (requests done, requests in all)
_Line = tuple[str, str, str | None]  # conversation, branch, agent
_TIPS = 4096  # lines remembered
_UNKNOWN = "?"  # a predecessor not looked up yet (no request id looks like this)
_REWIND_PREFIX = "branch-"  # a rewind branch continues the line it rewound (records.BRANCH_KINDS)


class LedgerStore(CacheLedgerStore, Protocol):
    async def get_request(self, request_id: str) -> StoredRequest | None: ...

    async def count_requests(self, flt: RequestFilter) -> int: ...

    async def linking_positions(
        self, after: Position | None, limit: int = 500
    ) -> list[Position]: ...


@dataclass(frozen=True, slots=True)
class _Request:
    """What the ledger needs of one request, from a record in memory or a stored request."""

    id: str
    started_at_ms: int
    ended_at_ms: int
    status: int | None
    model: str | None
    usage: Usage
    link: Link | None
    body: bytes
    parsed: ParsedRequest | None

    @property
    def position(self) -> Position:
        return (self.started_at_ms, self.id)

    @property
    def is_on_a_line(self) -> bool:
        link = self.link
        return (
            link is not None
            and link.conversation_id is not None
            and link.branch is not None
            and not is_background_class(link.traffic_class)
        )

    @staticmethod
    def of_record(record: RequestRecord, link: Link | None) -> _Request:
        ex = record.exchange
        return _Request(ex.id, ex.started_at_ms, ex.ended_at_ms, ex.status, record.model,
                        record.usage, link, ex.request_body, record.parsed_request)  # fmt: skip

    @staticmethod
    def of_stored(stored: StoredRequest) -> _Request:
        s = stored.summary
        link = None
        if s.traffic_class is not None:
            link = Link(s.id, s.traffic_class, s.conversation_id, s.parent_request_id, s.branch,
                        s.subtask_of, s.agent_id)  # fmt: skip
        return _Request(s.id, s.started_at_ms, s.started_at_ms + s.duration_ms, s.status, s.model,
                        s.usage, link, stored.request_body, None)  # fmt: skip


def _line(r: _Request) -> _Line:
    link = r.link
    assert link is not None and link.conversation_id is not None and link.branch is not None
    return (link.conversation_id, link.branch, link.agent_id)


class CacheLedger:
    """Computes and writes ledger rows; keeps the outlines of recent requests (``memory`` of
    them: a few hundred bytes each, no content)."""

    def __init__(
        self, store: LedgerStore, book: PriceBook | None = None, *, memory: int = 4096
    ) -> None:
        self.store = store
        self.book = book or builtin_price_book()
        self.memory = memory
        self._outlines: OrderedDict[str, PromptOutline] = OrderedDict()
        # The newest request of each line this process has seen, and that line's latest 2xx one:
        # live records arrive in order, so the next one's predecessor is known without a query.
        # True where one process owns the store (SQLite), and on Postgres while only this
        # process's linker linked (the link generation went up by one per batch: ``after_linking``).
        self._tips: OrderedDict[_Line, tuple[Position, str | None]] = OrderedDict()
        self._sole_writer = getattr(store, "dialect", "") == "sqlite"
        self._trust_tips = self._sole_writer
        self._generation: int | None = None  # of the linking pass behind the last batch

    async def after_linking(
        self,
        records: Sequence[RequestRecord],
        links: Sequence[Link],
        generation: int | None = None,
    ) -> int:
        """Ledger rows for records just linked (and for requests whose links were repaired);
        returns how many breaks were new. ``generation``: the link generation of the pass that
        linked them (``ConversationLinker.known.generation``); one above the last batch's, nobody
        else linked in between, and the tips this ledger keeps are still the store's."""
        continued = generation is not None and self._generation == generation - 1
        self._generation = generation
        self._trust_tips = self._sole_writer or continued
        if not self._trust_tips:
            self._tips.clear()  # rebuilt from the store's answers, trusted from the next batch on
        by_link = {link.request_id: link for link in links}
        todo = [_Request.of_record(r, by_link.get(r.id)) for r in records]
        fresh = {r.id for r in records}
        for link in links:
            if link.request_id not in fresh:  # a repaired link: its line may have changed
                stored = await self.store.get_request(link.request_id)
                if stored is not None:
                    todo.append(_Request.of_stored(stored))
        todo = [r for r in todo if r.is_on_a_line]
        if not todo:
            return 0
        todo.sort(key=lambda r: r.position)
        if len(todo) > len([r for r in todo if r.id in fresh]):
            self._tips.clear()  # a repaired link may have moved a request to another line
        predecessors: dict[str, str | None] = {}
        for request in list(todo):
            predecessors[request.id], successor = await self._neighbours_of_new(request)
            if successor is not None and successor not in {r.id for r in todo}:
                self._tips.clear()  # a late arrival: the lines after it are re-checked
                stored = await self.store.get_request(successor)
                if stored is not None:
                    todo.append(_Request.of_stored(stored))
        stale = [r.id for r in todo if r.id not in fresh]  # may have rows: replace them
        return await self._check(todo, stale, announce=True, predecessors=predecessors)

    async def rebuild(self, *, batch_size: int = 200, on_progress: ProgressFn | None = None) -> int:
        """Forget the ledger and compute it for every stored request in canonical order; returns
        how many requests were looked at. Adds no events (nothing happened just now)."""
        total = await self.store.count_requests(RequestFilter())
        await self.store.clear_cache_ledger()
        done = 0
        after: Position | None = None
        while positions := await self.store.linking_positions(after, batch_size):
            stored = [s for s in [await self.store.get_request(i) for _, i in positions] if s]
            await self._check([_Request.of_stored(s) for s in stored], (), announce=False)
            done += len(positions)
            after = positions[-1]
            if on_progress is not None:
                on_progress(done, max(total, done))
        return done

    async def _check(
        self,
        requests: Sequence[_Request],
        stale: Sequence[str],
        *,
        announce: bool,
        predecessors: dict[str, str | None] | None = None,
    ) -> int:
        """Judge ``requests`` in canonical order and write their rows; ``stale``: ids that may
        already have rows (a request just stored has none: no write at all when nothing broke)."""
        rows: list[LedgerRow] = []
        for request in sorted(requests, key=lambda r: r.position):
            row = await self._judge(request, (predecessors or {}).get(request.id, _UNKNOWN))
            if row is not None:
                rows.append(row)
        if not rows and not stale:
            return 0
        return await self.store.write_cache_ledger(stale, rows, announce=announce)

    async def _judge(self, r: _Request, predecessor_id: str | None) -> LedgerRow | None:
        if not r.is_on_a_line or r.status is None or not 200 <= r.status < 300:
            return None
        r_outline = self._outline_of(r)
        if predecessor_id == _UNKNOWN:
            predecessor_id, _ = await self._neighbours(r)
        if predecessor_id is None:
            return None
        p_outline = self._outlines.get(predecessor_id)
        p_print: PromptPrint | None = None
        p_body: ParsedRequest | None = None
        if p_outline is None or (p_outline.breakpoints and needs_sizes(p_outline, r_outline)):
            p_body, p_print = await self._stored_print(predecessor_id)
            if p_print is None:
                return None
            p_outline = p_print.outline
            self._remember(p_outline)
        if not p_outline.breakpoints:  # P left no cache entry: nothing R could have read
            return None
        miss = detect(p_outline, r_outline, p_print)
        if miss is None:
            return None
        if p_print is None:  # a break (rare): now the two prints, to say why
            p_body, p_print = await self._stored_print(predecessor_id)
            if p_print is None:
                return None
        r_parsed = self._parsed(r)
        r_print = print_prompt(r.id, r_parsed, started_at_ms=r.started_at_ms,
                               ended_at_ms=r.ended_at_ms, usage=r.usage)  # fmt: skip
        finding = find_cause(p_print, r_print, miss)
        detail = finding.detail
        if finding.needs_texts:
            detail = describe(finding, p_body.value if p_body else None, r_parsed.value)
        return LedgerRow(
            request_id=r.id,
            predecessor_id=predecessor_id,
            started_at_ms=r.started_at_ms,
            cause=str(finding.cause),
            detail=detail,
            expected_tokens=miss.expected.tokens,
            read_tokens=miss.read_tokens,
            missed_tokens=miss.missed_tokens,
            excess_cost_usd_micros=excess_cost_usd_micros(
                r.model, r.usage, miss.missed_tokens, r.started_at_ms, self.book
            ),
        )

    async def _neighbours_of_new(self, r: _Request) -> tuple[str | None, str | None]:
        """``_neighbours`` for a request just linked: from the line's tip when this process
        knows the line up to a request before it, else from the store; the tip moves to it."""
        line = _line(r)
        tip = self._tips.get(line) if self._trust_tips else None
        if tip is not None and tip[0] < r.position:
            before, after = tip[1], None
        else:
            before, after = await self._neighbours(r)
        if after is None:
            ok = r.status is not None and 200 <= r.status < 300
            self._tips[line] = (r.position, r.id if ok else before)
            self._tips.move_to_end(line)
            while len(self._tips) > _TIPS:
                self._tips.popitem(last=False)
        return before, after

    async def _neighbours(self, r: _Request) -> tuple[str | None, str | None]:
        """R's predecessor and successor on its line of work."""
        link = r.link
        assert link is not None and link.conversation_id is not None and link.branch is not None
        before, after = await self.store.cache_neighbours(
            link.conversation_id, link.branch, link.agent_id, r.position
        )
        if before is None and link.branch.startswith(_REWIND_PREFIX) and link.parent_request_id:
            rewound = await self.store.cache_branch_of(link.parent_request_id)
            if rewound is not None:
                before, _ = await self.store.cache_neighbours(
                    link.conversation_id, rewound, link.agent_id, r.position
                )
        return before, after

    def _parsed(self, r: _Request) -> ParsedRequest:
        return parsed_body(r.body, r.parsed)

    def _outline_of(self, r: _Request) -> PromptOutline:
        known = self._outlines.get(r.id)
        if known is not None:
            self._outlines.move_to_end(r.id)
            return known
        made = outline_prompt(
            r.id, self._parsed(r), started_at_ms=r.started_at_ms, ended_at_ms=r.ended_at_ms,
            usage=r.usage,
        )  # fmt: skip
        self._remember(made)
        return made

    def _remember(self, outline: PromptOutline) -> None:
        self._outlines[outline.request_id] = outline
        self._outlines.move_to_end(outline.request_id)
        while len(self._outlines) > self.memory:
            self._outlines.popitem(last=False)

    async def _stored_print(
        self, request_id: str
    ) -> tuple[ParsedRequest | None, PromptPrint | None]:
        """A stored request's parsed body and print (read back: P of a break, or one not
        remembered)."""
        stored = await self.store.get_request(request_id)
        if stored is None:
            return None, None
        r = _Request.of_stored(stored)
        parsed = self._parsed(r)
        made = print_prompt(r.id, parsed, started_at_ms=r.started_at_ms,
                            ended_at_ms=r.ended_at_ms, usage=r.usage)  # fmt: skip
        return parsed, made
