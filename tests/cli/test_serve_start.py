"""A `nexus serve` that cannot start says why in one line and exits at once, with the documented
exit code (1: a setting that cannot work here, 2: a value that is not valid at all); no traceback,
no process left behind."""

from __future__ import annotations

import socket
import urllib.parse
from pathlib import Path

import orjson
import pytest

from nexus.cli.output import EXIT_FAILURE, EXIT_USAGE
from tests.cli.entry import Result, clean_env, run_nexus
from tests.fakes.serve_process import free_port

# A failed start used to hang forever; under a loaded test machine a start takes ~1 s.
FAILED_START_S = 8.0


def serve(tmp_path: Path, *args: str, data_dir: Path | None = None) -> Result:
    env = clean_env(tmp_path / "home", COLUMNS="80")
    base = ["--data-dir", str(data_dir or tmp_path / "data"), "--api-port", str(free_port())]
    return run_nexus("serve", *base, *args, env=env, timeout_s=20)


def assert_one_red_line(result: Result, code: int, *words: str) -> None:
    assert result.code == code, result.stderr
    assert "Traceback" not in result.stderr
    (line,) = result.error_lines
    assert line.startswith("error: ")
    for word in words:
        assert word in line
    assert result.seconds < FAILED_START_S


def test_a_port_in_use_is_one_line_and_exit_1(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = serve(tmp_path, "--proxy-port", str(port))
    assert_one_red_line(result, EXIT_FAILURE, f"127.0.0.1:{port}", "in use", "--proxy-port")


@pytest.mark.parametrize("host", ["999.1.1.1", "192.0.2.77"])
def test_a_host_that_is_not_this_machine_is_one_line_and_exit_1(tmp_path, host):
    result = serve(tmp_path, "--host", host, "--proxy-port", str(free_port()))
    assert_one_red_line(result, EXIT_FAILURE, host, "--host")


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--proxy-port", "99999"], ["--proxy-port", "99999", "1-65535"]),
        (["--log-level", "LOUD"], ["--log-level", "LOUD", "DEBUG, INFO"]),
        (["--upstream", "not-a-url"], ["--upstream", "not-a-url", "https://api.anthropic.com"]),
        (["--upstream", "ftp://example.com"], ["--upstream", "ftp://example.com"]),
    ],
)
def test_an_invalid_value_is_one_line_naming_the_setting_and_exit_2(tmp_path, args, words):
    result = serve(tmp_path, *args)
    assert_one_red_line(result, EXIT_USAGE, *words)


def test_an_unwritable_data_folder_is_one_line_and_exit_1(tmp_path):
    (tmp_path / "a-file").write_text("")  # unwritable as a folder, even for root
    folder = tmp_path / "a-file" / "data"
    result = serve(tmp_path, "--proxy-port", str(free_port()), data_dir=folder)
    assert_one_red_line(result, EXIT_FAILURE, str(folder), "--data-dir")


def test_an_unwritable_spool_folder_is_one_line_and_frees_the_port(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "spool").write_text("")  # the data folder is fine, its spool folder cannot be made
    port = free_port()
    result = serve(tmp_path, "--proxy-port", str(port), "--db", f"sqlite:///{tmp_path}/n.db")
    assert_one_red_line(result, EXIT_FAILURE, "spool", "--data-dir")
    with socket.socket() as again:  # nothing holds the port any more
        again.bind(("127.0.0.1", port))


@pytest.mark.postgres
def test_a_postgres_role_that_does_not_exist_is_one_line_naming_the_setting(tmp_path, pg_url):
    url = _with_user(pg_url, "nexus_no_such_role")
    result = serve(tmp_path, "--proxy-port", str(free_port()), "--db", url)
    assert_one_red_line(result, EXIT_FAILURE, 'role "nexus_no_such_role"', "DATABASE_URL")


def _with_user(url: str, user: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{user}@{parts.netloc.rsplit('@')[-1]}"))


@pytest.mark.postgres
@pytest.mark.parametrize("command", [["logs"], ["usage"], ["db", "stats"], ["export"]])
def test_commands_reading_the_store_name_a_missing_postgres_role(tmp_path, pg_url, command):
    url = _with_user(pg_url, "nexus_no_such_role")
    result = run_nexus(*command, "--db", url, env=clean_env(tmp_path), timeout_s=20)
    assert_one_red_line(result, EXIT_FAILURE, 'role "nexus_no_such_role"', "--db")


@pytest.mark.postgres
def test_doctor_diagnoses_a_missing_postgres_role(tmp_path, pg_url):
    url = _with_user(pg_url, "nexus_no_such_role")
    result = run_nexus("doctor", "--db", url, "--json", env=clean_env(tmp_path), timeout_s=20)
    assert result.code == EXIT_FAILURE and "Traceback" not in result.stderr
    checks = {c["name"]: c for c in map(orjson.loads, result.stdout.splitlines())}
    assert checks["database"]["state"] == "fail"
    assert 'role "nexus_no_such_role" does not exist' in checks["database"]["detail"]
    assert "DATABASE_URL" in checks["database"]["detail"]


def test_a_database_that_does_not_answer_is_one_line_naming_the_setting(tmp_path):
    closed = free_port()  # nothing listens there
    url = f"postgresql://postgres@127.0.0.1:{closed}/test"
    result = serve(tmp_path, "--proxy-port", str(free_port()), "--db", url)
    assert_one_red_line(result, EXIT_FAILURE, "Connection refused", "DATABASE_URL")
