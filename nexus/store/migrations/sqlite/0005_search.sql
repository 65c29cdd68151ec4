-- Full-text search over the user and assistant text each request added (nexus/store/search.py).
-- request_text holds the text once; request_text_fts is an external-content FTS5 index over it,
-- kept in step by triggers. Its own INTEGER PRIMARY KEY keeps FTS rowids stable across VACUUM.
-- A request with nothing to index still gets an (empty) row: "indexed" is then a cheap anti-join.
-- id_ceiling: the greatest request_id indexed before this row, so every row with a smaller id
-- (rowid) has request_id <= id_ceiling. A search that walks matches newest-indexed first uses it to
-- prove that no match it has not seen yet can be newer than the page it holds (sqlite/events.py).
CREATE TABLE request_text (
    id          INTEGER PRIMARY KEY,
    request_id  TEXT NOT NULL UNIQUE,
    text        TEXT NOT NULL,
    id_ceiling  TEXT NOT NULL DEFAULT ''
);

CREATE VIRTUAL TABLE request_text_fts USING fts5(
    text, content='request_text', content_rowid='id', tokenize='unicode61 remove_diacritics 2'
);

CREATE TRIGGER request_text_indexed AFTER INSERT ON request_text BEGIN
    INSERT INTO request_text_fts (rowid, text) VALUES (new.id, new.text);
END;

CREATE TRIGGER request_text_unindexed AFTER DELETE ON request_text BEGIN
    INSERT INTO request_text_fts (request_text_fts, rowid, text) VALUES ('delete', old.id, old.text);
END;

-- Pruning a request drops its text with it; the core's prune needs to know nothing of search.
CREATE TRIGGER requests_search_pruned AFTER DELETE ON requests BEGIN
    DELETE FROM request_text WHERE request_id = old.id;
END;
