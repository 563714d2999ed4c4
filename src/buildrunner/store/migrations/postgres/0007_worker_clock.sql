-- Worker times (started_at, last_heartbeat, stopped_at) are now by the database's clock, which
-- machines sharing a session agree on. A pid is matched to its process by the process's own start
-- time on its host, kept here, so a reused pid is never taken for a live worker.
ALTER TABLE workers ADD COLUMN process_started DOUBLE PRECISION;
