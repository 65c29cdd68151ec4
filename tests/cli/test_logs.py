"""`nexus logs`: the latest records, newest first, as JSON lines or a table."""

from __future__ import annotations

import time
from dataclasses import replace

import orjson
from typer.testing import CliRunner

from nexus.cli.main import app
from nexus.record_json import summary_from_json
from nexus.recorder.derive import derive
from nexus.records import Usage
from tests.factories import make_record
from tests.fakes.stores import seed_sqlite

T0 = 1_790_000_000_000


def test_json_lines_are_newest_first_with_tokens_and_timings(tmp_path):
    records = [
        make_record(started_at_ms=T0 + i, usage=Usage(10 + i, 20, 3, 3, 0, 40), status=200)
        for i in range(5)
    ]
    seed_sqlite(tmp_path / "n.db", records)
    result = CliRunner().invoke(
        app, ["logs", "-n", "3", "--json", "--db", f"sqlite:///{tmp_path}/n.db"]
    )
    assert result.exit_code == 0, result.output
    lines = [orjson.loads(line) for line in result.stdout.splitlines()]
    assert [line["id"] for line in lines] == [r.id for r in reversed(records)][:3]
    first = lines[0]
    usage = first["usage"]
    assert (usage["input_tokens"], usage["output_tokens"]) == (14, 20)
    assert (usage["cache_creation_input_tokens"], usage["cache_read_input_tokens"]) == (3, 40)
    assert first["status"] == 200 and first["is_streaming"] is True
    assert first["duration_ms"] == 1200 and first["started_at_ms"] == T0 + 4
    assert first["ttfb_ms"] == 300 and first["error"] is None
    # The record's one JSON shape: what the API lists and the client reads back.
    assert summary_from_json(first).usage == Usage(14, 20, 3, 3, 0, 40)


def test_the_table_shows_errors_and_an_empty_store_says_what_to_do(tmp_path):
    db = f"sqlite:///{tmp_path}/n.db"
    empty = CliRunner().invoke(app, ["logs", "--db", db])
    assert "No calls recorded yet" in empty.stdout
    seed_sqlite(tmp_path / "n.db", [make_record(status=529, error="overloaded")])
    table = CliRunner().invoke(app, ["logs", "--db", db], env={"COLUMNS": "120"})
    assert "529" in table.stdout and "overloaded" in table.stdout and "opus-4-8" in table.stdout


def test_the_table_keeps_the_cost_at_80_columns(tmp_path):
    db = f"sqlite:///{tmp_path}/n.db"
    seed_sqlite(tmp_path / "n.db", [replace(make_record(status=200), cost_usd_micros=123_456)])
    table = CliRunner().invoke(app, ["logs", "--db", db], env={"COLUMNS": "80"})
    header = table.stdout.splitlines()[0].split()
    assert "cost" in header and "$0.1235" in table.stdout
    # a long error needs the room more: the cost goes (and the note says so) before it wraps per word
    failed = make_record(status=401, error="A valid client key is required: send it as x-api-key")
    seed_sqlite(tmp_path / "m.db", [failed])
    narrow = CliRunner().invoke(
        app, ["logs", "--db", f"sqlite:///{tmp_path}/m.db"], env={"COLUMNS": "80"}
    )
    assert "cost" not in narrow.stdout.splitlines()[0] and "A valid client" in narrow.stdout
    assert "out, cost" in " ".join(narrow.stdout.split())


def test_a_200_stream_that_ended_in_an_error_event_is_listed_as_an_error(tmp_path):
    db = f"sqlite:///{tmp_path}/n.db"
    ok = make_record(started_at_ms=T0)
    events = (
        b'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1","type":'
        b'"message","role":"assistant","content":[],"usage":{"input_tokens":5}}}\n\n'
        b'event: error\ndata: {"type":"error","error":{"type":"overloaded_error",'
        b'"message":"Overloaded"}}\n\n'
    )
    stream = derive(replace(make_record(started_at_ms=T0 + 1).exchange, response_body=events))
    seed_sqlite(tmp_path / "n.db", [ok, stream])
    result = CliRunner().invoke(app, ["logs", "--errors", "--json", "--db", db])
    assert result.exit_code == 0, result.output
    (line,) = [orjson.loads(text) for text in result.stdout.splitlines()]
    assert line["id"] == stream.id and line["status"] == 200
    assert (line["outcome"], line["error"]) == ("stream_error", "overloaded_error: Overloaded")
    table = CliRunner().invoke(app, ["logs", "--db", db], env={"COLUMNS": "120"})
    assert "overloaded_error: Overloaded" in " ".join(table.stdout.split())  # it may wrap


def test_the_table_shows_each_id_and_local_time_through_the_real_command(tmp_path):
    from tests.cli.entry import clean_env, run_nexus

    record = make_record(started_at_ms=T0, status=200)
    (tmp_path / "data").mkdir()
    seed_sqlite(tmp_path / "data" / "nexus.db", [record])
    # UTC+05:30 all year: local and UTC clocks differ by a time no rounding can hide
    env = clean_env(
        tmp_path, COLUMNS="80", TZ="Asia/Kolkata", NEXUS_DATA_DIR=str(tmp_path / "data")
    )
    result = run_nexus("logs", env=env)
    assert result.code == 0, result.stderr
    assert record.id in result.stdout
    utc = time.strftime("%H:%M:%S", time.gmtime(T0 / 1000))
    local = time.strftime("%H:%M:%S", time.gmtime(T0 / 1000 + 5.5 * 3600))
    assert local in result.stdout and utc not in result.stdout
    assert all(len(line) <= 80 for line in result.stdout.splitlines())
    as_json = orjson.loads(run_nexus("logs", "--json", env=env).stdout)
    assert as_json["id"] == record.id and as_json["started_at_ms"] == T0
    assert as_json["upstream_request_id"] == "req_" + record.id[:20]


def test_a_refused_calls_cut_body_note_reads_in_a_few_lines_at_80_columns(tmp_path):
    import hashlib

    from nexus.recorder.tap import bounded

    body = b"x" * 5_000_123
    cut = bounded(replace(make_record().exchange, request_body=body, status=None,
                          error="A valid client key is required"))  # fmt: skip
    assert cut.error == (
        "A valid client key is required "
        f"(body cut to 1 KB of 5.0MB, sha256 {hashlib.sha256(body).hexdigest()[:16]})"
    )
    seed_sqlite(tmp_path / "n.db", [make_record(status=401, error=cut.error)])
    table = CliRunner().invoke(
        app, ["logs", "--db", f"sqlite:///{tmp_path}/n.db"], env={"COLUMNS": "80"}
    )
    lines = table.stdout.split("left out to fit")[0].splitlines()[1:]
    # the error wraps in its column (the whole hash and the sentence around it took 10 lines)
    assert len([line for line in lines if line.strip()]) <= 5, table.stdout
