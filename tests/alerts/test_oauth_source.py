"""A failed OAuth refresh raises an alert from the proxy process, without any secret in it."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from nexus.alerts import AlertKind, AlertQueue
from nexus.errors import CredentialError
from nexus.proxy.credentials import Credentials
from tests.fakes.oauth import SECRET_MARK, FakeOAuth
from tests.proxy.test_credentials import CLIENT_KEY, HOST, oauth_file, write


async def test_a_failed_refresh_raises_one_alert_per_cool_down_key(
    tmp_path: Path, fake_oauth: FakeOAuth
) -> None:
    queue = AlertQueue()
    creds = Credentials(tmp_path, token_url=fake_oauth.token_url, recheck_s=0, alerts=queue)
    write(tmp_path, HOST, oauth_file(fake_oauth.issue_refresh_token(), int(time.time() * 1000) - 1))
    fake_oauth.fail_next()
    try:
        with pytest.raises(CredentialError):
            await creds.grant(HOST, {"x-api-key": CLIENT_KEY})
    finally:
        await creds.close()
    [alert] = queue.drain()
    assert alert.kind is AlertKind.OAUTH_REFRESH_FAILED
    assert alert.host == HOST and alert.subject is not None and "acc_team" in alert.subject
    assert "invalid_grant" in alert.message
    assert dict(alert.fields)["fix"] == f"nexus auth login {HOST}"
    assert alert.dedup_key == f"oauth_refresh_failed:{HOST}"
    assert SECRET_MARK not in repr(alert)
