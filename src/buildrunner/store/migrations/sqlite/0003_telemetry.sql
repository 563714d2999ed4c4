-- Telemetry: a normalised error key (top errors group in SQL) and covering indexes
-- so summaries over a million events aggregate inside the database.
ALTER TABLE events ADD COLUMN error_key TEXT;
CREATE INDEX events_latency ON events (duration_ms, ts, type) WHERE duration_ms IS NOT NULL;
CREATE INDEX events_outcome ON events (session_id, task_id, type, ts) WHERE type IN ('task_completed', 'task_failed');
CREATE INDEX events_error_key ON events (error_key, type, ts) WHERE error_key IS NOT NULL;
