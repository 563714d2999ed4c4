-- The estimate a prompt task was routed on (issue 14), kept when routing first picks its tier: the outcome
-- recorded when the task ends says what routing saw then, not a new estimate of a tree the task has since
-- changed (the code reach factor reads the project's code) or under a calibration written meanwhile.
-- JSON of ComplexityResult; NULL for shell tasks, forced escalations and tasks routed before this migration.
ALTER TABLE tasks ADD COLUMN routing_estimate TEXT;
