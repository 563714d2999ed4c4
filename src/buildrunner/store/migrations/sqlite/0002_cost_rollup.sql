-- Routing: per-15-minute, per-model cost totals, kept by triggers on cost_records, so
-- `br routing costs` and every budget check read a few thousand rows instead of a month of
-- requests. 15 minutes divides every real UTC offset, so local days and periods stay exact.
-- Latency sums count single API requests only: a Claude Code run's duration is a whole agent task.
-- (Trigger bodies keep their inner `;` mid-line: the migration runner splits on `;` at line ends.)
CREATE TABLE cost_rollup (
    bucket          INTEGER NOT NULL,
    model           TEXT NOT NULL,
    requests        INTEGER NOT NULL DEFAULT 0,
    cost            REAL NOT NULL DEFAULT 0,
    latency_sum     REAL NOT NULL DEFAULT 0,
    latency_count   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (bucket, model)
);

INSERT INTO cost_rollup (bucket, model, requests, cost, latency_sum, latency_count)
SELECT CAST(ts / 900 AS INTEGER), model, COUNT(*), SUM(cost),
       COALESCE(SUM(CASE WHEN source = 'claude-code' THEN NULL ELSE latency_ms END), 0),
       COUNT(CASE WHEN source = 'claude-code' THEN NULL ELSE latency_ms END)
FROM cost_records GROUP BY 1, 2;

CREATE TRIGGER cost_rollup_insert AFTER INSERT ON cost_records BEGIN
    INSERT INTO cost_rollup (bucket, model, requests, cost, latency_sum, latency_count)
    VALUES (CAST(NEW.ts / 900 AS INTEGER), NEW.model, 1, NEW.cost, CASE WHEN NEW.source = 'claude-code' THEN 0 ELSE COALESCE(NEW.latency_ms, 0) END, NEW.latency_ms IS NOT NULL AND NEW.source <> 'claude-code')
    ON CONFLICT (bucket, model) DO UPDATE SET requests = requests + 1, cost = cost + excluded.cost,
        latency_sum = latency_sum + excluded.latency_sum, latency_count = latency_count + excluded.latency_count; END;

CREATE TRIGGER cost_rollup_delete AFTER DELETE ON cost_records BEGIN
    UPDATE cost_rollup SET requests = requests - 1, cost = cost - OLD.cost,
        latency_sum = latency_sum - (CASE WHEN OLD.source = 'claude-code' THEN 0 ELSE COALESCE(OLD.latency_ms, 0) END), latency_count = latency_count - (OLD.latency_ms IS NOT NULL AND OLD.source <> 'claude-code')
    WHERE bucket = CAST(OLD.ts / 900 AS INTEGER) AND model = OLD.model; END;

CREATE TRIGGER cost_rollup_update AFTER UPDATE OF ts, model, cost, latency_ms, source ON cost_records BEGIN
    UPDATE cost_rollup SET requests = requests - 1, cost = cost - OLD.cost,
        latency_sum = latency_sum - (CASE WHEN OLD.source = 'claude-code' THEN 0 ELSE COALESCE(OLD.latency_ms, 0) END), latency_count = latency_count - (OLD.latency_ms IS NOT NULL AND OLD.source <> 'claude-code')
    WHERE bucket = CAST(OLD.ts / 900 AS INTEGER) AND model = OLD.model; INSERT INTO cost_rollup (bucket, model, requests, cost, latency_sum, latency_count)
    VALUES (CAST(NEW.ts / 900 AS INTEGER), NEW.model, 1, NEW.cost, CASE WHEN NEW.source = 'claude-code' THEN 0 ELSE COALESCE(NEW.latency_ms, 0) END, NEW.latency_ms IS NOT NULL AND NEW.source <> 'claude-code')
    ON CONFLICT (bucket, model) DO UPDATE SET requests = requests + 1, cost = cost + excluded.cost,
        latency_sum = latency_sum + excluded.latency_sum, latency_count = latency_count + excluded.latency_count; END;
