-- Spend reported only on an event (collect_event({..., "cost": 0.15})) counts in the telemetry
-- totals unless a cost record of the same task holds it (queries/telemetry.sql, "Spend").
-- These two indexes keep that rule cheap: the events that carry a cost, and cost records by task.
CREATE INDEX events_spend ON events (ts, cost, session_id, task_id) WHERE cost > 0
    AND type NOT IN ('model_selected', 'session_started', 'session_paused', 'session_resumed', 'session_stopped', 'session_completed');
CREATE INDEX cost_records_task ON cost_records (task_id, session_id);
