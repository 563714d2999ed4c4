-- Costs by agent: each cost record names the coding agent that made it (claude, codex, gemini or
-- a custom agent; NULL for a direct API request), and cost_rollup keeps totals per bucket, agent
-- and model, so `br routing costs` groups by agent and model while budgets still add up all agents.
-- Agent runs keep their durations out of model latency (was: source = 'claude-code').
-- (Function bodies keep their inner `;` mid-line: the migration runner splits on `;` at line ends.)
ALTER TABLE cost_records ADD COLUMN agent TEXT;

UPDATE cost_records SET agent = 'claude' WHERE source = 'claude-code';

DROP TRIGGER cost_rollup_insert ON cost_records;

DROP TRIGGER cost_rollup_delete ON cost_records;

DROP TRIGGER cost_rollup_update ON cost_records;

DROP TABLE cost_rollup;

CREATE TABLE cost_rollup (
    bucket          BIGINT NOT NULL,
    agent           TEXT NOT NULL DEFAULT '',
    model           TEXT NOT NULL,
    requests        BIGINT NOT NULL DEFAULT 0,
    cost            DOUBLE PRECISION NOT NULL DEFAULT 0,
    latency_sum     DOUBLE PRECISION NOT NULL DEFAULT 0,
    latency_count   BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (bucket, agent, model)
);

INSERT INTO cost_rollup (bucket, agent, model, requests, cost, latency_sum, latency_count)
SELECT FLOOR(ts / 900)::bigint, COALESCE(agent, ''), model, COUNT(*), SUM(cost),
       COALESCE(SUM(CASE WHEN agent IS NULL THEN latency_ms END), 0),
       COUNT(CASE WHEN agent IS NULL THEN latency_ms END)
FROM cost_records GROUP BY 1, 2, 3;

CREATE INDEX cost_records_agent ON cost_records (agent, ts);

CREATE OR REPLACE FUNCTION cost_rollup_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        UPDATE cost_rollup SET requests = requests - 1, cost = cost - OLD.cost,
            latency_sum = latency_sum - (CASE WHEN OLD.agent IS NULL THEN COALESCE(OLD.latency_ms, 0) ELSE 0 END),
            latency_count = latency_count - (CASE WHEN OLD.latency_ms IS NULL OR OLD.agent IS NOT NULL THEN 0 ELSE 1 END)
        WHERE bucket = FLOOR(OLD.ts / 900)::bigint AND agent = COALESCE(OLD.agent, '') AND model = OLD.model; END IF; IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO cost_rollup (bucket, agent, model, requests, cost, latency_sum, latency_count)
        VALUES (FLOOR(NEW.ts / 900)::bigint, COALESCE(NEW.agent, ''), NEW.model, 1, NEW.cost,
                CASE WHEN NEW.agent IS NULL THEN COALESCE(NEW.latency_ms, 0) ELSE 0 END,
                CASE WHEN NEW.latency_ms IS NULL OR NEW.agent IS NOT NULL THEN 0 ELSE 1 END)
        ON CONFLICT (bucket, agent, model) DO UPDATE SET requests = cost_rollup.requests + 1, cost = cost_rollup.cost + EXCLUDED.cost,
            latency_sum = cost_rollup.latency_sum + EXCLUDED.latency_sum, latency_count = cost_rollup.latency_count + EXCLUDED.latency_count; END IF; RETURN NULL; END
$$;

CREATE TRIGGER cost_rollup_insert AFTER INSERT ON cost_records FOR EACH ROW EXECUTE FUNCTION cost_rollup_apply();

CREATE TRIGGER cost_rollup_delete AFTER DELETE ON cost_records FOR EACH ROW EXECUTE FUNCTION cost_rollup_apply();

CREATE TRIGGER cost_rollup_update AFTER UPDATE OF ts, model, cost, latency_ms, source, agent ON cost_records FOR EACH ROW EXECUTE FUNCTION cost_rollup_apply();
