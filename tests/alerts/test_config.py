from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from nexus.alerts import AlertKind, make_alert
from nexus.alerts.config import load_alert_config
from nexus.errors import ConfigError

SLACK = "https://hooks.slack.com/services/T1/B1/abc"
HOOK = {"name": "ops", "type": "webhook", "url": "https://ops.example/hook", "secret": "s" * 32}


def _write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "alerts.json"
    path.write_bytes(orjson.dumps(data))
    return path


def test_no_file_means_no_destinations(tmp_path: Path) -> None:
    config = load_alert_config(tmp_path / "alerts.json")
    assert config.destinations == () and config.path is None
    with pytest.raises(ConfigError, match="no such alerts configuration file"):
        load_alert_config(tmp_path / "alerts.json", required=True)


def test_global_and_per_host_destinations_route_by_host_and_kind(tmp_path: Path) -> None:
    path = _write(tmp_path, {
        "destinations": [{"name": "team", "type": "slack", "url": SLACK, "kinds": ["hard_limit"]}],
        "hosts": {
            "Team.Example.": {"destinations": [HOOK], "turns": True},
            "quiet.example": {"global": False},
        },
        "forecast": {"thresholds_pct": [95, 80], "runout_min_pct": 60},
    })  # fmt: skip
    config = load_alert_config(path)

    def names(kind: AlertKind, host: str) -> list[str]:
        return [d.name for d in config.destinations_for(make_alert(kind, host, "m"))]

    assert names(AlertKind.HARD_LIMIT, "team.example") == ["ops", "team"]
    assert names(AlertKind.TURN, "team.example") == ["ops"]  # Slack takes hard limits only
    assert names(AlertKind.HARD_LIMIT, "elsewhere") == ["team"]
    assert names(AlertKind.HARD_LIMIT, "quiet.example") == []
    assert config.wants_turns("team.example") and not config.wants_turns("elsewhere")
    assert config.forecast_thresholds == (0.8, 0.95) and config.runout_min_utilization == 0.6
    assert set(config.secrets()) == {SLACK, HOOK["url"], HOOK["secret"]}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "the file: expected an object"),
        ({"destination": []}, "unknown field 'destination'"),
        (
            {"destinations": [{"name": "a", "type": "email", "url": SLACK}]},
            r"destinations\[0\].type",
        ),
        (
            {"destinations": [{"name": "a", "type": "slack", "url": "ftp://x"}]},
            r"\.url: expected an http",
        ),
        ({"destinations": [{**HOOK, "secret": "short"}]}, "signing secret of at least 16"),
        ({"destinations": [HOOK, HOOK]}, "'ops' is used twice"),
        ({"destinations": [{**HOOK, "kinds": ["budget"]}]}, "'budget' is not one of soft_limit"),
        ({"hosts": {"h": {"turns": "yes"}}}, r"hosts.h.turns: expected true or false"),
        ({"forecast": {"thresholds_pct": [120]}}, "thresholds_pct"),
        ({"retry": {"attempts": 0}}, "retry.attempts: expected a number from 1 to 20"),
    ],
)
def test_a_bad_file_is_refused_with_the_field_named(
    tmp_path: Path, data: object, message: str
) -> None:
    path = _write(tmp_path, data)
    with pytest.raises(ConfigError, match=message) as info:
        load_alert_config(path)
    assert str(path) in str(info.value)


def test_invalid_json_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "alerts.json"
    path.write_text("{nope")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_alert_config(path)
