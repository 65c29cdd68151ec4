"""``nexus alerts test`` and ``check`` as a person runs them, against the fake receivers."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from pathlib import Path

import orjson

from nexus.alerts import AlertKind
from tests.cli.entry import clean_env, run_nexus
from tests.fakes.alert_receivers import FakeSlack, FakeWebhook

SECRET = "cli-test-signing-secret-0123"


def _write(tmp_path: Path, slack: FakeSlack, hook: FakeWebhook) -> Path:
    path = tmp_path / "alerts.json"
    path.write_bytes(orjson.dumps({
        "destinations": [{"name": "team", "type": "slack", "url": slack.webhook_url}],
        "hosts": {"team.example": {"destinations": [
            {"name": "ops", "type": "webhook", "url": hook.hook_url, "secret": SECRET,
             "kinds": ["hard_limit", "runaway"]},
            {"name": "broken", "type": "slack", "url": slack.url + "/services/T/B/wrong"},
        ]}},
        "retry": {"attempts": 2, "first_delay_s": 0.01},
    }))  # fmt: skip
    path.chmod(0o600)
    return path


async def test_alerts_test_sends_one_of_each_kind_and_says_where_each_went(
    tmp_path: Path, fake_slack: FakeSlack, fake_webhook: FakeWebhook
) -> None:
    path = _write(tmp_path, fake_slack, fake_webhook)
    env = clean_env(tmp_path, COLUMNS="200")
    result = await asyncio.to_thread(
        run_nexus, "alerts", "test", "--alerts-config", str(path), "--json", env=env
    )
    assert result.code == 0, result.stderr
    lines = [orjson.loads(line) for line in result.stdout.splitlines() if line.strip()]
    by_dest: dict[str, list[dict[str, object]]] = {}
    for line in lines:
        by_dest.setdefault(str(line["destination"]).split()[0], []).append(line)
    assert sorted(str(x["kind"]) for x in by_dest["team"]) == sorted(k.value for k in AlertKind)
    assert all(x["sent"] for x in by_dest["team"])
    assert "broken" not in by_dest  # no --host: only the global destinations
    texts = [r.json()["text"] for r in fake_slack.delivered]
    assert len(texts) == 7 and all("[test]" in t for t in texts)

    result = await asyncio.to_thread(
        run_nexus, "alerts", "test", "--alerts-config", str(path), "--for-host", "team.example",
        env=env,
    )  # fmt: skip
    assert result.code == 1
    assert "failed: HTTP 404: no_service" in result.stdout
    assert "7 of 16 deliveries failed" in result.stderr  # 7 kinds to broken; 7 + 2 delivered
    hooks = fake_webhook.delivered
    assert sorted(h.json()["kind"] for h in hooks) == ["hard_limit", "runaway"]
    for hook in hooks:
        stamp = hook.headers["X-Nexus-Timestamp"]
        mac = hmac.new(SECRET.encode(), f"{stamp}.".encode() + hook.body, hashlib.sha256)
        assert hook.headers["X-Nexus-Signature"] == "v1=" + mac.hexdigest()
    assert "fakeWebhookToken" not in result.stdout + result.stderr  # Slack's URL is a secret


async def test_alerts_check_lists_destinations_without_secrets(
    tmp_path: Path, fake_slack: FakeSlack, fake_webhook: FakeWebhook
) -> None:
    path = _write(tmp_path, fake_slack, fake_webhook)
    env = clean_env(tmp_path, COLUMNS="200")
    result = await asyncio.to_thread(
        run_nexus, "alerts", "check", "--alerts-config", str(path), env=env
    )
    assert result.code == 0, result.stderr
    assert "team (slack http://127.0.0.1:" in result.stdout
    assert "hard_limit, runaway" in result.stdout
    assert SECRET not in result.stdout and "fakeWebhookToken" not in result.stdout


def test_a_missing_or_broken_file_is_one_clear_line(tmp_path: Path) -> None:
    env = clean_env(tmp_path)
    missing = run_nexus("alerts", "test", "--credentials-dir", str(tmp_path), env=env)
    assert missing.code == 1
    assert missing.error_lines == [
        f"error: {tmp_path / 'alerts.json'}: no such alerts configuration file"
    ]
    (tmp_path / "alerts.json").write_text('{"hosts": {"h": {"turns": 1}}}')
    broken = run_nexus("alerts", "check", "--credentials-dir", str(tmp_path), env=env)
    assert broken.code == 1
    assert "hosts.h.turns: expected true or false" in broken.stderr


def test_doctor_checks_the_alerts_file(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from nexus.cli.main import app

    creds = tmp_path / "creds"
    creds.mkdir()

    def check() -> dict[str, str]:
        env = {"NEXUS_DATA_DIR": str(tmp_path / "data"), "NEXUS_PROXY_PORT": "9"}
        args = ["doctor", "--credentials-dir", str(creds), "--json"]
        result = CliRunner().invoke(app, args, env=env)
        lines = [orjson.loads(line) for line in result.stdout.splitlines()]
        [found] = [c for c in lines if c["name"] == "alerts"]
        return found

    assert check()["state"] == "ok" and check()["detail"].startswith("none: no ")
    path = creds / "alerts.json"
    path.write_text(
        '{"destinations": [{"name": "t", "type": "slack", "url": "https://x.example/T/B/c"}]}'
    )
    path.chmod(0o600)
    assert check() == {"name": "alerts", "state": "ok",
                       "detail": "t (`nexus alerts test` sends one of each kind)"}  # fmt: skip
    path.chmod(0o644)
    assert check()["state"] == "warn"
    path.write_text('{"cooldown_s": -1}')
    failed = check()
    assert failed["state"] == "fail" and "cooldown_s: expected a number" in failed["detail"]
