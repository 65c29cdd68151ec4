-- Cache ledger area: what SQLite says differently (IS compares NULLs; IS NOT DISTINCT FROM needs
-- SQLite 3.39, newer than some Pythons bundle).

-- name: cache_same_agent
l.agent_id IS :agent_id
