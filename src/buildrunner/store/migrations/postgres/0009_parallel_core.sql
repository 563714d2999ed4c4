-- Parallel core: dependencies as edges, so a result touches only its own dependents (O(edges), not
-- O(tasks) per result); `waiting_on` counts a task's unfinished dependencies. The agent is resolved
-- per task when the session is created. `stalled_at` records that a running session was seen with
-- no live worker (said once in telemetry). `maintenance` schedules housekeeping such as retention.
CREATE TABLE task_deps (
    session_id      TEXT NOT NULL,
    task_id         TEXT NOT NULL,
    depends_on      TEXT NOT NULL,
    PRIMARY KEY (session_id, depends_on, task_id),
    FOREIGN KEY (session_id, task_id) REFERENCES tasks (session_id, task_id) ON DELETE CASCADE
);
ALTER TABLE tasks ADD COLUMN waiting_on BIGINT NOT NULL DEFAULT 0;
ALTER TABLE tasks ADD COLUMN agent_command TEXT;
ALTER TABLE sessions ADD COLUMN stalled_at DOUBLE PRECISION;
CREATE TABLE maintenance (
    job             TEXT PRIMARY KEY,
    last_run        DOUBLE PRECISION NOT NULL
);
INSERT INTO task_deps (session_id, task_id, depends_on)
SELECT t.session_id, t.task_id, j.value FROM tasks t, jsonb_array_elements_text(t.depends_on::jsonb) AS j(value);
UPDATE tasks SET waiting_on = (
    SELECT COUNT(*) FROM task_deps d JOIN tasks u ON u.session_id = d.session_id AND u.task_id = d.depends_on
    WHERE d.session_id = tasks.session_id AND d.task_id = tasks.task_id AND u.status <> 'completed'
) WHERE status = 'blocked';
