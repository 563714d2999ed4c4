-- Parallel sessions: every statement the session manager and the worker coordinator run.

-- name: insert_session
INSERT INTO sessions (id, name, status, plan, project_root, total_tasks, num_workers, cost_limit,
                      created_at, started_at, updated_at)
VALUES (:id, :name, 'running', :plan, :project_root, :total_tasks, :num_workers, :cost_limit, :now, :now, :now)

-- name: insert_task
INSERT INTO tasks (session_id, task_id, position, description, kind, command, prompt, model, depends_on,
                   timeout, max_retries, env, cwd, isolation, status, cost_limit)
VALUES (:session_id, :task_id, :position, :description, :kind, :command, :prompt, :model, :depends_on,
        :timeout, :max_retries, :env, :cwd, :isolation, :status, :cost_limit)

-- name: get_session
SELECT * FROM sessions WHERE id = :session_id

-- name: find_sessions_by_prefix
SELECT id FROM sessions WHERE id LIKE :prefix ORDER BY created_at DESC LIMIT 2

-- name: current_session
SELECT id FROM sessions ORDER BY CASE WHEN status IN ('running', 'paused') THEN 0 ELSE 1 END, created_at DESC LIMIT 1

-- name: list_sessions
SELECT s.*,
       (SELECT COUNT(*) FROM tasks t WHERE t.session_id = s.id AND t.status = 'completed') AS completed_tasks,
       (SELECT COUNT(*) FROM workers w WHERE w.session_id = s.id AND w.status IN ('active', 'idle')) AS live_workers
FROM sessions s
ORDER BY s.created_at DESC

-- name: task_counts
SELECT status, COUNT(*) AS n, COALESCE(SUM(cost), 0) AS cost FROM tasks WHERE session_id = :session_id GROUP BY status

-- name: set_session_status
UPDATE sessions SET status = :status, status_reason = :reason, updated_at = :now,
       finished_at = CASE WHEN :status IN ('completed', 'failed', 'stopped') THEN :now ELSE finished_at END,
       stop_grace = :stop_grace
WHERE id = :session_id AND status = :from_status

-- name: claim_task
UPDATE tasks SET status = 'running', worker_id = :worker_id, attempts = attempts + 1,
       claimed_at = :now, started_at = :now, finished_at = NULL, exit_code = NULL, error = NULL
WHERE session_id = :session_id AND task_id = (
    SELECT task_id FROM tasks
    WHERE session_id = :session_id AND status = 'pending' AND (not_before IS NULL OR not_before <= {clock})
      AND EXISTS (SELECT 1 FROM sessions WHERE id = :session_id AND status = 'running')
      AND EXISTS (SELECT 1 FROM workers WHERE id = :worker_id AND status IN ('active', 'idle'))
    ORDER BY position LIMIT 1)
RETURNING *

-- name: claim_task :postgres
UPDATE tasks SET status = 'running', worker_id = :worker_id, attempts = attempts + 1,
       claimed_at = :now, started_at = :now, finished_at = NULL, exit_code = NULL, error = NULL
WHERE session_id = :session_id AND task_id = (
    SELECT task_id FROM tasks
    WHERE session_id = :session_id AND status = 'pending' AND (not_before IS NULL OR not_before <= {clock})
      AND EXISTS (SELECT 1 FROM sessions WHERE id = :session_id AND status = 'running')
      AND EXISTS (SELECT 1 FROM workers WHERE id = :worker_id AND status IN ('active', 'idle'))
    ORDER BY position LIMIT 1
    FOR UPDATE SKIP LOCKED)
RETURNING *

-- name: insert_attempt
INSERT INTO task_attempts (session_id, task_id, attempt, worker_id, status, started_at, log_path)
VALUES (:session_id, :task_id, :attempt, :worker_id, 'running', :now, :log_path)

-- name: finish_task
UPDATE tasks SET status = :status, finished_at = :now, exit_code = :exit_code, error = :error,
       cost = cost + :cost, selected_model = COALESCE(:model, selected_model)
WHERE session_id = :session_id AND task_id = :task_id AND attempts = :attempt
  AND worker_id = :worker_id AND status = 'running'

-- name: requeue_task
-- A retry waits `delay` seconds by the database's clock (none when delay is NULL).
UPDATE tasks SET status = 'pending', not_before = {clock} + :delay, error = :error, exit_code = :exit_code,
       cost = cost + :cost, worker_id = NULL
WHERE session_id = :session_id AND task_id = :task_id AND attempts = :attempt
  AND worker_id = :worker_id AND status = 'running'

-- name: unclaim_task
UPDATE tasks SET status = 'pending', attempts = attempts - 1, worker_id = NULL
WHERE session_id = :session_id AND task_id = :task_id AND attempts = :attempt
  AND worker_id = :worker_id AND status = 'running'

-- name: delete_attempt
DELETE FROM task_attempts WHERE session_id = :session_id AND task_id = :task_id AND attempt = :attempt

-- name: finish_attempt
UPDATE task_attempts SET status = :status, finished_at = :now, exit_code = :exit_code, error = :error,
       duration_ms = :duration_ms, cost = :cost, model = :model, pid = :pid
WHERE session_id = :session_id AND task_id = :task_id AND attempt = :attempt AND status = 'running'

-- name: lost_attempts
SELECT COUNT(*) AS n FROM task_attempts WHERE session_id = :session_id AND task_id = :task_id AND status = 'lost'

-- name: blocked_tasks
SELECT task_id, depends_on FROM tasks WHERE session_id = :session_id AND status = 'blocked'

-- name: dependent_task
SELECT task_id FROM tasks WHERE session_id = :session_id AND depends_on <> '[]' LIMIT 1

-- name: completed_among
SELECT task_id FROM tasks WHERE session_id = :session_id AND status = 'completed'

-- name: set_task_status
UPDATE tasks SET status = :status, error = :error, finished_at = :finished_at
WHERE session_id = :session_id AND task_id = :task_id AND status = :from_status

-- name: retries_waiting
SELECT task_id, attempts FROM tasks WHERE session_id = :session_id AND status = 'pending' AND attempts > 0

-- name: cancel_waiting_tasks
UPDATE tasks SET status = 'cancelled', error = :error, finished_at = :now
WHERE session_id = :session_id AND status IN ('pending', 'blocked')

-- name: unfinished_task
SELECT task_id FROM tasks WHERE session_id = :session_id AND status IN ('pending', 'blocked', 'running') LIMIT 1

-- name: running_tasks_of_worker
SELECT task_id, attempts FROM tasks WHERE session_id = :session_id AND worker_id = :worker_id AND status = 'running'

-- name: next_ready_in
SELECT MIN(not_before) - {clock} AS seconds FROM tasks WHERE session_id = :session_id AND status = 'pending'

-- name: get_task
SELECT * FROM tasks WHERE session_id = :session_id AND task_id = :task_id

-- name: list_tasks
SELECT * FROM tasks WHERE session_id = :session_id ORDER BY position

-- name: task_attempts
SELECT * FROM task_attempts WHERE session_id = :session_id AND task_id = :task_id ORDER BY attempt

-- name: recent_attempts
SELECT a.task_id, a.attempt, a.status, a.started_at, a.finished_at, a.error, a.cost,
       COALESCE(w.name, a.worker_id) AS worker
FROM task_attempts a LEFT JOIN workers w ON w.id = a.worker_id
WHERE a.session_id = :session_id
ORDER BY COALESCE(a.finished_at, a.started_at) DESC, a.id DESC
LIMIT :limit

-- name: recent_failures
SELECT task_id, status, error, attempts, finished_at FROM tasks
WHERE session_id = :session_id AND status IN ('failed', 'skipped')
ORDER BY finished_at DESC LIMIT :limit

-- name: completed_durations
SELECT COUNT(*) AS n, COALESCE(MIN(started_at), 0) AS first_start, COALESCE(MAX(finished_at), 0) AS last_finish
FROM task_attempts WHERE session_id = :session_id AND status = 'completed'

-- name: insert_worker
INSERT INTO workers (id, session_id, name, hostname, pid, process_started, status, started_at, last_heartbeat)
VALUES (:id, :session_id, :name, :hostname, :pid, :process_started, 'idle', {clock}, {clock})

-- name: count_workers
SELECT COUNT(*) AS n FROM workers WHERE session_id = :session_id

-- name: get_worker
SELECT * FROM workers WHERE id = :worker_id

-- name: list_workers
SELECT * FROM workers WHERE session_id = :session_id ORDER BY started_at, name

-- name: live_workers
SELECT * FROM workers WHERE session_id = :session_id AND status IN ('active', 'idle')

-- name: worker_busy
UPDATE workers SET status = 'active', current_task = :task_id, last_heartbeat = {clock} WHERE id = :worker_id

-- name: worker_idle
UPDATE workers SET status = 'idle', current_task = NULL, last_heartbeat = {clock},
       tasks_completed = tasks_completed + :completed
WHERE id = :worker_id AND status IN ('active', 'idle')

-- name: heartbeat
UPDATE workers SET last_heartbeat = {clock}, cpu_seconds = :cpu_seconds,
       peak_rss_bytes = CASE WHEN peak_rss_bytes > :peak_rss_bytes THEN peak_rss_bytes ELSE :peak_rss_bytes END
WHERE id = :worker_id AND status IN ('active', 'idle')

-- name: worker_control
SELECT w.status AS worker_status, s.status AS session_status, s.stop_grace
FROM workers w JOIN sessions s ON s.id = w.session_id WHERE w.id = :worker_id

-- name: mark_worker
UPDATE workers SET status = :status, stopped_at = {clock}, current_task = NULL
WHERE id = :worker_id AND status IN ('active', 'idle')

-- name: old_sessions
SELECT id FROM sessions WHERE status IN ('completed', 'failed', 'stopped') AND (:all = 1 OR created_at < :before)

-- name: delete_session
DELETE FROM sessions WHERE id = :session_id

-- name: session_cost
SELECT COALESCE(SUM(cost), 0) AS cost FROM task_attempts WHERE session_id = :session_id

-- name: lock_session
SELECT id, status FROM sessions WHERE id = :session_id

-- name: lock_session :postgres
SELECT id, status FROM sessions WHERE id = :session_id FOR UPDATE

-- name: share_session
SELECT id, status FROM sessions WHERE id = :session_id

-- name: share_session :postgres
SELECT id, status FROM sessions WHERE id = :session_id FOR SHARE
