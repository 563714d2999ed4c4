-- Telemetry aggregates. `/*index:NAME*/` after a table pins SQLite to that covering index
-- (it has no statistics to choose it by itself); PostgreSQL reads it as a comment.
-- Every window is `ts >= :since AND ts < :until` (UTC epoch seconds).
-- A finished task in a session is keyed by (session_id, task_id): any task_completed makes it a success
-- (a retried-then-completed task counts once); a task_failed without task_completed is a failure unless a
-- task_retry came with or after it (the task is waiting for its next attempt).
-- Outside a session (events sent by a script or CI job, the spec's EventCollector example) a task id repeats
-- across runs ("nightly-build" every night): each task_completed is a success and each task_failed a failure,
-- unless the task's next event is its task_retry (then the attempt it retries decides).

-- name: task_outcomes
SELECT COUNT(*) AS finished, COALESCE(SUM(ok), 0) AS succeeded
FROM (
    SELECT ok
    FROM (
        SELECT MAX(CASE WHEN type = 'task_completed' THEN 1 ELSE 0 END) AS ok,
               MAX(CASE WHEN type = 'task_failed' THEN ts END) AS failed_at,
               MAX(CASE WHEN type = 'task_retry' THEN ts END) AS retry_at
        FROM events /*index:events_outcome*/
        WHERE type IN ('task_completed', 'task_failed', 'task_retry') AND ts >= :since AND ts < :until AND session_id IS NOT NULL
        GROUP BY session_id, task_id
    ) AS in_sessions
    WHERE ok = 1 OR failed_at > COALESCE(retry_at, 0)
    UNION ALL
    SELECT CASE WHEN type = 'task_completed' THEN 1 ELSE 0 END AS ok
    FROM (
        SELECT type, LEAD(type) OVER (PARTITION BY task_id ORDER BY ts, id) AS next_type
        FROM events /*index:events_outcome*/
        WHERE type IN ('task_completed', 'task_failed', 'task_retry') AND ts >= :since AND ts < :until AND session_id IS NULL
    ) AS runs
    WHERE type = 'task_completed' OR (type = 'task_failed' AND COALESCE(next_type, '') <> 'task_retry')
) AS outcomes

-- name: event_count
SELECT COUNT(*) AS n FROM events WHERE ts >= :since AND ts < :until

-- name: error_count
-- An error is an event with an error message, except a skip, a retry or a failed verify (their "error" is the
-- reason, already counted on the task_failed of the attempt it ended) and a cancel (the session was stopped).
SELECT COUNT(*) AS n FROM events /*index:events_error_key*/
WHERE error_key IS NOT NULL AND type NOT IN ('task_skipped', 'task_retry', 'verify_result', 'task_cancelled') AND ts >= :since AND ts < :until


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
WHERE error_key IS NOT NULL AND type NOT IN ('task_skipped', 'task_retry', 'verify_result', 'task_cancelled') AND ts >= :since AND ts < :until
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

-- Spend (cost_total, cost_by_day, cost_by_model) is the cost records plus each cost given on an
-- event outside any session (`collect_event({..., "cost": 0.15})`, as in the spec). Within a
-- session the spend is its cost records: the parallel runner records every agent call there and
-- also puts the cost on its task events (and a session's total on its session events), so those
-- are not added again. Not counted either: model_selected's cost (an estimate) and an event whose
-- run already has a cost record of its task (one made while it ran: from its duration before the event to ten
-- minutes after; a task id repeats across runs, and last month's record of "nightly-build" is not tonight's).
-- Each query repeats that event arm, and migration 0012's events_spend index its first line: keep them alike.

-- name: event_only_spend
SELECT COALESCE(SUM(e.cost), 0) AS total FROM events e /*index:events_spend*/
WHERE e.cost > 0 AND e.session_id IS NULL AND e.type <> 'model_selected' AND e.ts >= :since AND e.ts < :until
  AND NOT EXISTS (SELECT 1 FROM cost_records c WHERE c.task_id = e.task_id AND c.session_id IS NULL
                      AND c.ts >= e.ts - COALESCE(e.duration_ms, 0) / 1000.0 - 600 AND c.ts <= e.ts + 600)

-- name: cost_total
SELECT COALESCE(SUM(cost), 0) AS total, COUNT(*) AS n FROM (
    SELECT cost FROM cost_records WHERE ts >= :since AND ts < :until
    UNION ALL
    SELECT e.cost FROM events e /*index:events_spend*/
    WHERE e.cost > 0 AND e.session_id IS NULL AND e.type <> 'model_selected' AND e.ts >= :since AND e.ts < :until
      AND NOT EXISTS (SELECT 1 FROM cost_records c WHERE c.task_id = e.task_id AND c.session_id IS NULL
                      AND c.ts >= e.ts - COALESCE(e.duration_ms, 0) / 1000.0 - 600 AND c.ts <= e.ts + 600)
) AS spend

-- name: cost_by_slot
-- Spend per 15-minute UTC slot: the caller puts each slot on its local calendar day (no one offset fits a
-- window that spans a daylight-saving change).
SELECT CAST(ts / 900 AS INTEGER) AS slot, COALESCE(SUM(cost), 0) AS cost
FROM (
    SELECT ts, cost FROM cost_records WHERE ts >= :since AND ts < :until
    UNION ALL
    SELECT e.ts, e.cost FROM events e /*index:events_spend*/
    WHERE e.cost > 0 AND e.session_id IS NULL AND e.type <> 'model_selected' AND e.ts >= :since AND e.ts < :until
      AND NOT EXISTS (SELECT 1 FROM cost_records c WHERE c.task_id = e.task_id AND c.session_id IS NULL
                      AND c.ts >= e.ts - COALESCE(e.duration_ms, 0) / 1000.0 - 600 AND c.ts <= e.ts + 600)
) AS spend
GROUP BY CAST(ts / 900 AS INTEGER)

-- name: cost_by_slot :postgres
SELECT CAST(FLOOR(ts / 900) AS BIGINT) AS slot, COALESCE(SUM(cost), 0) AS cost
FROM (
    SELECT ts, cost FROM cost_records WHERE ts >= :since AND ts < :until
    UNION ALL
    SELECT e.ts, e.cost FROM events e
    WHERE e.cost > 0 AND e.session_id IS NULL AND e.type <> 'model_selected' AND e.ts >= :since AND e.ts < :until
      AND NOT EXISTS (SELECT 1 FROM cost_records c WHERE c.task_id = e.task_id AND c.session_id IS NULL
                      AND c.ts >= e.ts - COALESCE(e.duration_ms, 0) / 1000.0 - 600 AND c.ts <= e.ts + 600)
) AS spend
GROUP BY CAST(FLOOR(ts / 900) AS BIGINT)

-- name: cost_by_model
-- An event's spend is put on the model its metadata names, else on 'unspecified'; it has no tokens.
SELECT model, COALESCE(SUM(cost), 0) AS cost, COUNT(*) AS n,
       COALESCE(SUM(input_tokens), 0) AS input_tokens, COALESCE(SUM(output_tokens), 0) AS output_tokens
FROM (
    SELECT model, cost, input_tokens, output_tokens FROM cost_records WHERE ts >= :since AND ts < :until
    UNION ALL
    SELECT COALESCE(CAST(json_extract(e.data, '$.model') AS TEXT), 'unspecified'), e.cost, 0, 0 FROM events e /*index:events_spend*/
    WHERE e.cost > 0 AND e.session_id IS NULL AND e.type <> 'model_selected' AND e.ts >= :since AND e.ts < :until
      AND NOT EXISTS (SELECT 1 FROM cost_records c WHERE c.task_id = e.task_id AND c.session_id IS NULL
                      AND c.ts >= e.ts - COALESCE(e.duration_ms, 0) / 1000.0 - 600 AND c.ts <= e.ts + 600)
) AS spend
GROUP BY model ORDER BY cost DESC

-- name: cost_by_model :postgres
SELECT model, COALESCE(SUM(cost), 0) AS cost, COUNT(*) AS n,
       COALESCE(SUM(input_tokens), 0) AS input_tokens, COALESCE(SUM(output_tokens), 0) AS output_tokens
FROM (
    SELECT model, cost, input_tokens, output_tokens FROM cost_records WHERE ts >= :since AND ts < :until
    UNION ALL
    SELECT COALESCE(CAST(e.data AS json) ->> 'model', 'unspecified'), e.cost, 0, 0 FROM events e
    WHERE e.cost > 0 AND e.session_id IS NULL AND e.type <> 'model_selected' AND e.ts >= :since AND e.ts < :until
      AND NOT EXISTS (SELECT 1 FROM cost_records c WHERE c.task_id = e.task_id AND c.session_id IS NULL
                      AND c.ts >= e.ts - COALESCE(e.duration_ms, 0) / 1000.0 - 600 AND c.ts <= e.ts + 600)
) AS spend
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

-- name: session_has_events
SELECT 1 AS found FROM events WHERE session_id = :session_id LIMIT 1

-- name: events_of_session
SELECT * FROM events WHERE ts >= :since AND session_id = :session_id ORDER BY ts DESC, id DESC LIMIT :limit

-- name: events_of_type_of_session
SELECT * FROM events WHERE ts >= :since AND type = :type AND session_id = :session_id ORDER BY ts DESC, id DESC LIMIT :limit

-- name: delete_events_before
DELETE FROM events WHERE ts < :before

-- name: events_page
-- `br telemetry export --type events`: the window's events a page at a time, keyset on id.
SELECT * FROM events WHERE ts >= :since AND ts < :until AND id > :after ORDER BY id LIMIT :page

-- name: cost_records_page
SELECT * FROM cost_records WHERE ts >= :since AND ts < :until AND id > :after ORDER BY id LIMIT :page

-- name: lost_workers
SELECT COUNT(*) AS n FROM events WHERE type = 'worker_lost' AND ts >= :since AND ts < :until

-- name: alert_refire
-- An alert rule still firing: keep its first-triggered time; it triggered again only when what it measures
-- moved (new data, another level), not because someone looked again. (SET reads the row as it was.)
UPDATE alerts SET level = :level, title = :title, message = :message, current_value = :current,
       threshold = :threshold, last_triggered = :now,
       trigger_count = trigger_count + CASE
           WHEN level <> :level OR COALESCE(current_value, -1) <> COALESCE(CAST(:current AS DOUBLE PRECISION), -1) THEN 1 ELSE 0 END
WHERE key = :key AND resolved_at IS NULL

-- name: alert_forget
DELETE FROM alerts WHERE key = :key

-- name: alert_open
INSERT INTO alerts (key, level, title, message, current_value, threshold, first_triggered, last_triggered, trigger_count)
VALUES (:key, :level, :title, :message, :current, :threshold, :now, :now, 1)

-- name: alert_active_keys
SELECT key FROM alerts WHERE resolved_at IS NULL

-- name: alert_resolve
UPDATE alerts SET resolved_at = :now WHERE key = :key AND resolved_at IS NULL

-- name: alert_list
-- :all_states 1 includes resolved alerts; a NULL :level means every level.
SELECT * FROM alerts
WHERE (:all_states = 1 OR resolved_at IS NULL) AND (CAST(:level AS TEXT) IS NULL OR level = :level)
ORDER BY last_triggered DESC, key

-- name: otlp_task_usage
-- The cost records of tasks, for the task spans: each attempt's are those written while it ran (a task's attempts
-- run one after another). A day before the window too, so an attempt that started before the window finds its own.
SELECT session_id, task_id, ts, COALESCE(model_id, model) AS model, agent, input_tokens, output_tokens, cost
FROM cost_records WHERE task_id IS NOT NULL AND ts >= :since - 86400 AND ts < :until
ORDER BY ts

-- name: otlp_attempt_times
-- When each stored attempt ran (its agent, its verify and its checks): the cost records between are that attempt's.
SELECT session_id, task_id, attempt, started_at, finished_at FROM task_attempts
WHERE finished_at IS NOT NULL AND finished_at >= :since - 86400 AND started_at < :until

-- name: otlp_finished_attempts
SELECT e.*, s.name AS session_name, s.status AS session_status
FROM events e LEFT JOIN sessions s ON s.id = e.session_id
WHERE e.type IN ('task_completed', 'task_failed') AND e.ts >= :since AND e.ts < :until
ORDER BY e.ts, e.id

-- name: otlp_cost_records
SELECT model, model_id, agent, input_tokens, output_tokens, cost, latency_ms FROM cost_records WHERE ts >= :since AND ts < :until

-- name: otlp_attempt_durations
SELECT type, duration_ms FROM events
WHERE duration_ms IS NOT NULL AND type IN ('task_completed', 'task_failed') AND ts >= :since AND ts < :until
