"""Admission: whether a call may go upstream under its host's policy, decided from memory.

``Limiter.admit`` runs on the hot path before a call is forwarded. It reads only the
``CounterBook`` (never the database, never awaits): a call over a hard limit raises
``LimitExceeded`` (429 with the limit, its reset time and ``retry-after``; 403 for a model the policy
does not allow), a call past the soft share of a limit raises an alert once per window, and an
admitted call is counted at once and returns the scopes its record will be counted in. The runaway
guard flags a session whose agent repeats one tool call, or that spends too fast.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping

from nexus.errors import LimitExceeded, ModelNotAllowed
from nexus.limits.alerting import AlertKind, AlertSink, LimitAlert, log_alert
from nexus.limits.buckets import bounds, iso
from nexus.limits.counters import REQUESTS, SESSION_PREFIX, CounterBook, Windows
from nexus.limits.policy import Limits, Runaway
from nexus.limits.subject import USD, CallFacts, Check, Scope, Subject
from nexus.limits.window_share import WindowWatch, person_share
from nexus.records import now_ms

log = logging.getLogger("nexus.limits")
_RUNAWAY_RETRY_S = 60


class _Room:
    """One checked scope's headroom, shared by every subject with that scope: while the book's
    ``version`` is ``version`` (no window of any scope changed, the same minute), the scope's
    admissions this minute below ``until`` pass every check of the scope, soft limits included."""

    __slots__ = ("key", "scope", "soft", "until", "version")

    def __init__(self, scope: Scope, soft: float) -> None:
        self.key = scope.key
        self.scope = scope
        self.soft = soft
        self.until = 0
        self.version = -1  # never the book's: the first call checks in full


class Plan:
    """What admitting one subject reads per call, resolved once per subject and limiter."""

    __slots__ = ("limiter", "rooms")

    def __init__(self, limiter: Limiter, rooms: tuple[_Room, ...]) -> None:
        self.limiter = limiter
        self.rooms = rooms


_MAX_ROOMS = 10_000  # scopes come from credential files: more means files came and went


class Limiter:
    def __init__(
        self,
        book: CounterBook,
        *,
        alert: AlertSink = log_alert,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        self.book = book
        self._alert = alert
        self._clock = clock
        self._alerted: dict[tuple[str, str, int], int] = {}  # (scope, what, window) → end_ms
        self.windows = WindowWatch()
        # scope key → its headroom. Most calls skip the checks of far-from-limit scopes; the
        # feed's updates redo it off the calls' path (``refresh``)
        self._rooms: dict[str, _Room] = {}
        # session scope → (book stamp, minutes, its recorded spend over those minutes then): an
        # upper bound of its spend while the stamp holds (minute windows only ever drop out)
        self._spent: dict[str, tuple[int, int, int]] = {}
        book.on_change = self.refresh

    def observe_window(self, account_id: str | None, headers: Mapping[str, str]) -> None:
        """A response of the account came back: keep its 5-hour window reading."""
        self.windows.observe(account_id, headers)

    def admit(self, subject: Subject, facts: CallFacts) -> tuple[str, ...]:
        """Refuse (raise) or admit and count a call; returns the scope keys it counts toward.

        Written for the hot path: a far-from-limit call reads a few dicts per scope and calls
        nothing it can skip (each call out costs microseconds with the caches cold)."""
        at_ms = self._clock()
        if subject.model_scopes and facts.model not in subject.allowed_models:
            self._check_model(subject, facts.model)
        book = self.book
        session = None
        runaway = subject.runaway
        if runaway is not None:
            if facts.session_id:
                session = SESSION_PREFIX + facts.session_id
            if runaway.repeats and facts.repeats >= runaway.repeats:
                self._guard_runaway(subject, runaway, facts, session, at_ms)
            elif runaway.usd is not None and session is not None:
                kept = self._spent.get(session)
                if (
                    kept is None
                    or kept[0] != book.stamps.get(session, 0)
                    or kept[1] != runaway.minutes
                    or kept[2] >= runaway.usd * USD
                ):  # no figure that clears the session: read its spend
                    self._guard_runaway(subject, runaway, facts, session, at_ms)
        windows = book.windows(at_ms)
        plan = subject.plan
        if plan is None or plan.limiter is not self:
            plan = self._plan(subject)
        version, minute = book.version, book.this_minute
        for room in plan.rooms:
            if room.version != version or minute.get(room.key, 0) >= room.until:
                self._enforce(room, subject, at_ms, windows)  # most calls pass on the line above
        if subject.watches_window:
            for scope in subject.scopes:
                if scope.limits.window_share is not None:
                    self._enforce_share(scope, scope.limits.window_share, subject, at_ms)
        counted = subject.scope_keys
        for key in counted:  # ``CounterBook.admit``, inline: the minute's windows are current
            minute[key] = minute.get(key, 0) + 1
        if session is not None and runaway is not None and runaway.usd:
            # The recorder counts the session's cost for the guard's spend. Its admissions are not
            # counted here: no limit reads a session's requests.
            return counted + (session,)
        return counted

    def _check_model(self, subject: Subject, model: str | None) -> None:
        for scope in subject.model_scopes:
            if not scope.allows_model(model):
                allowed = ", ".join(scope.limits.models or ())
                raise ModelNotAllowed(
                    f"Nexus policy: model {model or '(none)'} is not allowed for "
                    f"{scope.label} (allowed: {allowed}).",
                    should_retry=False,
                )
        if len(subject.allowed_models) < 256:  # a client may name any string: keep it bounded
            subject.allowed_models.add(model)

    def _plan(self, subject: Subject) -> Plan:
        """The subject's rooms, one per checked scope, shared with every subject of the scope
        (a policy change, a new ``Scope`` or soft share, gets a room of its own)."""
        rooms, found = self._rooms, []
        for scope in subject.checked:
            room = rooms.get(scope.key)
            if room is None or room.scope != scope or room.soft != subject.soft:
                if len(rooms) >= _MAX_ROOMS:
                    rooms.clear()  # the plans that hold them check in full until redone
                room = rooms[scope.key] = _Room(scope, subject.soft)
            found.append(room)
        plan = Plan(self, tuple(found))
        object.__setattr__(subject, "plan", plan)  # a memo, like ``allowed_models``
        return plan

    def refresh(self, scopes: set[str]) -> None:
        """The counter feed changed these scopes' windows: work their headroom (and sessions'
        spend) out again now, in the feed's task, so the calls that follow find it ready."""
        rooms, spent = self._rooms, self._spent
        if not rooms and not spent:
            return
        book = self.book
        changed = book.version  # the version this change of the book made
        at_ms = self._clock()
        if rooms:
            windows = book.windows(at_ms)  # a new minute here makes every room stale: right
            for room in rooms.values():
                if room.key in scopes:
                    self._keep(room, self._room(room.scope, room.soft, windows))
                elif room.version == changed - 1:
                    room.version = changed  # valid before this change, which left it alone
        for key in scopes:
            session = spent.get(key)
            if session is not None:
                minutes = session[1]
                cost = book.recent_cost(key, at_ms - minutes * 60_000)
                spent[key] = (book.stamp(key), minutes, cost)

    def _room(self, scope: Scope, soft: float, windows: Windows) -> float:
        """How many admissions after the next one every check of ``scope`` is sure to pass; -1
        when the next one itself is at or past a soft or hard limit (it must be checked)."""
        book, key = self.book, scope.key
        room = math.inf
        for check in scope.checks:
            _, start, _ = windows.all[check.kind_index]
            used = book.used(key, check.kind, start, check.what)
            limit = check.hard
            # the call about to be admitted counts as one request; cost is not known yet
            after = used + 1 if check.what == REQUESTS else used
            if not (after < soft * limit and used < limit):
                return -1
            step = book.step(key, check.kind, start, check.what)
            if step:  # the k-th later admission sees at most used + k * step
                margin = min(soft * limit - (after - used) - used, limit - used)
                room = min(room, math.ceil(margin / step) - 1)
        return room

    def _keep(self, room: _Room, margin: float) -> None:
        """Keep ``margin`` (``_room``) as the room's headroom, under the book's version now."""
        if margin > 0:
            until = self.book.admitted_this_minute(room.key) + 1 + min(margin, 1 << 40)
            room.until, room.version = int(until), self.book.version
        else:
            room.version = -1  # the next call checks in full

    def _enforce(self, room: _Room, subject: Subject, at_ms: int, windows: Windows) -> None:
        scope = room.scope
        margin = self._room(scope, room.soft, windows)
        self._keep(room, margin)
        if margin >= 0:
            return  # the common case: far from every limit
        book, key = self.book, scope.key
        for check in scope.checks:
            _, start, end = windows.all[check.kind_index]
            used = book.used(key, check.kind, start, check.what)
            limit = check.hard
            after = used + 1 if check.what == REQUESTS else used
            if after < subject.soft * limit and used < limit:
                continue
            if used >= limit:
                message = (
                    f"Nexus limit reached: {check.name} for {scope.label} "
                    f"({_amount(used, check)} of {_amount(limit, check)}); "
                    f"resets at {iso(end)}."
                )
                self._once(scope.key, "hard " + check.name, start, end, "hard_limit", scope,
                           message, subject, at_ms)  # fmt: skip
                retry_s = max(1, math.ceil((end - at_ms) / 1000))
                raise LimitExceeded(message, retry_after_s=retry_s, should_retry=retry_s <= 60)
            message = (
                f"{scope.label} has used {_amount(after, check)} of its "
                f"{_amount(limit, check)} {check.name} (soft limit "
                f"{subject.soft:.0%}); the window resets at {iso(end)}."
            )
            self._once(scope.key, "soft " + check.name, start, end, "soft_limit", scope,
                       message, subject, at_ms)  # fmt: skip

    def _enforce_share(self, scope: Scope, limit: float, subject: Subject, at_ms: int) -> None:
        if subject.account_id is None or subject.account_key is None:
            return
        reading = self.windows.reading(subject.account_id, at_ms)
        if reading is None:
            return
        since = bounds("hour", reading.start_ms)[0]  # hour rows: the window is read to the hour
        share = person_share(
            reading,
            self.book.cost_since(scope.key, "hour", since),
            self.book.cost_since(subject.account_key, "hour", since),
        )
        start, end = reading.start_ms, reading.reset_at_ms
        account = subject.account_id
        if share >= limit:
            message = (
                f"Nexus limit reached: share of the 5-hour window for {scope.label} "
                f"({share:.0%} of account {account}'s window, limit {limit:.0%}); "
                f"the window resets at {iso(end)}."
            )
            self._once(scope.key, "hard window share", start, end, "hard_limit", scope, message,
                       subject, at_ms)  # fmt: skip
            retry_s = max(1, math.ceil((end - at_ms) / 1000))
            raise LimitExceeded(message, retry_after_s=retry_s, should_retry=retry_s <= 60)
        if share >= subject.soft * limit:
            message = (
                f"{scope.label} has used {share:.0%} of account {account}'s 5-hour window "
                f"(limit {limit:.0%}, soft limit {subject.soft:.0%}); it resets at {iso(end)}."
            )
            self._once(scope.key, "soft window share", start, end, "soft_limit", scope, message,
                       subject, at_ms)  # fmt: skip

    def _guard_runaway(
        self, subject: Subject, runaway: Runaway, facts: CallFacts, session: str | None, at_ms: int
    ) -> None:
        reason = None
        if runaway.repeats and facts.repeats >= runaway.repeats:
            reason = (
                f"the agent called {facts.repeated_tool} with the same input "
                f"{facts.repeats} times in a row"
            )
        elif runaway.usd is not None and session is not None:
            spent = self._session_spent(session, runaway.minutes, at_ms)
            if spent >= runaway.usd * USD:  # the kept figure may be high by now: be exact
                spent = self.book.recent_cost(session, at_ms - runaway.minutes * 60_000)
            if spent >= runaway.usd * USD:
                reason = (
                    f"the session spent ${spent / USD:.2f} in {runaway.minutes} minutes "
                    f"(more than ${runaway.usd:.2f})"
                )
        if reason is None:
            return
        who = subject.scopes[-1].label if subject.scopes else "a client"
        what = "refused" if runaway.refuse else "flagged"
        message = (
            f"Nexus runaway guard: {reason} ({who}, session {facts.session_id or '-'}); {what}."
        )
        start, end = bounds("minute", at_ms)
        key = session or who
        scope = Scope(key, f"session {facts.session_id or '-'}", Limits())
        self._once(key, "runaway", start, end, "runaway", scope, message, subject, at_ms)
        if runaway.refuse:
            raise LimitExceeded(message, retry_after_s=_RUNAWAY_RETRY_S, should_retry=False)

    def _session_spent(self, session: str, minutes: int, at_ms: int) -> int:
        """A session's recorded spend over the last ``minutes``, or an upper bound of it below the
        last exact figure (kept while no row of the session changed: as time passes, minute
        windows only drop out of the sum). Exact whenever the bound would not be below a limit."""
        stamp = self.book.stamp(session)
        kept = self._spent.get(session)
        if kept is not None and kept[0] == stamp and kept[1] == minutes:
            return kept[2]
        spent = self.book.recent_cost(session, at_ms - minutes * 60_000)
        if len(self._spent) >= 10_000:  # sessions come and go: keep the live ones
            self._spent.clear()
        self._spent[session] = (stamp, minutes, spent)
        return spent

    def _once(
        self,
        scope_key: str,
        what: str,
        start: int,
        end: int,
        kind: AlertKind,
        scope: Scope,
        message: str,
        subject: Subject,
        at_ms: int,
    ) -> None:
        """Alert once per scope, limit and window."""
        key = (scope_key, what, start)
        if key in self._alerted:
            return
        if len(self._alerted) > 10_000:
            self._alerted = {k: e for k, e in self._alerted.items() if e > at_ms}
        self._alerted[key] = end
        alert = LimitAlert(kind, scope.label, message, at_ms, subject.host)
        try:
            self._alert(alert)
        except Exception:  # an alert sink's failure must never refuse or break a call
            log.exception("an alert sink failed")


def _amount(value: float, check: Check) -> str:
    if check.scale == USD:
        return f"${value / USD:.2f}"
    return f"{int(value):,}"
