"""The alerts configuration file: where alerts go, per host, and the detectors' thresholds.

Sole owner of ``alerts.json`` (default ``<credentials dir>/alerts.json``, or ``--alerts-config`` /
``NEXUS_ALERTS_CONFIG``; format in docs/alerts.md). ``load_alert_config`` reads and validates it
once at start and raises ``ConfigError`` naming the field for anything wrong, so ``nexus serve``
refuses a broken file instead of failing at the first alert. No file: no destinations, and the
detectors still run (their alerts go nowhere). The file holds secrets (webhook URLs, signing
secrets); they are remembered for redaction and the file should be mode 0600 like the credential
files.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import orjson

from nexus.alerts.event import Alert, AlertKind
from nexus.errors import ConfigError
from nexus.json_fields import json_object, no_unknown

FILE_NAME = "alerts.json"
MAX_FILE_BYTES = 1 << 20
MIN_SECRET_CHARS = 16
ChannelType = Literal["slack", "webhook"]
ALL_KINDS: frozenset[AlertKind] = frozenset(AlertKind)


@dataclass(frozen=True, slots=True)
class Destination:
    """One place alerts go: a Slack incoming webhook or a signed HTTP webhook."""

    name: str
    type: ChannelType
    url: str
    secret: str | None = None  # webhook only: the HMAC-SHA256 key
    kinds: frozenset[AlertKind] = ALL_KINDS


@dataclass(frozen=True, slots=True)
class HostAlerts:
    destinations: tuple[Destination, ...] = ()
    use_global: bool = True  # also send this host's alerts to the global destinations
    turns: bool = False  # a message per turn (opt-in)


@dataclass(frozen=True, slots=True)
class Retry:
    attempts: int = 6  # first try included
    first_delay_s: float = 1.0
    max_delay_s: float = 60.0
    timeout_s: float = 10.0  # per attempt

    def delay_s(self, failures: int) -> float:
        """The wait before the next attempt after ``failures`` failed ones (1, 2, 4 … capped)."""
        return float(min(self.max_delay_s, self.first_delay_s * 2 ** max(0, failures - 1)))


@dataclass(frozen=True, slots=True)
class AlertConfig:
    destinations: tuple[Destination, ...] = ()
    hosts: Mapping[str, HostAlerts] = field(default_factory=dict)
    cooldown_s: float = 900.0  # an alert with the same dedup key is sent once per cool-down
    forecast_thresholds: tuple[float, ...] = (0.8, 0.95)  # utilization shares (0..1)
    runout_min_utilization: float = 0.5  # "full before reset" alerts only from this share on
    error_spike_count: int = 5  # upstream errors (5xx, 429, 529, no answer) …
    error_spike_window_s: float = 60.0  # … within this many seconds, per host
    retry: Retry = field(default_factory=Retry)
    path: Path | None = None  # where it was read from (None: no file)

    def destinations_for(self, alert: Alert) -> list[Destination]:
        """Where ``alert`` goes: its host's destinations, then (unless the host says no) the
        global ones, keeping those that take its kind; a name given twice goes once."""
        host = self.hosts.get(normalize_host(alert.host)) if alert.host else None
        chosen = list(host.destinations) if host else []
        if host is None or host.use_global:
            chosen += self.destinations
        seen: set[str] = set()
        out = []
        for dest in chosen:
            if alert.kind in dest.kinds and dest.name not in seen:
                seen.add(dest.name)
                out.append(dest)
        return out

    def wants_turns(self, host: str) -> bool:
        entry = self.hosts.get(normalize_host(host))
        return entry is not None and entry.turns

    def all_destinations(self) -> list[Destination]:
        """Every destination once (global first), for ``nexus alerts test``."""
        seen: dict[str, Destination] = {d.name: d for d in self.destinations}
        for entry in self.hosts.values():
            for dest in entry.destinations:
                seen.setdefault(dest.name, dest)
        return list(seen.values())

    def secrets(self) -> list[str]:
        return [v for d in self.all_destinations() for v in (d.url, d.secret) if v]


def normalize_host(host: str) -> str:
    """Hosts as the credential files key them: lower case, no trailing dot."""
    return host.strip().lower().removesuffix(".")


def default_path(credentials_dir: Path) -> Path:
    return credentials_dir / FILE_NAME


def load_alert_config(path: Path, *, required: bool = False) -> AlertConfig:
    """The configuration in ``path``; an empty one when it does not exist (unless ``required``).
    Raises ``ConfigError`` with the file and field for anything wrong."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        if required:
            raise ConfigError(f"{path}: no such alerts configuration file") from None
        return AlertConfig()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read it ({exc.strerror})") from exc
    if len(data) > MAX_FILE_BYTES:
        raise ConfigError(f"{path}: larger than {MAX_FILE_BYTES} bytes")
    try:
        raw = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not valid JSON ({exc})") from exc
    try:
        return _parse(raw, path)
    except (_Invalid, ConfigError) as exc:
        raise ConfigError(f"{path}: {exc}") from None


def is_loose(path: Path) -> bool:
    """Others may read or write the file (its secrets deserve mode 0600)."""
    try:
        return bool(os.stat(path).st_mode & (stat.S_IRWXG | stat.S_IRWXO))
    except OSError:
        return False


class _Invalid(ValueError):
    pass


_TOP = {"destinations", "hosts", "cooldown_s", "forecast", "upstream_errors", "retry", "$schema"}


def _parse(raw: Any, path: Path) -> AlertConfig:
    obj = json_object(raw, "the file")
    no_unknown(obj, _TOP, "the file")
    names: set[str] = set()
    destinations = _destinations(obj.get("destinations", []), "destinations", names)
    hosts: dict[str, HostAlerts] = {}
    for host, entry in json_object(obj.get("hosts", {}), "hosts").items():
        where = f"hosts.{host}"
        if not host or normalize_host(host) in hosts:
            raise _Invalid(f"{where}: empty or repeated host")
        item = json_object(entry, where)
        no_unknown(item, {"destinations", "global", "turns"}, where)
        hosts[normalize_host(host)] = HostAlerts(
            destinations=_destinations(
                item.get("destinations", []), f"{where}.destinations", names
            ),
            use_global=_bool(item.get("global", True), f"{where}.global"),
            turns=_bool(item.get("turns", False), f"{where}.turns"),
        )
    forecast = json_object(obj.get("forecast", {}), "forecast")
    no_unknown(forecast, {"thresholds_pct", "runout_min_pct"}, "forecast")
    thresholds = forecast.get("thresholds_pct", [80, 95])
    if not isinstance(thresholds, list) or not all(
        _is_number(t) and 0 < t <= 100 for t in thresholds
    ):
        raise _Invalid("forecast.thresholds_pct: expected a list of percentages in (0, 100]")
    spikes = json_object(obj.get("upstream_errors", {}), "upstream_errors")
    no_unknown(spikes, {"count", "window_s"}, "upstream_errors")
    retry = json_object(obj.get("retry", {}), "retry")
    no_unknown(retry, {"attempts", "first_delay_s", "max_delay_s", "timeout_s"}, "retry")
    return AlertConfig(
        destinations=destinations,
        hosts=hosts,
        cooldown_s=_number(obj.get("cooldown_s", 900), "cooldown_s", 0, 7 * 86400),
        forecast_thresholds=tuple(sorted({t / 100 for t in thresholds})),
        runout_min_utilization=_number(
            forecast.get("runout_min_pct", 50), "forecast.runout_min_pct", 0, 100
        )
        / 100,
        error_spike_count=int(_number(spikes.get("count", 5), "upstream_errors.count", 1, 1e6)),
        error_spike_window_s=_number(
            spikes.get("window_s", 60), "upstream_errors.window_s", 1, 86400
        ),
        retry=Retry(
            attempts=int(_number(retry.get("attempts", 6), "retry.attempts", 1, 20)),
            first_delay_s=_number(retry.get("first_delay_s", 1), "retry.first_delay_s", 0, 3600),
            max_delay_s=_number(retry.get("max_delay_s", 60), "retry.max_delay_s", 0, 3600),
            timeout_s=_number(retry.get("timeout_s", 10), "retry.timeout_s", 0.1, 300),
        ),
        path=path,
    )


def _destinations(raw: Any, where: str, names: set[str]) -> tuple[Destination, ...]:
    if not isinstance(raw, list):
        raise _Invalid(f"{where}: expected a list")
    out = []
    for i, entry in enumerate(raw):
        at = f"{where}[{i}]"
        item = json_object(entry, at)
        no_unknown(item, {"name", "type", "url", "secret", "kinds"}, at)
        name = item.get("name")
        if not isinstance(name, str) or not name.strip():
            raise _Invalid(f"{at}.name: expected a non-empty name")
        if name in names:
            raise _Invalid(f"{at}.name: {name!r} is used twice; names must be unique")
        names.add(name)
        kind = item.get("type")
        if kind not in ("slack", "webhook"):
            raise _Invalid(f"{at}.type: expected 'slack' or 'webhook'")
        url = item.get("url")
        parts = urlsplit(url) if isinstance(url, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
            raise _Invalid(f"{at}.url: expected an http:// or https:// URL")
        secret = item.get("secret")
        if kind == "webhook":
            if not isinstance(secret, str) or len(secret) < MIN_SECRET_CHARS:
                raise _Invalid(
                    f"{at}.secret: a webhook needs a signing secret of at least "
                    f"{MIN_SECRET_CHARS} characters (e.g. `openssl rand -hex 32`)"
                )
        elif secret is not None:
            raise _Invalid(f"{at}.secret: only webhooks are signed; Slack's URL is its secret")
        out.append(
            Destination(name, kind, url, secret, _kinds(item.get("kinds"), f"{at}.kinds"))  # type: ignore[arg-type]
        )
    return tuple(out)


def _kinds(raw: Any, where: str) -> frozenset[AlertKind]:
    if raw is None:
        return ALL_KINDS
    if not isinstance(raw, list) or not raw:
        raise _Invalid(f"{where}: expected a non-empty list of kinds")
    kinds = set()
    for value in raw:
        try:
            kinds.add(AlertKind(value))
        except ValueError:
            raise _Invalid(
                f"{where}: {value!r} is not one of {', '.join(k.value for k in AlertKind)}"
            ) from None
    return frozenset(kinds)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _number(value: Any, where: str, low: float, high: float) -> float:
    if not _is_number(value) or not low <= value <= high:
        raise _Invalid(f"{where}: expected a number from {low:g} to {high:g}")
    return float(value)


def _bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise _Invalid(f"{where}: expected true or false")
    return value


def describe(dest: Destination) -> str:
    """A destination for humans, without its secret parts (Slack's URL path is its token)."""
    parts = urlsplit(dest.url)
    return f"{dest.name} ({dest.type} {parts.scheme}://{parts.netloc})"


def kinds_of(dests: Sequence[Destination]) -> set[AlertKind]:
    return {k for d in dests for k in d.kinds}
