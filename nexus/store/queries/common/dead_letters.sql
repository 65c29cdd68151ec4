-- Dead letters (nexus/store/dead_letters.py) and the database's identity.

-- name: dead_letter_upsert
INSERT INTO dead_letters (id, failed_at_ms, attempts, stage, error, frame_bytes, codec, frame)
VALUES (:id, :failed_at_ms, :attempts, :stage, :error, :frame_bytes, :codec, :frame)
ON CONFLICT (id) DO UPDATE SET
    failed_at_ms = excluded.failed_at_ms,
    attempts = dead_letters.attempts + excluded.attempts,
    stage = excluded.stage,
    error = excluded.error

-- name: dead_letters_list
SELECT id, failed_at_ms, attempts, stage, error, frame_bytes
FROM dead_letters ORDER BY failed_at_ms, id LIMIT :limit

-- name: dead_letter_frame
SELECT codec, frame FROM dead_letters WHERE id = :id

-- name: dead_letter_delete
DELETE FROM dead_letters WHERE id = :id

-- name: dead_letters_count
SELECT count(*) AS letters FROM dead_letters

-- name: database_identity
SELECT id FROM database_identity
