"""The columns of the tables the store writes, declared once, and the SQL fragments that list them.

The sole owner of which columns a write fills and in what order. The schema itself is the
migrations'; this declares what the writers bind, each column with the Postgres type its values are
cast to when a whole batch goes in as one array per column. ``fragments()`` turns each table into
the blocks the ``.sql`` files include by name (``{requests_cols}``):

- ``<table>_cols``: ``id, started_at_ms, …`` (an INSERT's column list, an alias list, a SELECT);
- ``<table>_params``: ``:id, :started_at_ms, …`` (a one-row INSERT's VALUES);
- ``<table>_arrays``: ``CAST(:<prefix>id AS TEXT[]), …`` (Postgres ``unnest``; ``Table.arrays``
  gives the values);
- ``<table>_set``: ``host = excluded.host, …`` for every column but the conflict key (a table
  with a ``key``: an upsert);
- ``<table>_read``: ``c.id, c.host, …``, or ``n.request_id AS node_request_id, …`` where rows are
  read back under the prefixed names beside another table's columns (a table with an ``alias``).

Before this, the Postgres batch write spelled the requests' 47 columns out three times and the
SQLite insert twice more; a column added to one list and not the others went unnoticed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Table:
    name: str
    columns: tuple[tuple[str, str], ...]  # (column, Postgres type), in insert order
    prefix: str = ""  # of the array parameters, where several tables share one statement
    key: tuple[str, ...] = ()  # the conflict target of an upsert: not in ``<table>_set``
    alias: str = ""  # rows are read back as ``<alias>.<column>``: ``<table>_read``
    read_prefixed: bool = False  # … named ``<prefix><column>`` (beside another table's columns)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.columns)

    def arrays(self, rows: Sequence[Mapping[str, Any]]) -> dict[str, list[Any]]:
        """Rows as one list per column: the values of ``<table>_arrays``, which a Postgres
        statement ``unnest``s to write many rows in one round trip."""
        return {self.prefix + name: [row[name] for row in rows] for name in self.names}

    def fragments(self) -> dict[str, str]:
        names = self.names
        out = {
            f"{self.name}_cols": ", ".join(names),
            f"{self.name}_params": ", ".join(f":{name}" for name in names),
            f"{self.name}_arrays": ", ".join(
                f"CAST(:{self.prefix}{name} AS {sql_type}[])" for name, sql_type in self.columns
            ),
        }
        if self.key:
            out[f"{self.name}_set"] = ", ".join(
                f"{name} = excluded.{name}" for name in names if name not in self.key
            )
        if self.alias:
            renamed = [f" AS {self.prefix}{name}" if self.read_prefixed else "" for name in names]
            out[f"{self.name}_read"] = ", ".join(
                f"{self.alias}.{name}{as_name}"
                for name, as_name in zip(names, renamed, strict=True)
            )
        return out


def _table(
    name: str,
    columns: str,
    *,
    prefix: str = "",
    key: tuple[str, ...] = (),
    alias: str = "",
    read_prefixed: bool = False,
) -> Table:
    """``columns``: ``"name type, name type, …"``, as a CREATE TABLE would list them."""
    pairs = [name_type.split() for name_type in columns.split(",")]
    typed = tuple((c, sql_type) for c, sql_type in pairs)
    return Table(name, typed, prefix, key, alias, read_prefixed)


BLOBS = _table("blobs", "hash BYTEA, kind TEXT, size BIGINT, codec SMALLINT, data BYTEA",
               prefix="blob_")  # fmt: skip
MESSAGE_NODES = _table(
    "message_nodes", "id BYTEA, parent_id BYTEA, blob_hash BYTEA, sep BYTEA", prefix="node_"
)
REQUESTS = _table(
    "requests",
    """id TEXT, started_at_ms BIGINT, ended_at_ms BIGINT, first_byte_at_ms BIGINT,
    duration_ms BIGINT, ttfb_ms BIGINT, method TEXT, path TEXT, query TEXT, host TEXT,
    account_id TEXT, client_key_id TEXT, auth_mode TEXT, model TEXT, is_streaming BOOLEAN,
    status INTEGER, outcome TEXT, error TEXT, session_id TEXT, agent_id TEXT,
    parent_agent_id TEXT, upstream_request_id TEXT, input_tokens BIGINT, output_tokens BIGINT,
    cache_creation_tokens BIGINT, cache_creation_5m_tokens BIGINT,
    cache_creation_1h_tokens BIGINT, cache_read_tokens BIGINT, cost_usd_micros BIGINT,
    stop_reason TEXT, user_preview TEXT, reply_preview TEXT, message_count BIGINT,
    tool_count BIGINT, tool_use_count BIGINT, request_headers_hash BYTEA,
    response_headers BYTEA, ratelimit BYTEA, body_skeleton BYTEA, messages_tail BYTEA,
    body_cuts BYTEA, body_bytes BIGINT, response_body BYTEA, response_codec SMALLINT,
    response_bytes BIGINT, response_message BYTEA, written_at_ms BIGINT""",
)
LINKS = _table(
    "links",
    """request_id TEXT, traffic_class TEXT, conversation_id TEXT, parent_request_id TEXT,
    branch TEXT, subtask_of TEXT, agent_id TEXT, linked_at_ms BIGINT""",
    prefix="link_",
    key=("request_id",),
)
LINK_NODES = _table(
    "link_nodes",
    """request_id TEXT, scope TEXT, started_at_ms BIGINT, traffic_class TEXT, edge TEXT,
    session_id TEXT, agent_id TEXT, conversation_id TEXT, parent_request_id TEXT, branch TEXT,
    subtask_of TEXT, task_ordinal BIGINT, branch_start BOOLEAN, task_count BIGINT""",
    prefix="node_",
    key=("request_id",),
    alias="n",
    read_prefixed=True,  # link_index.node_from_row reads the node_<column> names
)
LINK_KEYS = _table(
    "link_keys",
    """scope TEXT, kind TEXT, key TEXT, started_at_ms BIGINT, request_id TEXT, ordinal BIGINT,
    info TEXT""",
    prefix="key_",
)
CONVERSATIONS = _table(
    "conversations",
    """id TEXT, host TEXT, account_id TEXT, client_key_id TEXT, session_id TEXT,
    started_at_ms BIGINT, last_at_ms BIGINT, last_request_id TEXT, request_count BIGINT,
    class_counts TEXT, branch_count BIGINT, subtask_count BIGINT, input_tokens BIGINT,
    output_tokens BIGINT, cache_creation_tokens BIGINT, cache_read_tokens BIGINT,
    cost_usd_micros BIGINT, models TEXT, latest_context_tokens BIGINT, latest_turn_id TEXT,
    latest_turn_at_ms BIGINT, title TEXT, last_user_preview TEXT""",
    prefix="conv_",
    key=("id",),
    alias="c",
)
TABLES = (BLOBS, MESSAGE_NODES, REQUESTS, LINKS, LINK_NODES, LINK_KEYS, CONVERSATIONS)


def fragments() -> dict[str, str]:
    """Every table's four blocks, by name."""
    return {name: sql for table in TABLES for name, sql in table.fragments().items()}
