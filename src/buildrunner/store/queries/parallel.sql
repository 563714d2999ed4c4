-- Parallel sessions. Every write here is made by WorkerCoordinator, the one owner of session, task,
-- attempt and worker state; each state change is a compare-and-set on the stored state (and for a
-- task on the worker and attempt holding it), so a move whose state has moved on changes nothing.

-- name: insert_session
INSERT INTO sessions (id, name, status, plan, project_root, total_tasks, num_workers, cost_limit,
                      created_at, started_at, updated_at, base_branch, base_commit, setup, merge_on_pass, prompts_held)
VALUES (:id, :name, 'running', :plan, :project_root, :total_tasks, :num_workers, :cost_limit, :now, :now, :now,
        :base_branch, :base_commit, :setup, :merge_on_pass, :prompts_held)

-- name: insert_task
INSERT INTO tasks (session_id, task_id, position, description, kind, command, prompt, model, depends_on,
                   timeout, max_retries, env, cwd, isolation, status, cost_limit, waiting_on, agent_command,
                   agent, verify, escalate)
VALUES (:session_id, :task_id, :position, :description, :kind, :command, :prompt, :model, :depends_on,
        :timeout, :max_retries, :env, :cwd, :isolation, :status, :cost_limit, :waiting_on, :agent_command,
        :agent, :verify, :escalate)

-- name: insert_dep
INSERT INTO task_deps (session_id, task_id, depends_on) VALUES (:session_id, :task_id, :depends_on)

-- name: get_session
SELECT * FROM sessions WHERE id = :session_id

-- name: find_sessions_by_prefix
SELECT id FROM sessions WHERE id LIKE :prefix ORDER BY created_at DESC LIMIT 3

-- name: find_session_by_name
-- The session a name stands for: the running or paused one of that name, else its latest.
SELECT id FROM sessions WHERE name = :name
ORDER BY CASE WHEN status IN ('running', 'paused') THEN 0 ELSE 1 END, created_at DESC LIMIT 1

-- name: lock_session_name
-- Two starts of one name (its branch component) must not both see no live session of it. SQLite's write transaction (BEGIN IMMEDIATE)
-- already keeps them apart; PostgreSQL takes a lock on the name, held to the end of the transaction.
SELECT 1 AS locked

-- name: lock_session_name :postgres
SELECT 1 AS locked FROM (SELECT pg_advisory_xact_lock(7243002, hashtext(:name))) AS name_lock

-- name: live_sessions
-- Running or paused sessions: a new one may not share a name (or the branches a name gives) with them.
SELECT id, name, status FROM sessions WHERE status IN ('running', 'paused') ORDER BY created_at DESC

-- name: current_session
SELECT id FROM sessions ORDER BY CASE WHEN status IN ('running', 'paused') THEN 0 ELSE 1 END, created_at DESC LIMIT 1

-- name: list_sessions
SELECT s.*,
       (SELECT COUNT(*) FROM tasks t WHERE t.session_id = s.id AND t.status = 'completed') AS completed_tasks,
       (SELECT COUNT(*) FROM workers w WHERE w.session_id = s.id) AS workers_ran,
       (SELECT COUNT(*) FROM workers w WHERE w.session_id = s.id AND w.status IN ('active', 'idle')) AS workers_registered_live
FROM sessions s
ORDER BY s.created_at DESC

-- name: task_counts
SELECT status, COUNT(*) AS n, COALESCE(SUM(cost), 0) AS cost FROM tasks WHERE session_id = :session_id GROUP BY status

-- name: next_retry
-- When the soonest waiting retry may start (a task back off after a failure): NULL when none waits for its time.
SELECT MIN(not_before) AS at FROM tasks WHERE session_id = :session_id AND status = 'pending' AND not_before > :now

-- name: set_session_status
UPDATE sessions SET status = :status, status_reason = :reason, updated_at = :now,
       finished_at = CASE WHEN :status IN ('completed', 'failed', 'stopped') THEN :now ELSE finished_at END,
       stop_grace = :stop_grace
WHERE id = :session_id AND status = :from_status

-- name: set_prompts_held
-- Why prompt tasks wait (a spent budget), or NULL to let them run again; shell tasks are not held.
UPDATE sessions SET prompts_held = :reason WHERE id = :session_id

-- name: runnable_count
-- Tasks that can still move while prompt tasks are held: running ones, and pending ones that are not prompts.
-- A blocked task moves only when its dependencies finish, and each of those is counted here itself (running or
-- pending) or is a held prompt: counting blocked shell tasks kept a session whose only shell task waits for a
-- held prompt running for ever, its workers idle and `--wait` never returning.
SELECT COUNT(*) AS n FROM tasks
WHERE session_id = :session_id AND (status = 'running' OR (status = 'pending' AND kind <> 'prompt'))

-- name: task_ladder
-- A task's attempts, in order: the rungs it climbed (tier, model, cost, how each ended).
SELECT attempt, status, tier, model, agent, cost, outcome, error, verify_exit, branch, commit_sha, worktree, turns, last_action,
       started_at, finished_at, log_path
FROM task_attempts WHERE session_id = :session_id AND task_id = :task_id ORDER BY attempt

-- name: session_ladders
-- Every task's attempts at once (a session listing reads them all: one query, not one per task).
SELECT task_id, attempt, status, tier, model, agent, cost, outcome, error, verify_exit, branch, commit_sha, worktree, turns, last_action,
       started_at, finished_at, log_path
FROM task_attempts WHERE session_id = :session_id ORDER BY task_id, attempt

-- name: keep_routing_estimate
-- The estimate routing picked a prompt task's first tier on: kept once, whichever attempt routed it.
UPDATE tasks SET routing_estimate = :estimate
WHERE session_id = :session_id AND task_id = :task_id AND routing_estimate IS NULL

-- name: task_routing_estimate
SELECT routing_estimate FROM tasks WHERE session_id = :session_id AND task_id = :task_id

-- name: running_prompt_attempts
-- What each running prompt task's agent is doing (for status and the dashboard).
SELECT a.task_id, a.attempt, a.agent, a.tier, a.model, a.turns, a.last_action, a.cost, a.started_at
FROM task_attempts a JOIN tasks t ON t.session_id = a.session_id AND t.task_id = a.task_id
WHERE a.session_id = :session_id AND a.status = 'running' AND t.kind = 'prompt'
ORDER BY a.started_at

-- name: mark_stalled
-- Once per stall: cleared when a worker registers.
UPDATE sessions SET stalled_at = :now WHERE id = :session_id AND status = 'running' AND stalled_at IS NULL

-- name: clear_stalled
UPDATE sessions SET stalled_at = NULL WHERE id = :session_id AND stalled_at IS NOT NULL

-- name: claim_task
UPDATE tasks SET status = 'running', worker_id = :worker_id, attempts = attempts + 1,
       claimed_at = :now, started_at = :now, finished_at = NULL, exit_code = NULL, error = NULL
WHERE session_id = :session_id AND task_id = (
    SELECT task_id FROM tasks
    WHERE session_id = :session_id AND status = 'pending' AND (not_before IS NULL OR not_before <= {clock})
      AND EXISTS (SELECT 1 FROM sessions s WHERE s.id = :session_id AND s.status = 'running' AND (kind <> 'prompt' OR s.prompts_held IS NULL))
      AND EXISTS (SELECT 1 FROM workers WHERE id = :worker_id AND status IN ('active', 'idle'))
    ORDER BY position LIMIT 1)
RETURNING *

-- name: claim_task :postgres
UPDATE tasks SET status = 'running', worker_id = :worker_id, attempts = attempts + 1,
       claimed_at = :now, started_at = :now, finished_at = NULL, exit_code = NULL, error = NULL
WHERE session_id = :session_id AND task_id = (
    SELECT task_id FROM tasks
    WHERE session_id = :session_id AND status = 'pending' AND (not_before IS NULL OR not_before <= {clock})
      AND EXISTS (SELECT 1 FROM sessions s WHERE s.id = :session_id AND s.status = 'running' AND (kind <> 'prompt' OR s.prompts_held IS NULL))
      AND EXISTS (SELECT 1 FROM workers WHERE id = :worker_id AND status IN ('active', 'idle'))
    ORDER BY position LIMIT 1
    FOR UPDATE SKIP LOCKED)
RETURNING *

-- name: insert_attempt
INSERT INTO task_attempts (session_id, task_id, attempt, worker_id, status, started_at, log_path)
VALUES (:session_id, :task_id, :attempt, :worker_id, 'running', :now, :log_path)

-- name: finish_task
-- running -> completed | failed | cancelled, only by the worker and attempt holding the task.
UPDATE tasks SET status = :status, finished_at = :now, exit_code = :exit_code, error = :error,
       cost = cost + :cost, selected_model = COALESCE(:model, selected_model)
WHERE session_id = :session_id AND task_id = :task_id AND attempts = :attempt
  AND worker_id = :worker_id AND status = 'running'

-- name: requeue_task
-- running -> pending for another attempt, `delay` seconds from now by the database's clock (none when NULL);
-- with a tier to climb to and what the failed attempt's check said, for the next attempt of a prompt task;
-- with the attempt whose work the next one adopts and checks (a lost worker's exited task), else none.
UPDATE tasks SET status = 'pending', not_before = {clock} + :delay, error = :error, exit_code = :exit_code,
       cost = cost + :cost, worker_id = NULL, next_tier = COALESCE(:next_tier, next_tier), context = COALESCE(:context, context),
       adopt_attempt = :adopt_attempt
WHERE session_id = :session_id AND task_id = :task_id AND attempts = :attempt
  AND worker_id = :worker_id AND status = 'running'

-- name: unclaim_task
-- running -> pending, handed back untried: the attempt does not count.
UPDATE tasks SET status = 'pending', attempts = attempts - 1, worker_id = NULL
WHERE session_id = :session_id AND task_id = :task_id AND attempts = :attempt
  AND worker_id = :worker_id AND status = 'running'

-- name: delete_attempt
DELETE FROM task_attempts WHERE session_id = :session_id AND task_id = :task_id AND attempt = :attempt

-- name: finish_attempt
-- Agent, tier and model keep what the attempt's live progress recorded when the one ending it does not know them (a reaper).
UPDATE task_attempts SET status = :status, finished_at = :now, exit_code = :exit_code, error = :error,
       duration_ms = :duration_ms, cost = :cost, model = COALESCE(:model, model), pid = :pid,
       agent = COALESCE(:agent, agent), tier = COALESCE(:tier, tier), outcome = :outcome, verify_exit = :verify_exit,
       branch = :branch, commit_sha = :commit_sha, worktree = :worktree,
       turns = COALESCE(:turns, turns), last_action = COALESCE(:last_action, last_action)
WHERE session_id = :session_id AND task_id = :task_id AND attempt = :attempt AND status = 'running'

-- name: adoptable_attempt
-- The attempt whose exited work a task's next attempt adopts: where it ran (the work is on that machine), on what tier,
-- and whether its agent's spend is in cost_records already (recorded by it, or by an earlier attempt that adopted it).
SELECT a.worker_id, a.tier, w.hostname, w.machine,
       (SELECT MAX(b.cost_recorded) FROM task_attempts b
        WHERE b.session_id = a.session_id AND b.task_id = a.task_id AND b.attempt >= a.attempt) AS cost_recorded
FROM task_attempts a LEFT JOIN workers w ON w.id = a.worker_id
WHERE a.session_id = :session_id AND a.task_id = :task_id AND a.attempt = :adopt_attempt

-- name: forget_adoption
-- The work to adopt is out of this worker's reach (another machine's, or gone): the attempt runs afresh.
UPDATE tasks SET adopt_attempt = NULL
WHERE session_id = :session_id AND task_id = :task_id AND attempts = :attempt AND worker_id = :worker_id AND status = 'running'

-- name: attempt_progress
-- An agent's live progress on its running attempt (turns, last action, cost so far), for status and the dashboard.
UPDATE task_attempts SET agent = :agent, tier = :tier, model = :model, turns = :turns, last_action = :last_action, cost = :cost
WHERE session_id = :session_id AND task_id = :task_id AND attempt = :attempt AND status = 'running'

-- name: lost_attempts
-- Since the task was last retried by hand (retry_from).
SELECT COUNT(*) AS n FROM task_attempts a JOIN tasks t ON t.session_id = a.session_id AND t.task_id = a.task_id
WHERE a.session_id = :session_id AND a.task_id = :task_id AND a.status = 'lost' AND a.attempt > t.retry_from

-- name: unblock_dependents
-- One finished dependency fewer for each task waiting on :task_id; those left waiting on none become claimable.
-- (SET reads the row as it was, so `waiting_on = 1` means "this was its last one".)
UPDATE tasks SET waiting_on = waiting_on - 1,
       status = CASE WHEN waiting_on = 1 AND status = 'blocked' THEN 'pending' ELSE status END
WHERE session_id = :session_id
  AND task_id IN (SELECT task_id FROM task_deps WHERE session_id = :session_id AND depends_on = :task_id)

-- name: skip_dependents
-- blocked -> skipped for every task that depends on :task_id, directly or through others.
WITH RECURSIVE doomed(task_id) AS (
    SELECT task_id FROM task_deps WHERE session_id = :session_id AND depends_on = :task_id
    UNION
    SELECT d.task_id FROM task_deps d JOIN doomed ON d.depends_on = doomed.task_id WHERE d.session_id = :session_id
)
UPDATE tasks SET status = 'skipped', finished_at = :now,
       error = CASE WHEN EXISTS (SELECT 1 FROM task_deps d WHERE d.session_id = :session_id AND d.task_id = tasks.task_id
                                 AND d.depends_on = :task_id) THEN :error ELSE :error || ' (upstream)' END
WHERE session_id = :session_id AND status = 'blocked' AND task_id IN (SELECT task_id FROM doomed)
RETURNING task_id, error

-- name: has_dependencies
SELECT 1 AS found FROM task_deps WHERE session_id = :session_id LIMIT 1

-- name: retries_waiting
SELECT task_id, attempts FROM tasks WHERE session_id = :session_id AND status = 'pending' AND attempts > 0

-- name: retry_failed_tasks
-- failed -> pending, retried by hand: the failures and the spend so far no longer count against its retries and its
-- max_cost, and it runs afresh (no earlier attempt's unchecked work is adopted).
UPDATE tasks SET status = 'pending', retry_from = attempts, not_before = NULL, finished_at = NULL, worker_id = NULL, adopt_attempt = NULL
WHERE session_id = :session_id AND status = 'failed'
RETURNING task_id, attempts

-- name: rerun_cancelled_tasks
-- cancelled -> pending (or blocked while a dependency has not completed: waiting_on counts the unfinished ones), in a
-- stopped session resumed with --retry-failed: afresh, with its retries anew, as a failed task retried.
UPDATE tasks SET status = CASE WHEN waiting_on > 0 THEN 'blocked' ELSE 'pending' END, retry_from = attempts, not_before = NULL,
       finished_at = NULL, worker_id = NULL, adopt_attempt = NULL, error = NULL
WHERE session_id = :session_id AND status = 'cancelled'
RETURNING task_id, attempts

-- name: unskip_tasks
-- skipped -> blocked: the failed dependency it was skipped for is retried (waiting_on still counts it).
UPDATE tasks SET status = 'blocked', finished_at = NULL, error = NULL
WHERE session_id = :session_id AND status = 'skipped'
RETURNING task_id

-- name: reopen_session
-- failed or stopped -> running, for its tasks retried by hand: its run (elapsed time, ETA) starts again now.
UPDATE sessions SET status = 'running', status_reason = NULL, finished_at = NULL, updated_at = :now, started_at = :now, stop_grace = NULL
WHERE id = :session_id AND status IN ('failed', 'stopped')

-- name: cancel_waiting_tasks
UPDATE tasks SET status = 'cancelled', error = :error, finished_at = :now
WHERE session_id = :session_id AND status IN ('pending', 'blocked')

-- name: unfinished_task
SELECT task_id FROM tasks WHERE session_id = :session_id AND status IN ('pending', 'blocked', 'running') LIMIT 1

-- name: unfinished_count
SELECT COUNT(*) AS n FROM tasks WHERE session_id = :session_id AND status IN ('pending', 'blocked', 'running')

-- name: orphaned_attempts
-- Running tasks whose worker has been declared lost: their attempts wait for a reaper to settle them.
SELECT t.task_id, t.attempts, t.worker_id, w.hostname, w.machine, w.last_heartbeat
FROM tasks t JOIN workers w ON w.id = t.worker_id
WHERE t.session_id = :session_id AND t.status = 'running' AND w.status = 'lost'

-- name: next_ready_in
SELECT MIN(not_before) - {clock} AS seconds FROM tasks WHERE session_id = :session_id AND status = 'pending'

-- name: get_task
SELECT * FROM tasks WHERE session_id = :session_id AND task_id = :task_id

-- name: list_tasks
SELECT * FROM tasks WHERE session_id = :session_id ORDER BY position

-- name: task_attempts
SELECT * FROM task_attempts WHERE session_id = :session_id AND task_id = :task_id ORDER BY attempt

-- name: attempt_changes
-- Attempts started or finished since :since (for progress lines), oldest first.
SELECT a.task_id, a.attempt, a.tier, a.status, a.started_at, a.finished_at, a.error, COALESCE(w.name, a.worker_id) AS worker,
       t.status AS task_status, t.attempts AS task_attempts
FROM task_attempts a LEFT JOIN workers w ON w.id = a.worker_id JOIN tasks t ON t.session_id = a.session_id AND t.task_id = a.task_id
WHERE a.session_id = :session_id AND (a.started_at > :since OR a.finished_at > :since)
ORDER BY COALESCE(a.finished_at, a.started_at), a.id

-- name: recent_attempts
SELECT a.task_id, a.attempt, a.tier, a.status, a.started_at, a.finished_at, a.error, a.cost,
       COALESCE(w.name, a.worker_id) AS worker, t.status AS task_status, t.attempts AS task_attempts
FROM task_attempts a LEFT JOIN workers w ON w.id = a.worker_id JOIN tasks t ON t.session_id = a.session_id AND t.task_id = a.task_id
WHERE a.session_id = :session_id
ORDER BY COALESCE(a.finished_at, a.started_at) DESC, a.id DESC
LIMIT :limit

-- name: recent_failures
SELECT task_id, status, error, attempts, finished_at FROM tasks
WHERE session_id = :session_id AND status IN ('failed', 'skipped')
ORDER BY finished_at DESC LIMIT :limit

-- name: insert_worker
INSERT INTO workers (id, session_id, name, hostname, machine, pid, process_started, status, started_at, last_heartbeat)
VALUES (:id, :session_id, :name, :hostname, :machine, :pid, :process_started, 'idle', {clock}, {clock})

-- name: count_workers
SELECT COUNT(*) AS n FROM workers WHERE session_id = :session_id

-- name: get_worker
SELECT * FROM workers WHERE id = :worker_id

-- name: list_workers
SELECT * FROM workers WHERE session_id = :session_id ORDER BY started_at, name

-- name: live_workers
SELECT * FROM workers WHERE session_id = :session_id AND status IN ('active', 'idle')

-- name: worker_busy
UPDATE workers SET status = 'active', current_task = :task_id, last_heartbeat = {clock}
WHERE id = :worker_id AND status IN ('active', 'idle')

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
-- Only while it is still finished: a failed session retried meanwhile runs again.
DELETE FROM sessions WHERE id = :session_id AND status IN ('completed', 'failed', 'stopped')

-- name: session_cost
SELECT COALESCE(SUM(cost), 0) AS cost FROM task_attempts WHERE session_id = :session_id

-- name: task_cost_since_retry
-- What a task's attempts before :attempt spent since it was last retried by hand: what its max_cost leaves it.
SELECT COALESCE(SUM(a.cost), 0) AS cost FROM task_attempts a JOIN tasks t ON t.session_id = a.session_id AND t.task_id = a.task_id
WHERE a.session_id = :session_id AND a.task_id = :task_id AND a.attempt > t.retry_from AND a.attempt < :attempt

-- name: checkout_neighbours
-- How many other attempts ran in the shared checkout while :task_id's attempt :attempt ran (since it started and
-- still running, or ended after it began): what one of them wrote is in this attempt's changes too.
SELECT COUNT(*) AS n FROM task_attempts o JOIN tasks t ON t.session_id = o.session_id AND t.task_id = o.task_id
JOIN task_attempts me ON me.session_id = o.session_id AND me.task_id = :task_id AND me.attempt = :attempt
WHERE o.session_id = :session_id AND o.task_id <> :task_id AND COALESCE(t.isolation, '') <> 'worktree'
  AND (o.finished_at IS NULL OR o.finished_at > me.started_at)

-- name: previous_attempt_cost
-- What the task's attempt before :attempt spent (since it was last retried by hand): the least the next is likely to need.
SELECT COALESCE(MAX(a.cost), 0) AS cost FROM task_attempts a JOIN tasks t ON t.session_id = a.session_id AND t.task_id = a.task_id
WHERE a.session_id = :session_id AND a.task_id = :task_id AND a.attempt > t.retry_from AND a.attempt = :attempt - 1

-- name: session_cost_except
-- The session's spend, recorded and live (running attempts' cost so far), but for one attempt: what its session cap leaves it.
SELECT COALESCE(SUM(cost), 0) AS cost FROM task_attempts
WHERE session_id = :session_id AND NOT (task_id = :task_id AND attempt = :attempt)

-- name: running_cost_except
-- Live cost so far of every running attempt (of live sessions) but one, not yet in cost_records: spend the budgets
-- would otherwise see only when it is recorded.
SELECT COALESCE(SUM(a.cost), 0) AS cost FROM task_attempts a JOIN sessions s ON s.id = a.session_id
WHERE a.status = 'running' AND a.cost_recorded = 0 AND s.status IN ('running', 'paused')
  AND NOT (a.session_id = :session_id AND a.task_id = :task_id AND a.attempt = :attempt)

-- name: attempt_cost_recorded
-- The attempt's cost is in cost_records now: the budgets count it there, not as live spend.
UPDATE task_attempts SET cost = :cost, cost_recorded = 1
WHERE session_id = :session_id AND task_id = :task_id AND attempt = :attempt AND status = 'running'

-- name: attempt_spend
-- A settled attempt's live spend and whether the cost tracker already holds it.
SELECT cost, cost_recorded, model, tier, agent FROM task_attempts
WHERE session_id = :session_id AND task_id = :task_id AND attempt = :attempt

-- name: lock_session
SELECT id, status FROM sessions WHERE id = :session_id

-- name: lock_session :postgres
SELECT id, status FROM sessions WHERE id = :session_id FOR UPDATE

-- name: share_session
SELECT id, status FROM sessions WHERE id = :session_id

-- name: share_session :postgres
SELECT id, status FROM sessions WHERE id = :session_id FOR SHARE
