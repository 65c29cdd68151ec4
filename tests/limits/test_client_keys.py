"""Keys per person: `nexus auth add-client --name`, `clients`, `revoke`; the proxy accepts each
named key (and the old shared one), records the person by name, and refuses a revoked key."""

from __future__ import annotations

import asyncio
import json
import os
import stat

import httpx
import orjson
from click.testing import CliRunner
from typer.main import get_command

from nexus.cli.main import app
from nexus.records import RequestFilter
from tests.cli.test_auth import invoke
from tests.limits.helpers import ACCOUNT_SECRET, BODY, HOST

LEGACY_KEY = "cnp_live_shared-team-key-0123456789abcdefgh"


def _write_file(directory) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{HOST}.credentials.json"
    path.write_bytes(orjson.dumps({"type": "api_key", "accountId": "acct", "api_key": ACCOUNT_SECRET,
                                   "client_api_key": LEGACY_KEY}))  # fmt: skip
    os.chmod(path, 0o600)


async def test_named_keys_are_issued_once_stored_hashed_listed_and_revoked(start_nexus, tmp_path):
    creds = tmp_path / "credentials"
    _write_file(creds)
    dirs = ("--credentials-dir", str(creds))
    alice = await asyncio.to_thread(invoke, "auth", "add-client", HOST, "--name", "alice", *dirs)
    bob = await asyncio.to_thread(invoke, "auth", "add-client", HOST, "--name", "bob", *dirs)
    assert alice.exit_code == 0 and bob.exit_code == 0
    alice_key, bob_key = alice.stdout.strip(), bob.stdout.strip()
    assert alice_key.startswith("cnp_live_") and alice_key != bob_key
    twice = await asyncio.to_thread(invoke, "auth", "add-client", HOST, "--name", "alice", *dirs)
    assert twice.exit_code == 1 and "exists" in twice.stderr

    path = creds / f"{HOST}.credentials.json"
    raw = path.read_bytes()
    assert alice_key.encode() not in raw and bob_key.encode() not in raw  # only hashes
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

    server = await start_nexus()
    url = server.endpoints.proxy_url + "/v1/messages"
    async with httpx.AsyncClient(timeout=10) as client:
        for key in (alice_key, bob_key, LEGACY_KEY):
            answer = await client.post(url, json=BODY, headers={"host": HOST, "x-api-key": key})
            assert answer.status_code == 200
        await server.flush()
        rows = (await server.store.list_requests(RequestFilter(), None, 10)).items
        assert {r.client_key_id for r in rows} >= {"alice@team.example", "bob@team.example"}

        listed = await asyncio.to_thread(
            invoke, "auth", "clients", HOST, *dirs, "--db", server.settings.database_url, "--json"
        )
        assert listed.exit_code == 0
        entries = {e["name"]: e for e in json.loads(listed.stdout)}
        assert set(entries) == {None, "alice", "bob"}
        assert entries["alice"]["recordId"] == "alice@team.example"
        assert entries["alice"]["lastUsedAt"] and entries["alice"]["createdAt"]
        assert alice_key not in listed.stdout and LEGACY_KEY not in listed.stdout

        revoked = await asyncio.to_thread(invoke, "auth", "revoke", HOST, "alice", *dirs)
        assert revoked.exit_code == 0
        await asyncio.sleep(1.1)  # the proxy looks at credential files once a second
        refused = await client.post(url, json=BODY, headers={"host": HOST, "x-api-key": alice_key})
        still = await client.post(url, json=BODY, headers={"host": HOST, "x-api-key": bob_key})
    assert refused.status_code == 401 and still.status_code == 200
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_named_key_is_found_by_its_hash_and_confirmed_in_constant_time(monkeypatch) -> None:
    from nexus.proxy import client_keys

    clients = client_keys.parse_clients(
        [{"name": "alice", "sha256": client_keys.key_digest("cnp_live_a")}], "h"
    )
    compared: list[tuple[bytes, bytes]] = []
    real = client_keys.hmac.compare_digest
    monkeypatch.setattr(
        client_keys.hmac, "compare_digest", lambda a, b: compared.append((a, b)) or real(a, b)
    )
    index = client_keys.ClientIndex(clients)
    assert index.match(("cnp_live_nope", "cnp_live_a")) == clients[0]
    assert index.match(("cnp_live_nope",)) is None
    assert len(compared) == 1 and compared[0][0] == compared[0][1]


def test_a_confirmed_key_is_not_hashed_again_and_a_wrong_one_is_never_kept(monkeypatch) -> None:
    from nexus.proxy import client_keys

    clients = client_keys.parse_clients(
        [{"name": "alice", "sha256": client_keys.key_digest("cnp_live_a")}], "h"
    )
    hashed: list[bytes] = []
    real = client_keys.hashlib.sha256
    monkeypatch.setattr(client_keys.hashlib, "sha256", lambda b: hashed.append(b) or real(b))
    index = client_keys.ClientIndex(clients)
    for _ in range(3):
        assert index.match(("cnp_live_a",)) == clients[0]
        assert index.match(("cnp_live_nope",)) is None
    assert hashed.count(b"cnp_live_a") == 1  # confirmed once, then known
    assert hashed.count(b"cnp_live_nope") == 3  # a wrong key is hashed (and refused) every time
    # a new file state (a revocation) builds a new index: the key is not known there
    assert client_keys.ClientIndex(()).match(("cnp_live_a",)) is None


def test_the_clients_table_shows_whole_record_ids_at_80_columns(tmp_path) -> None:
    creds = tmp_path / "credentials"
    _write_file(creds)
    dirs = ("--credentials-dir", str(creds))
    for name in ("alice", "bartholomew"):
        assert invoke("auth", "add-client", HOST, "--name", name, *dirs).exit_code == 0
    db = f"sqlite:///{tmp_path}/n.db"
    command = get_command(app)
    listed = CliRunner().invoke(command, ["auth", "clients", HOST, *dirs, "--db", db],
                                env={"COLUMNS": "80"})  # fmt: skip
    assert listed.exit_code == 0, listed.output
    lines = listed.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines)
    assert "records show" in lines[0]  # one header line: no column squeezed into wrapping
    for record_id in (f"alice@{HOST}", f"bartholomew@{HOST}"):
        assert any(record_id in line for line in lines), listed.stdout


def test_the_confirmed_key_memo_holds_no_key_text_and_a_revoked_key_is_refused_at_once() -> None:
    import gc

    from nexus.proxy import client_keys

    key = "cnp_live_alice-0123456789abcdefghijklmnopqrstuvwxyz"
    alice = {"name": "alice", "sha256": client_keys.key_digest(key)}
    bob = {"name": "bob", "sha256": client_keys.key_digest("cnp_live_bob")}
    index = client_keys.ClientIndex(client_keys.parse_clients([alice, bob], "h"))
    presented = "".join(key)  # a copy, as a request's header value would be
    assert index.match((presented,)).name == "alice"
    assert index.match((key,)).name == "alice"  # from the memo
    seen, stack = set(), [index._known]
    while stack:  # everything the memo reaches: no str or bytes holding the key
        item = stack.pop()
        if id(item) in seen or isinstance(item, type):
            continue
        seen.add(id(item))
        if isinstance(item, str | bytes):
            assert key not in (item if isinstance(item, str) else item.decode("latin-1"))
            continue
        if isinstance(item, dict):  # str keys are not among a dict's referents
            stack.extend(item)
        stack.extend(gc.get_referents(item))
    assert index._known  # the memo is used
    # revoked: the file's next state has only bob, and its index refuses alice's key at once
    after = client_keys.ClientIndex(client_keys.parse_clients([bob], "h"))
    assert after.match((key,)) is None
