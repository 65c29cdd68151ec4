-- Analysis jobs (owner: analysis). Every state change also appends an 'analysis' event.

-- name: jobs_insert
INSERT INTO analysis_jobs (id, conversation_id, branch, prompt_version, state, attempts,
                           created_at_ms, updated_at_ms, run_after_ms)
VALUES ($1, $2, $3, $4, 'pending', 0, $5, $6, $7)
ON CONFLICT (conversation_id, branch, prompt_version) DO NOTHING
RETURNING id

-- name: jobs_by_key
SELECT id, conversation_id, branch, prompt_version, state, attempts, created_at_ms, updated_at_ms,
       run_after_ms, started_at_ms, finished_at_ms, claim_token, error, model, input_tokens,
       output_tokens, result_json, markdown
FROM analysis_jobs
WHERE conversation_id = $1 AND branch = $2 AND prompt_version = $3

-- name: jobs_get
SELECT id, conversation_id, branch, prompt_version, state, attempts, created_at_ms, updated_at_ms,
       run_after_ms, started_at_ms, finished_at_ms, claim_token, error, model, input_tokens,
       output_tokens, result_json, markdown
FROM analysis_jobs
WHERE id = $1

-- name: jobs_latest_for_branch
SELECT id, conversation_id, branch, prompt_version, state, attempts, created_at_ms, updated_at_ms,
       run_after_ms, started_at_ms, finished_at_ms, claim_token, error, model, input_tokens,
       output_tokens, result_json, markdown
FROM analysis_jobs
WHERE conversation_id = $1 AND branch = $2
ORDER BY (prompt_version = $3) DESC, created_at_ms DESC
LIMIT 1

-- name: jobs_list
SELECT id, conversation_id, branch, prompt_version, state, attempts, created_at_ms, updated_at_ms,
       run_after_ms, started_at_ms, finished_at_ms, claim_token, error, model, input_tokens,
       output_tokens, NULL, NULL
FROM analysis_jobs
WHERE ($1::text IS NULL OR state = $1) AND ($2::text IS NULL OR conversation_id = $2)
ORDER BY created_at_ms DESC, id DESC
LIMIT $3

-- name: jobs_rerun
UPDATE analysis_jobs
SET state = 'pending', attempts = 0, run_after_ms = $1, updated_at_ms = $2, started_at_ms = NULL,
    finished_at_ms = NULL, claim_token = NULL, error = NULL, model = NULL, input_tokens = 0,
    output_tokens = 0, result_json = NULL, markdown = NULL
WHERE id = $3 AND state IN ('done', 'failed')
RETURNING id

-- name: jobs_claim
-- SKIP LOCKED: concurrent claimers (other connections, other processes) pass over a row another
-- claimer holds instead of waiting for it, so each job is handed to exactly one worker.
UPDATE analysis_jobs
SET state = 'running', attempts = attempts + 1, started_at_ms = $1, updated_at_ms = $1,
    finished_at_ms = NULL, claim_token = $2
WHERE id = (
    SELECT id FROM analysis_jobs
    WHERE state = 'pending' AND run_after_ms <= $1
    ORDER BY run_after_ms, created_at_ms, id
    LIMIT 1
    FOR UPDATE SKIP LOCKED
) AND state = 'pending'
RETURNING id, conversation_id, branch, prompt_version, state, attempts, created_at_ms,
          updated_at_ms, run_after_ms, started_at_ms, finished_at_ms, claim_token, error, model,
          input_tokens, output_tokens, result_json, markdown

-- name: jobs_finish
UPDATE analysis_jobs
SET state = 'done', finished_at_ms = $1, updated_at_ms = $1, claim_token = NULL, error = NULL,
    model = $2, input_tokens = input_tokens + $3, output_tokens = output_tokens + $4,
    result_json = $5, markdown = $6
WHERE id = $7 AND state = 'running' AND claim_token = $8
RETURNING id

-- name: jobs_retry
UPDATE analysis_jobs
SET state = 'pending', run_after_ms = $1, updated_at_ms = $2, claim_token = NULL, error = $3,
    model = COALESCE($4, model), input_tokens = input_tokens + $5,
    output_tokens = output_tokens + $6
WHERE id = $7 AND state = 'running' AND claim_token = $8
RETURNING id

-- name: jobs_fail
UPDATE analysis_jobs
SET state = 'failed', finished_at_ms = $1, updated_at_ms = $1, claim_token = NULL, error = $2,
    model = COALESCE($3, model), input_tokens = input_tokens + $4,
    output_tokens = output_tokens + $5
WHERE id = $6 AND state = 'running' AND claim_token = $7
RETURNING id

-- name: jobs_requeue_stuck
UPDATE analysis_jobs
SET state = 'pending', claim_token = NULL, run_after_ms = $1, updated_at_ms = $1, error = $2
WHERE state = 'running' AND started_at_ms < $3
RETURNING id

-- name: jobs_event
INSERT INTO events (kind, ref_id, at_ms) VALUES ('analysis', $1, $2)

-- name: jobs_next_due
SELECT MIN(run_after_ms) FROM analysis_jobs WHERE state = 'pending'
