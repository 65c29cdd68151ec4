"""What ``nexus alerts test`` prints when a destination cannot be reached: a reason a person reads
(which host, refused or unknown), not the HTTP library's exception name and its SSL context."""

from __future__ import annotations

import aiohttp
import pytest

from nexus.alerts import AlertKind, make_alert
from nexus.alerts.channels import DeliveryError, make_channel
from nexus.alerts.config import Destination
from tests.fakes.serve_process import free_port


@pytest.mark.parametrize("kind", ["slack", "webhook"])
async def test_a_refused_connection_names_the_host_and_the_reason(kind: str) -> None:
    port = free_port()  # nothing listens there
    url = (
        f"http://127.0.0.1:{port}/services/T0/B0/secret-token"
        if kind == "slack"
        else (f"http://127.0.0.1:{port}/hook")
    )
    async with aiohttp.ClientSession() as session:
        channel = make_channel(Destination("d", kind, url, "s" * 32), session, 2.0)  # type: ignore[arg-type]
        with pytest.raises(DeliveryError) as caught:
            await channel.deliver(make_alert(AlertKind.TURN, "h", "m"))
    assert str(caught.value) == f"could not connect to 127.0.0.1:{port}: connection refused"
    assert caught.value.retryable


async def test_an_unknown_host_says_so() -> None:
    async with aiohttp.ClientSession() as session:
        dest = Destination("d", "webhook", "http://nexus-no-such-host.invalid/hook", "s" * 32)
        with pytest.raises(DeliveryError) as caught:
            await make_channel(dest, session, 2.0).deliver(make_alert(AlertKind.TURN, "h", "m"))
    message = str(caught.value)
    assert message.startswith("could not connect to nexus-no-such-host.invalid:80: no such host (")
    assert "Error" not in message
