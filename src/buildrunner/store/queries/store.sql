-- Statements of the store itself (not of one capability).

-- name: clock
SELECT {clock} AS t
