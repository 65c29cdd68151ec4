"""One data folder for the whole installation: `--data-dir` (or NEXUS_DATA_DIR) given to any command
names the same spool and the same default database `nexus serve` used."""

from __future__ import annotations

import asyncio

import httpx
import orjson
import typer

from nexus.cli.main import app
from nexus.cli.reference import _walk
from tests.cli.entry import clean_env, run_nexus
from tests.factories import make_record
from tests.fakes.serve_process import NexusProcess, free_port
from tests.fakes.stores import seed_sqlite


def test_every_command_that_reads_the_store_takes_the_data_folder():
    root = typer.main.get_command(app)
    for path, command in _walk(root, ["nexus"]):
        names = {p.name: p for p in command.params}
        if "db" in names or path[-1] == "claude":
            assert "data_dir" in names, " ".join(path)
            assert names["data_dir"].envvar == "NEXUS_DATA_DIR", " ".join(path)


def test_every_command_reads_the_database_of_the_data_folder(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    seed_sqlite(data / "nexus.db", [make_record(status=200)])
    env = clean_env(tmp_path / "home")  # its default data folder is empty
    flag = ["--data-dir", str(data)]

    logs = run_nexus("logs", *flag, "--json", env=env)
    assert len(logs.stdout.splitlines()) == 1, logs.stderr
    doctor = run_nexus("doctor", *flag, "--json", env=env)
    (database,) = [
        c for c in map(orjson.loads, doctor.stdout.splitlines()) if c["name"] == "database"
    ]
    assert str(data / "nexus.db") in database["detail"] and "1 request," in database["detail"]
    stats = run_nexus("db", "stats", *flag, "--json", env=env)
    assert orjson.loads(stats.stdout)["requests"] == 1, stats.stderr
    usage = run_nexus("usage", *flag, "--json", env=env)
    assert sum(row["requests"] for row in orjson.loads(usage.stdout)["usage"]["rows"]) == 1
    export = run_nexus("export", *flag, env=env)
    assert len(export.stdout.splitlines()) == 1, export.stderr
    by_env = run_nexus("logs", "--json", env={**env, "NEXUS_DATA_DIR": str(data)})
    assert by_env.stdout == logs.stdout


async def test_what_serve_stores_under_a_data_folder_every_command_finds_there(
    tmp_path, fake_upstream
):
    data = tmp_path / "data"
    env = clean_env(tmp_path / "home", COLUMNS="250")
    args = ["--data-dir", str(data), "--proxy-port", str(free_port())]
    args += ["--api-port", str(free_port()), "--upstream", fake_upstream.url]
    server = await NexusProcess(args, env, tmp_path).start()  # no --db: the folder's own
    try:
        async with httpx.AsyncClient(base_url=server.proxy_url, timeout=10) as http:
            body = {
                "model": "claude-opus-4-5",
                "max_tokens": 5,
                "messages": [{"role": "user", "content": "hi"}],
            }
            sent = await http.post("/v1/messages", json=body, headers={"x-api-key": "k"})
            assert sent.status_code == 200
        for _ in range(100):
            logs = await asyncio.to_thread(
                run_nexus, "logs", "--data-dir", str(data), "--json", env=env
            )
            if logs.stdout:
                break
            await asyncio.sleep(0.1)
        assert len(logs.stdout.splitlines()) == 1
        assert (data / "nexus.db").exists()
    finally:
        assert await server.terminate() == 0
