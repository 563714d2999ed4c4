-- Routing outcomes: one row per finished prompt task, written through routing.outcomes.record_outcome
-- (by the escalation loop) and read through routing.outcomes.load_outcomes (by `br routing calibrate`).
-- factors and ladder are JSON text: factors [{name, weight, detail, words}], ladder [{tier, model, cost, outcome, reason}].
CREATE TABLE routing_outcomes (
    session_id   TEXT NOT NULL,
    task_id      TEXT NOT NULL,
    description  TEXT NOT NULL,
    agent        TEXT,
    score        INTEGER NOT NULL CHECK (score BETWEEN 0 AND 100),
    level        TEXT NOT NULL,
    factors      TEXT NOT NULL DEFAULT '[]',
    source       TEXT NOT NULL DEFAULT 'heuristic',
    calibration  TEXT,
    start_tier   TEXT NOT NULL,
    passed_tier  TEXT,
    attempts     INTEGER NOT NULL CHECK (attempts >= 1),
    ladder       TEXT NOT NULL DEFAULT '[]',
    cost         DOUBLE PRECISION NOT NULL DEFAULT 0,
    finished_at  DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (session_id, task_id)
);
CREATE INDEX routing_outcomes_finished ON routing_outcomes (finished_at);
