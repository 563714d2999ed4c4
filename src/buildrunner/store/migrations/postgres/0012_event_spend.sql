-- Spend reported on an event outside any session (collect_event({..., "cost": 0.15})) counts in
-- the telemetry totals (queries/telemetry.sql, "Spend"). The index holds only those events, so
-- the parallel runner's events (always in a session) cost ingest nothing; cost_records_task finds
-- a cost record of the same task.
CREATE INDEX events_spend ON events (ts, cost, task_id) WHERE cost > 0 AND session_id IS NULL AND type <> 'model_selected';
CREATE INDEX cost_records_task ON cost_records (task_id, session_id);
