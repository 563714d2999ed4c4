-- Costs by agent: each cost record names the coding agent that made it (claude, codex, gemini or
-- a custom agent; NULL for a direct API request), and cost_rollup keeps totals per bucket, agent
-- and model, so `br routing costs` groups by agent and model while budgets still add up all agents.
-- Agent runs keep their durations out of model latency (was: source = 'claude-code').
-- (Trigger bodies keep their inner `;` mid-line: the migration runner splits on `;` at line ends.)
ALTER TABLE cost_records ADD COLUMN agent TEXT;

UPDATE cost_records SET agent = 'claude' WHERE source = 'claude-code';

DROP TRIGGER cost_rollup_insert;

DROP TRIGGER cost_rollup_delete;

DROP TRIGGER cost_rollup_update;

DROP TABLE cost_rollup;

CREATE TABLE cost_rollup (
    bucket          INTEGER NOT NULL,
    agent           TEXT NOT NULL DEFAULT '',
    model           TEXT NOT NULL,
    requests        INTEGER NOT NULL DEFAULT 0,
    cost            REAL NOT NULL DEFAULT 0,
    latency_sum     REAL NOT NULL DEFAULT 0,
    latency_count   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (bucket, agent, model)
);

INSERT INTO cost_rollup (bucket, agent, model, requests, cost, latency_sum, latency_count)
SELECT CAST(ts / 900 AS INTEGER), COALESCE(agent, ''), model, COUNT(*), SUM(cost),
       COALESCE(SUM(CASE WHEN agent IS NULL THEN latency_ms END), 0),
       COUNT(CASE WHEN agent IS NULL THEN latency_ms END)
FROM cost_records GROUP BY 1, 2, 3;

CREATE INDEX cost_records_agent ON cost_records (agent, ts);

CREATE TRIGGER cost_rollup_insert AFTER INSERT ON cost_records BEGIN
    INSERT INTO cost_rollup (bucket, agent, model, requests, cost, latency_sum, latency_count)
    VALUES (CAST(NEW.ts / 900 AS INTEGER), COALESCE(NEW.agent, ''), NEW.model, 1, NEW.cost, CASE WHEN NEW.agent IS NULL THEN COALESCE(NEW.latency_ms, 0) ELSE 0 END, NEW.latency_ms IS NOT NULL AND NEW.agent IS NULL)
    ON CONFLICT (bucket, agent, model) DO UPDATE SET requests = requests + 1, cost = cost + excluded.cost,
        latency_sum = latency_sum + excluded.latency_sum, latency_count = latency_count + excluded.latency_count; END;

CREATE TRIGGER cost_rollup_delete AFTER DELETE ON cost_records BEGIN
    UPDATE cost_rollup SET requests = requests - 1, cost = cost - OLD.cost,
        latency_sum = latency_sum - (CASE WHEN OLD.agent IS NULL THEN COALESCE(OLD.latency_ms, 0) ELSE 0 END), latency_count = latency_count - (OLD.latency_ms IS NOT NULL AND OLD.agent IS NULL)
    WHERE bucket = CAST(OLD.ts / 900 AS INTEGER) AND agent = COALESCE(OLD.agent, '') AND model = OLD.model; END;

CREATE TRIGGER cost_rollup_update AFTER UPDATE OF ts, model, cost, latency_ms, source, agent ON cost_records BEGIN
    UPDATE cost_rollup SET requests = requests - 1, cost = cost - OLD.cost,
        latency_sum = latency_sum - (CASE WHEN OLD.agent IS NULL THEN COALESCE(OLD.latency_ms, 0) ELSE 0 END), latency_count = latency_count - (OLD.latency_ms IS NOT NULL AND OLD.agent IS NULL)
    WHERE bucket = CAST(OLD.ts / 900 AS INTEGER) AND agent = COALESCE(OLD.agent, '') AND model = OLD.model; INSERT INTO cost_rollup (bucket, agent, model, requests, cost, latency_sum, latency_count)
    VALUES (CAST(NEW.ts / 900 AS INTEGER), COALESCE(NEW.agent, ''), NEW.model, 1, NEW.cost, CASE WHEN NEW.agent IS NULL THEN COALESCE(NEW.latency_ms, 0) ELSE 0 END, NEW.latency_ms IS NOT NULL AND NEW.agent IS NULL)
    ON CONFLICT (bucket, agent, model) DO UPDATE SET requests = requests + 1, cost = cost + excluded.cost,
        latency_sum = latency_sum + excluded.latency_sum, latency_count = latency_count + excluded.latency_count; END;
