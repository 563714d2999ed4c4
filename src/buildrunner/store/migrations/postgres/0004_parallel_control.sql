-- Parallel sessions: why a session is paused/stopped, how hard to stop it, and per-task cost limits.
ALTER TABLE sessions ADD COLUMN status_reason TEXT;
ALTER TABLE sessions ADD COLUMN stop_grace DOUBLE PRECISION;
ALTER TABLE tasks ADD COLUMN cost_limit DOUBLE PRECISION;
ALTER TABLE task_attempts ADD COLUMN pid INTEGER;
