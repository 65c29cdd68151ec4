"""Alerts the recorder raises from what it stores: upstream error spikes, 5h/7d window forecasts
crossing a threshold, and (opt-in per host) one message per turn.

Runs in the recorder child, after each batch is written and linked: it sees every record,
refused ones included, and never the proxy's hot path. State is small and in memory (a deque of
error times per host, a few readings per account window, the turn in progress per session), so a
recorder restart forgets a turn half-told and re-arms thresholds; the sender's cool-down keeps
repeats out. Secrets are removed when alerts are rendered (``nexus.alerts.render``).
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from nexus import numbers
from nexus.alerts.config import AlertConfig
from nexus.alerts.event import AlertKind, make_alert
from nexus.alerts.sink import AlertSink
from nexus.records import Link, Outcome, RequestRecord, TrafficClass, now_ms
from nexus.usage.forecast import forecast_window
from nexus.usage.ratelimit import parse_ratelimit
from nexus.usage.windows import SeriesPoint

MAX_SESSIONS = 1000  # turns in progress kept; the oldest is forgotten first
MAX_READINGS = 200  # per account window
READINGS_KEPT_MS = 2 * 86_400_000
REPLY_LINES = 6
REPLY_CHARS = 600
TOOL_INPUT_CHARS = 80
MAX_TOOL_LINES = 25
_UPSTREAM_FAILURES = frozenset(
    {Outcome.UPSTREAM_UNREACHABLE, Outcome.UPSTREAM_TIMEOUT, Outcome.UPSTREAM_RESET,
     Outcome.STREAM_ERROR}
)  # fmt: skip


def is_upstream_error(record: RequestRecord) -> bool:
    """The upstream failed this call: 5xx, 429 or 529, no answer, or a stream that broke off.
    Calls Nexus refused itself (limits, bad keys) are not the upstream's errors."""
    ex = record.exchange
    if ex.outcome is Outcome.REJECTED:
        return False
    if ex.outcome in _UPSTREAM_FAILURES:
        return True
    return ex.status is not None and (ex.status >= 500 or ex.status == 429)


def person(record: RequestRecord) -> str | None:
    """Who made the call, as far as the record says (client key, else account)."""
    ex = record.exchange
    return ex.client_key_id or ex.account_id


@dataclass
class _Turn:
    prompt: str = ""  # what the person typed: the preview of the turn's first request
    tools: list[str] = field(default_factory=list)
    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd_micros: int = 0
    unpriced: bool = False


class RecordWatch:
    """Call ``observe`` with each stored batch and the links the linker wrote for it."""

    def __init__(
        self, config: AlertConfig, sink: AlertSink, clock: Callable[[], int] = now_ms
    ) -> None:
        self.config = config
        self.sink = sink
        self._clock = clock
        self._errors: dict[str, collections.deque[int]] = {}
        self._readings: dict[tuple[str, str], collections.deque[SeriesPoint]] = {}
        self._fired: set[tuple[str, str, int | None, str]] = set()  # (account, window, reset, what)
        self._turns: collections.OrderedDict[str, _Turn] = collections.OrderedDict()

    def observe(self, records: Sequence[RequestRecord], links: Sequence[Link] = ()) -> None:
        classes = {link.request_id: link.traffic_class for link in links}
        for record in sorted(records, key=lambda r: r.exchange.started_at_ms):
            if is_upstream_error(record):
                self._count_error(record)
            if record.ratelimit:
                self._forecast(record)
            if classes.get(record.exchange.id) is TrafficClass.TURN and self.config.wants_turns(
                record.exchange.host
            ):
                self._turn(record)

    # -- upstream error spikes -------------------------------------------------------------------

    def _count_error(self, record: RequestRecord) -> None:
        host = record.exchange.host
        window_ms = int(self.config.error_spike_window_s * 1000)
        at = record.exchange.started_at_ms
        times = self._errors.setdefault(host, collections.deque())
        times.append(at)
        while times and times[0] <= at - window_ms:
            times.popleft()
        if len(times) < self.config.error_spike_count:
            return
        ex = record.exchange
        what = f"HTTP {ex.status}" if ex.status is not None else ex.outcome.value
        self.sink.notify(
            make_alert(
                AlertKind.UPSTREAM_ERRORS, host,
                f"{len(times)} upstream errors in the last {self.config.error_spike_window_s:g} s",
                fields={"latest": what, "error": (ex.error or "")[:200] or "—",
                        "account": ex.account_id or "—"},
                dedup_key=f"upstream_errors:{host}",
            )
        )  # fmt: skip
        times.clear()  # the next alert needs a new spike

    # -- window forecasts ------------------------------------------------------------------------

    def _forecast(self, record: RequestRecord) -> None:
        snap = parse_ratelimit(record.ratelimit)
        if not snap.windows:
            return
        ex = record.exchange
        account = ex.account_id or f"host:{ex.host}"
        at = ex.first_byte_at_ms or ex.started_at_ms
        for reading in snap.windows:
            if reading.utilization is None:
                continue
            key = (account, reading.name)
            points = self._readings.setdefault(key, collections.deque(maxlen=MAX_READINGS))
            previous = points[-1] if points else None
            point = SeriesPoint(
                account, reading.name, at, ex.id, reading.utilization, reading.reset_at_ms,
                reading.status,
            )  # fmt: skip
            points.append(point)
            while points and points[0].at_ms < at - READINGS_KEPT_MS:
                points.popleft()
            self._window_alerts(record, point, previous, list(points))

    def _window_alerts(
        self,
        record: RequestRecord,
        point: SeriesPoint,
        previous: SeriesPoint | None,
        points: list[SeriesPoint],
    ) -> None:
        used = point.utilization or 0.0
        was = (
            previous.utilization or 0.0
            if previous is not None and previous.reset_at_ms == point.reset_at_ms
            else 0.0
        )
        crossed = [t for t in self.config.forecast_thresholds if was < t <= used]
        forecast = forecast_window(points, self._clock())
        for threshold in crossed[-1:]:  # one alert for a jump over several thresholds
            self._fire(record, point, f"{threshold:.0%}", f"reached {used:.0%}", forecast)
        if (
            forecast is not None
            and forecast.is_full_before_reset
            and used >= self.config.runout_min_utilization
        ):
            self._fire(record, point, "runout", "will be full before it resets", forecast)

    def _fire(
        self, record: RequestRecord, point: SeriesPoint, what: str, message: str, forecast: Any
    ) -> None:
        key = (point.account, point.window, point.reset_at_ms, what)
        if key in self._fired:
            return
        if len(self._fired) > 10_000:
            self._fired.clear()
        self._fired.add(key)
        fields: dict[str, object] = {"utilization": f"{(point.utilization or 0):.0%}"}
        if point.reset_at_ms is not None:
            fields["resets"] = _utc(point.reset_at_ms)
        if forecast is not None and forecast.burn_per_hour is not None:
            fields["burn rate"] = f"{forecast.burn_per_hour:.1%} per hour"
        if forecast is not None and forecast.full_at_ms is not None:
            fields["full at this rate"] = _utc(forecast.full_at_ms)
        self.sink.notify(
            make_alert(
                AlertKind.WINDOW_FORECAST, record.exchange.host,
                f"the {point.window} window of {point.account} {message}",
                subject=point.account, fields=fields,
                dedup_key=f"window:{point.account}:{point.window}:{point.reset_at_ms}:{what}",
            )
        )  # fmt: skip

    # -- per-turn messages -----------------------------------------------------------------------

    def _turn(self, record: RequestRecord) -> None:
        ex = record.exchange
        key = record.session_id or f"{ex.host}:{ex.client_key_id}"
        turn = self._turns.pop(key, None) or _Turn()
        self._turns[key] = turn
        while len(self._turns) > MAX_SESSIONS:
            self._turns.popitem(last=False)
        content = _content(record.response_message)
        turn.prompt = turn.prompt or record.user_preview
        turn.tools.extend(_tool_line(b) for b in content if b.get("type") == "tool_use")
        turn.requests += 1
        usage = record.usage
        turn.input_tokens += (
            usage.input_tokens + usage.cache_creation_input_tokens + usage.cache_read_input_tokens
        )
        turn.output_tokens += usage.output_tokens
        if record.cost_usd_micros is None:
            turn.unpriced = True
        else:
            turn.cost_usd_micros += record.cost_usd_micros
        if record.stop_reason == "tool_use":
            return  # the turn goes on: Claude called tools and will read their results
        del self._turns[key]
        reply = _first_lines(
            "\n".join(b.get("text", "") for b in content if b.get("type") == "text")
        )
        tools = turn.tools[:MAX_TOOL_LINES]
        if len(turn.tools) > MAX_TOOL_LINES:
            tools.append(f"… and {len(turn.tools) - MAX_TOOL_LINES} more")
        cost = numbers.cost(turn.cost_usd_micros) + (" (some unpriced)" if turn.unpriced else "")
        fields: dict[str, object] = {
            "prompt": turn.prompt or "—",
            "reply": reply or record.reply_preview or "—",
        }
        if tools:
            fields["tools"] = "\n".join(tools)
        fields |= {
            "model": record.model or "—",
            "tokens": f"{turn.input_tokens:,} in · {turn.output_tokens:,} out",
            "cost": cost,
            "requests": turn.requests,
        }
        self.sink.notify(
            make_alert(
                AlertKind.TURN, ex.host, f"turn in session {record.session_id or '—'}",
                subject=person(record), fields=fields,
            )
        )  # fmt: skip


def _content(message: bytes | None) -> list[dict[str, Any]]:
    if not message:
        return []
    try:
        parsed = orjson.loads(message)
    except orjson.JSONDecodeError:
        return []
    content = parsed.get("content") if isinstance(parsed, dict) else None
    return [b for b in content if isinstance(b, dict)] if isinstance(content, list) else []


def _tool_line(block: dict[str, Any]) -> str:
    name = str(block.get("name") or "tool")
    args = block.get("input")
    shown = ""
    if isinstance(args, dict):
        first = next((v for v in args.values() if isinstance(v, str) and v.strip()), None)
        shown = first if first is not None else orjson.dumps(args).decode()
    shown = " ".join(shown.split())
    if len(shown) > TOOL_INPUT_CHARS:
        shown = shown[: TOOL_INPUT_CHARS - 1] + "…"
    return f"• {name}: {shown}" if shown else f"• {name}"


def _first_lines(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()][:REPLY_LINES]
    out = "\n".join(lines)
    return out if len(out) <= REPLY_CHARS else out[: REPLY_CHARS - 1] + "…"


def _utc(ms: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")
