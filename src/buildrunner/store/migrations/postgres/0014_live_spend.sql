-- Shared spend caps (issue 12): a running agent's cost so far (task_attempts.cost) counts against the
-- budgets until the cost tracker has recorded it in cost_records; cost_recorded says it has, so the
-- same dollars are not counted twice while the attempt's verify and landing run. Running attempts
-- are found by a partial index (every running agent reads them several times a second).
ALTER TABLE task_attempts ADD COLUMN cost_recorded INTEGER NOT NULL DEFAULT 0;
CREATE INDEX task_attempts_running ON task_attempts (session_id) WHERE status = 'running';
