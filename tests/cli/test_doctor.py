"""`nexus doctor` tells a person what is set up and what to fix."""

from __future__ import annotations

import os

import orjson
from typer.testing import CliRunner

from nexus.cli.main import app


def doctor(tmp_path, *args: str):
    env = {"NEXUS_DATA_DIR": str(tmp_path / "data"), "NEXUS_PROXY_PORT": "9"}
    return CliRunner().invoke(
        app, ["doctor", "--credentials-dir", str(tmp_path / "creds"), "--json", *args], env=env
    )


def test_a_fresh_set_up_passes_and_says_the_server_is_not_running(tmp_path):
    result = doctor(tmp_path)
    assert result.exit_code == 0, result.output
    checks = {c["name"]: c for c in map(orjson.loads, result.stdout.splitlines())}
    assert checks["database"]["state"] == "ok" and "0 requests" in checks["database"]["detail"]
    assert checks["server"]["state"] == "warn" and "nexus serve" in checks["server"]["detail"]
    assert checks["credentials"]["detail"].startswith("none: pass-through")


def test_a_credential_file_others_can_read_fails_the_check(tmp_path):
    creds = tmp_path / "creds"
    creds.mkdir()
    path = creds / "localhost:3000.credentials.json"
    path.write_bytes(b'{"type": "api_key", "api_key": "sk-ant-x", "client_api_key": "cnp_live_y"}')
    os.chmod(path, 0o644)
    result = doctor(tmp_path)
    assert result.exit_code == 1
    (check,) = [
        c for c in map(orjson.loads, result.stdout.splitlines()) if c["name"] == "credentials"
    ]
    assert check["state"] == "fail" and "chmod 600" in check["detail"]
    assert "sk-ant-x" not in result.output


def test_a_broken_prompt_file_is_a_warning_naming_it(tmp_path):
    prompts = tmp_path / "data" / "prompts"  # the default folder: <data folder>/prompts
    prompts.mkdir(parents=True)
    (prompts / "good.yaml").write_text("name: good\ntemplate: hi\n")
    result = doctor(tmp_path)
    checks = {c["name"]: c for c in map(orjson.loads, result.stdout.splitlines())}
    assert checks["prompts"]["state"] == "ok" and "1 prompt from" in checks["prompts"]["detail"]
    (prompts / "bad.yaml").write_text("name: [x\n")
    result = doctor(tmp_path)
    checks = {c["name"]: c for c in map(orjson.loads, result.stdout.splitlines())}
    assert checks["prompts"]["state"] == "warn"
    assert (
        "bad.yaml" in checks["prompts"]["detail"]
        and "not valid YAML" in checks["prompts"]["detail"]
    )
