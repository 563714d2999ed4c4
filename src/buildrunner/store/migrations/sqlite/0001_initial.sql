-- BuildRunner schema v1 (SQLite). Times are UTC epoch seconds (REAL); JSON is TEXT.
CREATE TABLE sessions (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    status          TEXT NOT NULL,
    plan            TEXT NOT NULL DEFAULT '{}',
    project_root    TEXT,
    total_tasks     INTEGER NOT NULL DEFAULT 0,
    num_workers     INTEGER NOT NULL DEFAULT 0,
    cost_limit      REAL,
    created_at      REAL NOT NULL,
    started_at      REAL,
    finished_at     REAL,
    updated_at      REAL NOT NULL
);
CREATE INDEX sessions_status ON sessions (status, created_at);

CREATE TABLE tasks (
    session_id      TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    task_id         TEXT NOT NULL,
    position        INTEGER NOT NULL,
    description     TEXT NOT NULL DEFAULT '',
    kind            TEXT NOT NULL,
    command         TEXT,
    prompt          TEXT,
    model           TEXT,
    depends_on      TEXT NOT NULL DEFAULT '[]',
    timeout         REAL,
    max_retries     INTEGER NOT NULL DEFAULT 0,
    env             TEXT NOT NULL DEFAULT '{}',
    cwd             TEXT,
    isolation       TEXT,
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    worker_id       TEXT,
    not_before      REAL,
    claimed_at      REAL,
    started_at      REAL,
    finished_at     REAL,
    exit_code       INTEGER,
    error           TEXT,
    selected_model  TEXT,
    cost            REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (session_id, task_id)
);
CREATE INDEX tasks_claim ON tasks (session_id, status, position);
CREATE INDEX tasks_worker ON tasks (worker_id, status);

CREATE TABLE task_attempts (
    id              INTEGER PRIMARY KEY,
    session_id      TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    task_id         TEXT NOT NULL,
    attempt         INTEGER NOT NULL,
    worker_id       TEXT,
    status          TEXT NOT NULL,
    started_at      REAL NOT NULL,
    finished_at     REAL,
    exit_code       INTEGER,
    error           TEXT,
    duration_ms     REAL,
    cost            REAL NOT NULL DEFAULT 0,
    model           TEXT,
    log_path        TEXT,
    UNIQUE (session_id, task_id, attempt)
);

CREATE TABLE workers (
    id              TEXT PRIMARY KEY,
    session_id      TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    hostname        TEXT NOT NULL,
    pid             INTEGER NOT NULL,
    status          TEXT NOT NULL,
    current_task    TEXT,
    tasks_completed INTEGER NOT NULL DEFAULT 0,
    started_at      REAL NOT NULL,
    last_heartbeat  REAL NOT NULL,
    stopped_at      REAL,
    cpu_seconds     REAL NOT NULL DEFAULT 0,
    peak_rss_bytes  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX workers_session ON workers (session_id, status);

CREATE TABLE events (
    id              INTEGER PRIMARY KEY,
    ts              REAL NOT NULL,
    type            TEXT NOT NULL,
    session_id      TEXT,
    task_id         TEXT,
    worker_id       TEXT,
    duration_ms     REAL,
    cost            REAL,
    error           TEXT,
    message         TEXT,
    data            TEXT
);
CREATE INDEX events_ts ON events (ts);
CREATE INDEX events_type_ts ON events (type, ts);
CREATE INDEX events_session_ts ON events (session_id, ts);

CREATE TABLE cost_records (
    id                  INTEGER PRIMARY KEY,
    ts                  REAL NOT NULL,
    model               TEXT NOT NULL,
    model_id            TEXT,
    input_tokens        INTEGER NOT NULL DEFAULT 0,
    output_tokens       INTEGER NOT NULL DEFAULT 0,
    cache_read_tokens   INTEGER NOT NULL DEFAULT 0,
    cache_write_tokens  INTEGER NOT NULL DEFAULT 0,
    cost                REAL NOT NULL,
    latency_ms          REAL,
    session_id          TEXT,
    task_id             TEXT,
    source              TEXT NOT NULL DEFAULT 'api'
);
CREATE INDEX cost_records_ts ON cost_records (ts);
CREATE INDEX cost_records_session ON cost_records (session_id);

CREATE TABLE alerts (
    id              INTEGER PRIMARY KEY,
    key             TEXT NOT NULL UNIQUE,
    level           TEXT NOT NULL,
    title           TEXT NOT NULL,
    message         TEXT NOT NULL DEFAULT '',
    current_value   REAL,
    threshold       REAL,
    first_triggered REAL NOT NULL,
    last_triggered  REAL NOT NULL,
    resolved_at     REAL,
    trigger_count   INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX alerts_level ON alerts (level, last_triggered);
