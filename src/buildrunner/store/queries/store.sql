-- Statements of the store itself (not of one capability).

-- name: clock
SELECT {clock} AS t

-- name: maintenance_last_run
SELECT last_run FROM maintenance WHERE job = :job

-- name: maintenance_ran
INSERT INTO maintenance (job, last_run) VALUES (:job, :now)
ON CONFLICT (job) DO UPDATE SET last_run = excluded.last_run
