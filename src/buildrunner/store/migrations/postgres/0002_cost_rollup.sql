-- Routing: per-15-minute, per-model cost totals, kept by triggers on cost_records, so
-- `br routing costs` and every budget check read a few thousand rows instead of a month of
-- requests. 15 minutes divides every real UTC offset, so local days and periods stay exact.
-- Latency sums count single API requests only: a Claude Code run's duration is a whole agent task.
-- (Function bodies keep their inner `;` mid-line: the migration runner splits on `;` at line ends.)
CREATE TABLE cost_rollup (
    bucket          BIGINT NOT NULL,
    model           TEXT NOT NULL,
    requests        BIGINT NOT NULL DEFAULT 0,
    cost            DOUBLE PRECISION NOT NULL DEFAULT 0,
    latency_sum     DOUBLE PRECISION NOT NULL DEFAULT 0,
    latency_count   BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (bucket, model)
);

INSERT INTO cost_rollup (bucket, model, requests, cost, latency_sum, latency_count)
SELECT FLOOR(ts / 900)::bigint, model, COUNT(*), SUM(cost),
       COALESCE(SUM(CASE WHEN source = 'claude-code' THEN NULL ELSE latency_ms END), 0),
       COUNT(CASE WHEN source = 'claude-code' THEN NULL ELSE latency_ms END)
FROM cost_records GROUP BY 1, 2;

CREATE FUNCTION cost_rollup_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        UPDATE cost_rollup SET requests = requests - 1, cost = cost - OLD.cost,
            latency_sum = latency_sum - (CASE WHEN OLD.source = 'claude-code' THEN 0 ELSE COALESCE(OLD.latency_ms, 0) END),
            latency_count = latency_count - (CASE WHEN OLD.latency_ms IS NULL OR OLD.source = 'claude-code' THEN 0 ELSE 1 END)
        WHERE bucket = FLOOR(OLD.ts / 900)::bigint AND model = OLD.model; END IF; IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO cost_rollup (bucket, model, requests, cost, latency_sum, latency_count)
        VALUES (FLOOR(NEW.ts / 900)::bigint, NEW.model, 1, NEW.cost,
                CASE WHEN NEW.source = 'claude-code' THEN 0 ELSE COALESCE(NEW.latency_ms, 0) END,
                CASE WHEN NEW.latency_ms IS NULL OR NEW.source = 'claude-code' THEN 0 ELSE 1 END)
        ON CONFLICT (bucket, model) DO UPDATE SET requests = cost_rollup.requests + 1, cost = cost_rollup.cost + EXCLUDED.cost,
            latency_sum = cost_rollup.latency_sum + EXCLUDED.latency_sum, latency_count = cost_rollup.latency_count + EXCLUDED.latency_count; END IF; RETURN NULL; END
$$;

CREATE TRIGGER cost_rollup_insert AFTER INSERT ON cost_records FOR EACH ROW EXECUTE FUNCTION cost_rollup_apply();

CREATE TRIGGER cost_rollup_delete AFTER DELETE ON cost_records FOR EACH ROW EXECUTE FUNCTION cost_rollup_apply();

CREATE TRIGGER cost_rollup_update AFTER UPDATE OF ts, model, cost, latency_ms, source ON cost_records FOR EACH ROW EXECUTE FUNCTION cost_rollup_apply();
