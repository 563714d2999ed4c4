-- Routing: cost records, summaries and budgets. Times are UTC epoch seconds.
-- Summaries read cost_rollup (per 15-minute bucket, agent and model, kept by triggers; migrations 0002, 0011).
-- Its agent is '' for requests made directly through an API, not by a coding agent.

-- name: insert_cost
INSERT INTO cost_records (ts, model, model_id, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens,
                          cost, latency_ms, session_id, task_id, source, agent)
VALUES (:ts, :model, :model_id, :input_tokens, :output_tokens, :cache_read_tokens, :cache_write_tokens,
        :cost, :latency_ms, :session_id, :task_id, :source, :agent)
RETURNING id

-- name: spent_since
-- `bucket` is the period start (aligned to 15 minutes) divided by 900.
SELECT COALESCE(SUM(cost), 0) AS spent FROM cost_rollup WHERE bucket >= :bucket

-- name: cost_by_slot_and_model
-- Per 15-minute slot: the caller puts each slot on its local calendar day (a day's UTC offset is not one number
-- across a daylight-saving change).
SELECT bucket, agent, model, SUM(requests) AS requests, SUM(cost) AS cost
FROM cost_rollup
WHERE bucket >= :bucket
GROUP BY 1, 2, 3
HAVING SUM(requests) > 0

-- name: records_page
-- Keyset pagination in insertion order, so exports stream in constant memory.
SELECT id, ts, model, model_id, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens,
       cost, latency_ms, session_id, task_id, source, agent
FROM cost_records
WHERE ts >= :start AND id > :after
ORDER BY id
LIMIT :page

-- name: observed_latency
-- Mean latency per model over recent requests that reported one.
SELECT model, SUM(latency_sum) / SUM(latency_count) AS latency_ms, SUM(latency_count) AS samples
FROM cost_rollup
WHERE bucket >= :bucket
GROUP BY model
HAVING SUM(latency_count) > 0

-- name: upsert_outcome
-- One row per finished task: recording it again (a retry of the bookkeeping) replaces it.
INSERT INTO routing_outcomes (session_id, task_id, description, agent, score, level, factors, source, calibration,
                              start_tier, passed_tier, attempts, ladder, cost, finished_at)
VALUES (:session_id, :task_id, :description, :agent, :score, :level, :factors, :source, :calibration,
        :start_tier, :passed_tier, :attempts, :ladder, :cost, :finished_at)
ON CONFLICT (session_id, task_id) DO UPDATE SET
    description = excluded.description, agent = excluded.agent, score = excluded.score, level = excluded.level,
    factors = excluded.factors, source = excluded.source, calibration = excluded.calibration,
    start_tier = excluded.start_tier, passed_tier = excluded.passed_tier, attempts = excluded.attempts,
    ladder = excluded.ladder, cost = excluded.cost, finished_at = excluded.finished_at

-- name: outcomes_since
SELECT session_id, task_id, description, agent, score, level, factors, source, calibration,
       start_tier, passed_tier, attempts, ladder, cost, finished_at
FROM routing_outcomes
WHERE finished_at >= :since
ORDER BY finished_at, session_id, task_id
