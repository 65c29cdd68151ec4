-- The search index keeps no copy of the text it indexes (issue 18): request_text held every
-- request's search text beside the tsvector generated from it. The tsvector (lexemes and
-- positions, what the GIN index and search need) is now written directly, computed from the text
-- at insert, and the text column goes. Rows already indexed keep their tsvector.
ALTER TABLE request_text ALTER COLUMN tsv DROP EXPRESSION;
ALTER TABLE request_text DROP COLUMN text;
ALTER TABLE request_text ALTER COLUMN tsv SET NOT NULL;
