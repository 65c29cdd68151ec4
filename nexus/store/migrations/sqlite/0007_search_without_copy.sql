-- The search index keeps no copy of the text it indexes (issue 18): request_text held every
-- request's search text uncompressed beside its external-content FTS5 index, which made a store of
-- long prompts 3.2x its unique content. The index is now contentless (content=''): it holds the
-- tokens and positions search needs, never the text (nor, columnsize=0, the per-row token counts
-- only ranking would read: results come newest first). Rows already indexed move over as they are.
-- request_text keeps one row per indexed request (its FTS rowid, request id and id_ceiling, see
-- 0005); its id is AUTOINCREMENT now, so a pruned request's rowid is never given to a new one.
-- Text goes in through the request_text_in view, whose trigger adds the row and indexes its text
-- in one statement (nothing when the request is already indexed). A contentless index can only
-- drop a row's tokens when told its text again: prune recomputes it (sqlite/events.py).
DROP TRIGGER request_text_indexed;
DROP TRIGGER request_text_unindexed;
DROP TRIGGER requests_search_pruned;
DROP TABLE request_text_fts;
ALTER TABLE request_text RENAME TO request_text_0005;

CREATE TABLE request_text (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id  TEXT NOT NULL UNIQUE,
    id_ceiling  TEXT NOT NULL DEFAULT ''
);
INSERT INTO request_text (id, request_id, id_ceiling)
SELECT id, request_id, id_ceiling FROM request_text_0005 ORDER BY id;

CREATE VIRTUAL TABLE request_text_fts USING fts5(
    text, content='', columnsize=0, tokenize='unicode61 remove_diacritics 2'
);
INSERT INTO request_text_fts (rowid, text) SELECT id, text FROM request_text_0005 ORDER BY id;
DROP TABLE request_text_0005;
-- Index pages of 1 000 bytes instead of 4 050: several fit in one database page, so the partly
-- filled last page of each segment wastes less (measured: the index of the 100 x 8 KB conversation
-- 606 -> 545 KB).
INSERT INTO request_text_fts (request_text_fts, rank) VALUES ('pgsz', 1000);

CREATE VIEW request_text_in (request_id, text) AS SELECT request_id, NULL FROM request_text WHERE 0;

CREATE TRIGGER request_text_in_insert INSTEAD OF INSERT ON request_text_in BEGIN
    INSERT INTO request_text (request_id, id_ceiling)
    VALUES (new.request_id, coalesce((SELECT max(request_id) FROM request_text), ''))
    ON CONFLICT (request_id) DO NOTHING;
    INSERT INTO request_text_fts (rowid, text)
    SELECT id, new.text FROM request_text WHERE request_id = new.request_id AND changes() > 0;
END;

-- Pruning a request drops its row with it (prune has removed its tokens first).
CREATE TRIGGER requests_search_pruned AFTER DELETE ON requests BEGIN
    DELETE FROM request_text WHERE request_id = old.id;
END;
