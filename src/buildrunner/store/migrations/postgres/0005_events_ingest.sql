-- Faster event ingest: one index serves by-type listing and the latency queries
-- (type IN (...) AND ts window, covering duration_ms), so events_latency and events_type_ts go.
DROP INDEX IF EXISTS events_latency;
DROP INDEX IF EXISTS events_type_ts;
CREATE INDEX events_type_ts_duration ON events (type, ts, duration_ms);
