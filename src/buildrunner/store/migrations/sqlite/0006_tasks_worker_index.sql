-- Cheaper claims and results: tasks_worker was only used to find a lost worker's running tasks,
-- which tasks_claim (session_id, status = 'running', ...) narrows to a handful of rows anyway,
-- and it was rewritten twice for every task a worker ran.
DROP INDEX IF EXISTS tasks_worker;
