-- Agents and the loop (issues 12 and 13). Sessions: the commit and branch they started from (worktrees
-- branch from it; `br parallel merge` lands on it), the plan's setup command, whether passing work is
-- merged as tasks pass, and why prompt tasks are held (a spent budget: shell tasks go on).
-- Tasks: the agent that runs them, their verify command, whether a failed attempt climbs a tier, the
-- tier the next attempt runs on and what the last failed attempt's check said (added to its prompt).
-- Attempts: the rung of the ladder (agent, tier), why it ended (outcome), live progress, the verify
-- result and where its work is (branch, commit, the worktree kept for inspection when it failed).
ALTER TABLE sessions ADD COLUMN base_branch TEXT;
ALTER TABLE sessions ADD COLUMN base_commit TEXT;
ALTER TABLE sessions ADD COLUMN setup TEXT;
ALTER TABLE sessions ADD COLUMN merge_on_pass INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN prompts_held TEXT;
ALTER TABLE tasks ADD COLUMN agent TEXT;
ALTER TABLE tasks ADD COLUMN verify TEXT;
ALTER TABLE tasks ADD COLUMN escalate INTEGER NOT NULL DEFAULT 1;
ALTER TABLE tasks ADD COLUMN next_tier TEXT;
ALTER TABLE tasks ADD COLUMN context TEXT;
ALTER TABLE task_attempts ADD COLUMN agent TEXT;
ALTER TABLE task_attempts ADD COLUMN tier TEXT;
ALTER TABLE task_attempts ADD COLUMN outcome TEXT;
ALTER TABLE task_attempts ADD COLUMN turns INTEGER;
ALTER TABLE task_attempts ADD COLUMN last_action TEXT;
ALTER TABLE task_attempts ADD COLUMN verify_exit INTEGER;
ALTER TABLE task_attempts ADD COLUMN branch TEXT;
ALTER TABLE task_attempts ADD COLUMN commit_sha TEXT;
ALTER TABLE task_attempts ADD COLUMN worktree TEXT;
