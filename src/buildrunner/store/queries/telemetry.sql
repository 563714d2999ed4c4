-- Telemetry aggregates. `/*index:NAME*/` after a table pins SQLite to that covering index
-- (it has no statistics to choose it by itself); PostgreSQL reads it as a comment.
-- Every window is `ts >= :since AND ts < :until` (UTC epoch seconds).
-- A finished task is keyed by (session_id, task_id): any task_completed makes it a success
-- (a retried-then-completed task counts once); a task_failed without task_completed is a
-- failure unless a task_retry came with or after it (the task is waiting for its next attempt).

-- name: task_outcomes
SELECT COUNT(*) AS finished, COALESCE(SUM(ok), 0) AS succeeded
FROM (
    SELECT MAX(CASE WHEN type = 'task_completed' THEN 1 ELSE 0 END) AS ok,
           MAX(CASE WHEN type = 'task_failed' THEN ts END) AS failed_at,
           MAX(CASE WHEN type = 'task_retry' THEN ts END) AS retry_at
    FROM events /*index:events_outcome*/
    WHERE type IN ('task_completed', 'task_failed', 'task_retry') AND ts >= :since AND ts < :until
    GROUP BY session_id, task_id
) AS outcomes
WHERE ok = 1 OR failed_at > COALESCE(retry_at, 0)

-- name: event_count
SELECT COUNT(*) AS n FROM events WHERE ts >= :since AND ts < :until

-- name: error_count
-- An error is an event with an error message, except a skip or a retry (their "error" is the
-- reason, already counted on the failure that caused it).
SELECT COUNT(*) AS n FROM events /*index:events_error_key*/
WHERE error_key IS NOT NULL AND type NOT IN ('task_skipped', 'task_retry') AND ts >= :since AND ts < :until


-- name: latency_stats
SELECT COUNT(*) AS n, AVG(duration_ms) AS avg_ms, MIN(duration_ms) AS min_ms, MAX(duration_ms) AS max_ms
FROM events /*index:events_type_ts_duration*/
WHERE type IN ('task_completed', 'task_failed') AND ts >= :since AND ts < :until AND duration_ms IS NOT NULL

-- name: latency_at_ranks
-- The durations at 1-based ranks in duration order (exact nearest-rank percentiles): one sort of
-- the window's durations, read from the covering index events_type_ts_duration (no table rows).
SELECT rank_no, duration_ms
FROM (
    SELECT duration_ms, ROW_NUMBER() OVER (ORDER BY duration_ms) AS rank_no
    FROM events /*index:events_type_ts_duration*/
    WHERE type IN ('task_completed', 'task_failed') AND ts >= :since AND ts < :until AND duration_ms IS NOT NULL
) AS ranked
WHERE rank_no IN (:r1, :r2, :r3)

-- name: latency_at_offset_between
-- The duration at a 0-based position among durations in [:low, :high) (one histogram bucket):
-- only that bucket's entries are sorted, so a percentile whose bucket is known costs little.
SELECT duration_ms
FROM events /*index:events_type_ts_duration*/
WHERE type IN ('task_completed', 'task_failed') AND ts >= :since AND ts < :until
  AND duration_ms >= :low AND duration_ms < :high
ORDER BY duration_ms
LIMIT 1 OFFSET :offset

-- name: latency_histogram
-- Finished attempts per latency bucket in one pass over the covering index: :e0..:e8 are the
-- bucket upper edges (ms, ascending); bucket is how many edges the duration reaches (0..9, 9
-- open-ended). Per-bucket sum/min/max give latency_stats' figures in the same pass.
SELECT (duration_ms >= :e0) + (duration_ms >= :e1) + (duration_ms >= :e2) + (duration_ms >= :e3)
       + (duration_ms >= :e4) + (duration_ms >= :e5) + (duration_ms >= :e6) + (duration_ms >= :e7)
       + (duration_ms >= :e8) AS bucket,
       COUNT(*) AS n, SUM(duration_ms) AS total_ms, MIN(duration_ms) AS min_ms, MAX(duration_ms) AS max_ms
FROM events /*index:events_type_ts_duration*/
WHERE type IN ('task_completed', 'task_failed') AND ts >= :since AND ts < :until AND duration_ms IS NOT NULL
GROUP BY 1

-- name: latency_histogram :postgres
SELECT CAST(duration_ms >= :e0 AS INTEGER) + CAST(duration_ms >= :e1 AS INTEGER) + CAST(duration_ms >= :e2 AS INTEGER)
       + CAST(duration_ms >= :e3 AS INTEGER) + CAST(duration_ms >= :e4 AS INTEGER) + CAST(duration_ms >= :e5 AS INTEGER)
       + CAST(duration_ms >= :e6 AS INTEGER) + CAST(duration_ms >= :e7 AS INTEGER) + CAST(duration_ms >= :e8 AS INTEGER) AS bucket,
       COUNT(*) AS n, SUM(duration_ms) AS total_ms, MIN(duration_ms) AS min_ms, MAX(duration_ms) AS max_ms
FROM events
WHERE type IN ('task_completed', 'task_failed') AND ts >= :since AND ts < :until AND duration_ms IS NOT NULL
GROUP BY 1

-- name: top_errors
SELECT error_key, COUNT(*) AS n, MAX(ts) AS last_ts
FROM events /*index:events_error_key*/
WHERE error_key IS NOT NULL AND type NOT IN ('task_skipped', 'task_retry') AND ts >= :since AND ts < :until
GROUP BY error_key
ORDER BY n DESC, last_ts DESC
LIMIT :limit

-- name: error_example
SELECT error FROM events WHERE error_key = :key AND error_key IS NOT NULL AND ts = :ts LIMIT 1

-- name: finished_per_hour
SELECT CAST(ts / 3600 AS INTEGER) AS hour, COUNT(*) AS n
FROM events
WHERE type IN ('task_completed', 'task_failed') AND ts >= :since AND ts < :until
GROUP BY CAST(ts / 3600 AS INTEGER)

-- name: finished_per_hour :postgres
SELECT CAST(FLOOR(ts / 3600) AS BIGINT) AS hour, COUNT(*) AS n
FROM events
WHERE type IN ('task_completed', 'task_failed') AND ts >= :since AND ts < :until
GROUP BY CAST(FLOOR(ts / 3600) AS BIGINT)

-- name: cost_total
SELECT COALESCE(SUM(cost), 0) AS total, COUNT(*) AS n FROM cost_records WHERE ts >= :since AND ts < :until

-- name: cost_by_day
-- The offset parameter is the local UTC offset in seconds, so days are the user's calendar days.
SELECT CAST((ts + :offset) / 86400 AS INTEGER) AS day, COALESCE(SUM(cost), 0) AS cost
FROM cost_records WHERE ts >= :since AND ts < :until
GROUP BY CAST((ts + :offset) / 86400 AS INTEGER)

-- name: cost_by_day :postgres
SELECT CAST(FLOOR((ts + :offset) / 86400) AS BIGINT) AS day, COALESCE(SUM(cost), 0) AS cost
FROM cost_records WHERE ts >= :since AND ts < :until
GROUP BY CAST(FLOOR((ts + :offset) / 86400) AS BIGINT)

-- name: cost_by_model
SELECT model, COALESCE(SUM(cost), 0) AS cost, COUNT(*) AS n,
       COALESCE(SUM(input_tokens), 0) AS input_tokens, COALESCE(SUM(output_tokens), 0) AS output_tokens
FROM cost_records WHERE ts >= :since AND ts < :until
GROUP BY model ORDER BY cost DESC

-- name: cost_by_agent_model
-- Spend per coding agent and model (agent '' for direct API requests; the column is migration 0011's).
SELECT COALESCE(agent, '') AS agent, model, COALESCE(SUM(cost), 0) AS cost, COUNT(*) AS n
FROM cost_records WHERE ts >= :since AND ts < :until
GROUP BY COALESCE(agent, ''), model ORDER BY cost DESC

-- name: worker_usage
-- Workers that were alive during the window; the runner writes cpu_seconds and peak_rss_bytes.
SELECT COUNT(*) AS workers, COALESCE(SUM(cpu_seconds), 0) AS cpu_seconds,
       COALESCE(MAX(peak_rss_bytes), 0) AS peak_rss_bytes,
       COALESCE(SUM(last_heartbeat - started_at), 0) AS wall_seconds
FROM workers WHERE last_heartbeat >= :since AND started_at < :until

-- name: events_by_type
SELECT type, COUNT(*) AS n FROM events WHERE ts >= :since AND ts < :until GROUP BY type ORDER BY type

-- name: insert_event
INSERT INTO events (ts, type, session_id, task_id, worker_id, duration_ms, cost, error, message, data, error_key)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)

-- name: insert_event_returning_id
INSERT INTO events (ts, type, session_id, task_id, worker_id, duration_ms, cost, error, message, data, error_key)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
RETURNING id

-- name: event_type_exists
SELECT 1 AS found FROM events WHERE type = :type LIMIT 1

-- name: events
SELECT * FROM events WHERE ts >= :since ORDER BY ts DESC, id DESC LIMIT :limit

-- name: events_of_type
SELECT * FROM events WHERE ts >= :since AND type = :type ORDER BY ts DESC, id DESC LIMIT :limit

-- name: events_of_session
SELECT * FROM events WHERE ts >= :since AND session_id = :session_id ORDER BY ts DESC, id DESC LIMIT :limit

-- name: events_of_type_of_session
SELECT * FROM events WHERE ts >= :since AND type = :type AND session_id = :session_id ORDER BY ts DESC, id DESC LIMIT :limit

-- name: delete_events_before
DELETE FROM events WHERE ts < :before
