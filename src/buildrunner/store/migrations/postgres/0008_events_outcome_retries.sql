-- Success rate and throughput count a failed attempt whose retry is still to come as unfinished,
-- so the outcome index also holds task_retry events (rare: one per retried attempt).
DROP INDEX IF EXISTS events_outcome;
CREATE INDEX events_outcome ON events (session_id, task_id, type, ts) WHERE type IN ('task_completed', 'task_failed', 'task_retry');
