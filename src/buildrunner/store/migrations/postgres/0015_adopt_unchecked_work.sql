-- Exactly once for checked tasks (issue 11): when a worker is lost after its task's command exited but
-- before the attempt's checks (verify, security check, commit) ran, the command is not run again: the
-- task's next attempt adopts that attempt's work (its worktree, its output) and runs only the checks.
-- adopt_attempt names the attempt whose work waits to be checked; NULL when the next attempt starts afresh.
ALTER TABLE tasks ADD COLUMN adopt_attempt INTEGER;
