-- How many transactions have written the link index: each one adds one first (conv_link_pass).
-- A linker that finds it one above its own last pass knows nobody else wrote in between and keeps
-- what it learnt of the index in memory (nexus/conversations/run_index.py). On Postgres the row's
-- lock also makes linkers of several processes take turns (it replaces an advisory lock).
CREATE TABLE link_generation (
    id          INTEGER PRIMARY KEY,
    generation  BIGINT NOT NULL
);
