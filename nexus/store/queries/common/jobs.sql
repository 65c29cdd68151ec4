-- Analysis jobs (nexus/store/jobs.py). Every state change also appends an 'analysis' event.

-- name: job_columns
id, conversation_id, branch, prompt_version, prompt_name, state, attempts, created_at_ms, updated_at_ms,
run_after_ms, started_at_ms, finished_at_ms, claim_token, error, model, input_tokens,
output_tokens

-- name: jobs_insert
INSERT INTO analysis_jobs (id, conversation_id, branch, prompt_version, prompt_name, prompt_text,
                           state, attempts, created_at_ms, updated_at_ms, run_after_ms)
VALUES (:id, :conversation_id, :branch, :prompt_version, :prompt_name, :prompt_text, 'pending', 0,
        :now, :now, :now)
ON CONFLICT (conversation_id, branch, prompt_version) DO NOTHING
RETURNING id

-- name: jobs_by_key
SELECT {job_columns}, result_json, markdown, prompt_text
FROM analysis_jobs
WHERE conversation_id = :conversation_id AND branch = :branch AND prompt_version = :prompt_version

-- name: jobs_get
SELECT {job_columns}, result_json, markdown, prompt_text
FROM analysis_jobs
WHERE id = :id

-- name: jobs_latest_for_branch
SELECT {job_columns}, result_json, markdown, prompt_text
FROM analysis_jobs
WHERE conversation_id = :conversation_id AND branch = :branch
ORDER BY (prompt_version = :prompt_version) DESC, created_at_ms DESC
LIMIT 1

-- name: jobs_list
SELECT {job_columns}, NULL AS result_json, NULL AS markdown, NULL AS prompt_text
FROM analysis_jobs
WHERE (CAST(:state AS TEXT) IS NULL OR state = :state)
  AND (CAST(:conversation_id AS TEXT) IS NULL OR conversation_id = :conversation_id)
ORDER BY created_at_ms DESC, id DESC
LIMIT :limit

-- name: jobs_rerun
UPDATE analysis_jobs
SET state = 'pending', attempts = 0, run_after_ms = :now, updated_at_ms = :now,
    started_at_ms = NULL, finished_at_ms = NULL, claim_token = NULL, error = NULL, model = NULL,
    input_tokens = 0, output_tokens = 0, result_json = NULL, markdown = NULL
WHERE id = :id AND state IN ('done', 'failed')
RETURNING id

-- How the claim's subquery holds the row it picked: SQLite needs nothing (one statement on the
-- single writer connection cannot interleave with another claim); Postgres overrides it.
-- name: jobs_claim_lock

-- name: jobs_claim
UPDATE analysis_jobs
SET state = 'running', attempts = attempts + 1, started_at_ms = :now, updated_at_ms = :now,
    finished_at_ms = NULL, claim_token = :claim_token
WHERE id = (
    SELECT id FROM analysis_jobs
    WHERE state = 'pending' AND run_after_ms <= :now
    ORDER BY run_after_ms, created_at_ms, id
    LIMIT 1
    {jobs_claim_lock}
) AND state = 'pending'
RETURNING {job_columns}, result_json, markdown, prompt_text

-- What ending an attempt records, whatever its outcome: the claim released, the error (none when
-- done), the model and the tokens the attempt spent, added to the earlier attempts'.
-- name: jobs_attempt_end
updated_at_ms = :now, claim_token = NULL, error = :error, model = COALESCE(:model, model),
input_tokens = input_tokens + :input_tokens, output_tokens = output_tokens + :output_tokens

-- Only the worker that holds the claim may end the attempt (a requeued job's old worker cannot).
-- name: jobs_claim_held
WHERE id = :id AND state = 'running' AND claim_token = :claim_token
RETURNING id

-- name: jobs_finish
UPDATE analysis_jobs
SET state = 'done', finished_at_ms = :now, result_json = :result_json, markdown = :markdown,
    {jobs_attempt_end}
{jobs_claim_held}

-- name: jobs_retry
UPDATE analysis_jobs
SET state = 'pending', run_after_ms = :run_after_ms, {jobs_attempt_end}
{jobs_claim_held}

-- name: jobs_fail
UPDATE analysis_jobs
SET state = 'failed', finished_at_ms = :now, {jobs_attempt_end}
{jobs_claim_held}

-- name: jobs_requeue_stuck
UPDATE analysis_jobs
SET state = 'pending', claim_token = NULL, run_after_ms = :now, updated_at_ms = :now,
    error = :error
WHERE state = 'running' AND started_at_ms < :started_before
RETURNING id

-- name: jobs_event
INSERT INTO events (kind, ref_id, at_ms) VALUES ('analysis', :id, :now)

-- name: jobs_next_due
SELECT MIN(run_after_ms) AS due_ms FROM analysis_jobs WHERE state = 'pending'
