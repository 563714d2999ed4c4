-- Failed tasks retried by hand (`br parallel resume --retry-failed`): the attempts up to retry_from were the
-- task's before the retry, and its retries count the failures after it only (a retried task gets its retries anew).
ALTER TABLE tasks ADD COLUMN retry_from INTEGER NOT NULL DEFAULT 0;
