-- Where a worker's processes can be seen and its attempt records read: its host, that host's boot, its PID namespace
-- and its project folder. Two checkouts on one host (or a container sharing the host's name) are different places:
-- matched by hostname alone, a reaper read the other's records in its own folder, found none, and ran finished tasks
-- again. NULL for workers registered before this migration (matched by hostname, as then).
ALTER TABLE workers ADD COLUMN machine TEXT;
