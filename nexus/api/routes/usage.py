"""``GET /api/usage`` (totals grouped as the CLI's ``--by``) and ``GET /api/windows`` (per account:
the latest rate-limit state, its time series and who caused each rise).

Register with ``app.register_blueprint(nexus.api.routes.usage.bp)``. The JSON shapes are
``nexus.usage.report``'s, documented in ``docs/api.md`` (Usage section).
"""

from __future__ import annotations

from quart import Blueprint, Response, request

from nexus.api.context import api_context
from nexus.api.params import BadParameter, parse_filter, parse_time, whole_number
from nexus.api.serialize import dumps
from nexus.records import USAGE_GROUPS, now_ms
from nexus.usage.report import usage_report_json, windows_json, windows_report

bp = Blueprint("usage", __name__)
blueprint = bp  # the name the other route modules use
JSON = "application/json"
_MAX_OFFSET_MS = 14 * 3_600_000


@bp.get("/api/usage")
async def get_usage() -> Response:
    """Query: ``by`` (comma list of account, host, model, session, client_key, class, day, hour;
    default none: one total row), ``bucket`` (day|hour), ``utc_offset_ms`` (for day/hour buckets),
    and the request filters (since, until, host, account, model, status, class, session, …)."""
    at = now_ms()
    flt = parse_filter(request.args, at_ms=at)
    groups = _groups(request.args.get("by", ""))
    bucket = request.args.get("bucket") or None
    if bucket is not None and bucket not in ("day", "hour"):
        raise BadParameter("bucket", "expected 'day' or 'hour'")
    offset = _int(request.args.get("utc_offset_ms"), "utc_offset_ms", 0)
    if abs(offset) > _MAX_OFFSET_MS:
        raise BadParameter("utc_offset_ms", "expected at most ±14 hours in milliseconds")
    store = api_context().store
    body = await usage_report_json(store, flt, groups, bucket, utc_offset_ms=offset)
    return Response(dumps(body), content_type=JSON)


@bp.get("/api/windows")
async def get_windows() -> Response:
    """Query: ``account`` (one account; default all), ``since`` (series and attribution start;
    default 7 days ago), ``series`` (``0`` to leave it out), ``attribution`` (``0`` none,
    ``1``/``current`` the windows' current periods (default), ``all`` every period since)."""
    at = now_ms()
    account = request.args.get("account") or None
    since = parse_time(request.args, "since", at)
    attribution = request.args.get("attribution")
    every_period = attribution == "all"
    report = await windows_report(
        api_context().store,
        at,
        account=account,
        since_ms=since,
        with_series=_flag(request.args.get("series"), "series"),
        with_attribution=every_period or _flag(attribution, "attribution"),
        every_period=every_period,
    )
    return Response(dumps(windows_json(report)), content_type=JSON)


def _groups(value: str) -> list[str]:
    groups: list[str] = []
    for part in value.split(","):
        name = part.strip().lower()
        if not name:
            continue
        if name not in USAGE_GROUPS:
            raise BadParameter("by", f"{name!r} is not one of {', '.join(USAGE_GROUPS)}")
        if name not in groups:
            groups.append(name)
    return groups


def _flag(value: str | None, name: str) -> bool:
    if value is None or value in ("1", "true", "yes", "current"):
        return True
    if value in ("0", "false", "no"):
        return False
    raise BadParameter(name, "expected 0 or 1")


def _int(value: str | None, name: str, default: int) -> int:
    if value is None or value == "":
        return default
    number = whole_number(value.removeprefix("-"), name, "expected a whole number")
    return -number if value.startswith("-") else number
