-- Analysis jobs on Postgres: only the claim differs (common/jobs.sql).

-- SKIP LOCKED: concurrent claimers (other connections, other processes) pass over a row another
-- claimer holds instead of waiting for it, so each job is handed to exactly one worker.
-- name: jobs_claim_lock
FOR UPDATE SKIP LOCKED
