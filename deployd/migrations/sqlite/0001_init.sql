-- deployd schema, SQLite dialect. Times are epoch milliseconds.

CREATE TABLE fun_ai_deploy_job (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    type             TEXT    NOT NULL,
    status           TEXT    NOT NULL,
    app_id           TEXT    NOT NULL,
    user_id          TEXT,
    payload_json     TEXT    NOT NULL,
    runner_id        TEXT,
    lease_expire_at  INTEGER,
    attempt          INTEGER NOT NULL DEFAULT 1,
    max_attempts     INTEGER NOT NULL DEFAULT 3,
    phase            TEXT,
    phase_message    TEXT,
    error_message    TEXT,
    image            TEXT,
    commit_sha       TEXT,
    runtime_node     TEXT,
    deploy_url       TEXT,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    log_received     INTEGER NOT NULL DEFAULT 0,
    log_stored       INTEGER NOT NULL DEFAULT 0,
    log_truncated    INTEGER NOT NULL DEFAULT 0,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    started_at       INTEGER,
    finished_at      INTEGER
);
CREATE INDEX idx_job_status_id ON fun_ai_deploy_job (status, id);
CREATE INDEX idx_job_app_id ON fun_ai_deploy_job (app_id, id);
CREATE INDEX idx_job_user_status ON fun_ai_deploy_job (user_id, status);
CREATE INDEX idx_job_lease ON fun_ai_deploy_job (status, lease_expire_at);
-- One active job per app, enforced by the engine rather than by a read-then-write.
CREATE UNIQUE INDEX uq_job_active_app ON fun_ai_deploy_job (app_id)
    WHERE status IN ('PENDING', 'RUNNING');

CREATE TABLE fun_ai_deploy_job_log (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id  INTEGER NOT NULL,
    offset  INTEGER NOT NULL,
    data    BLOB    NOT NULL
);
CREATE INDEX idx_job_log_job ON fun_ai_deploy_job_log (job_id, offset);

CREATE TABLE fun_ai_deploy_runtime_node (
    node_name         TEXT PRIMARY KEY,
    agent_base_url    TEXT    NOT NULL,
    gateway_base_url  TEXT    NOT NULL,
    disk_free_pct     REAL    NOT NULL DEFAULT 0,
    disk_free_bytes   INTEGER NOT NULL DEFAULT 0,
    container_count   INTEGER NOT NULL DEFAULT 0,
    enabled           INTEGER NOT NULL DEFAULT 1,
    draining          INTEGER NOT NULL DEFAULT 0,
    remote_addr       TEXT,
    last_heartbeat_at INTEGER,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL
);

CREATE TABLE fun_ai_deploy_runtime_placement (
    app_id     TEXT PRIMARY KEY,
    user_id    TEXT,
    node_name  TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX idx_placement_node ON fun_ai_deploy_runtime_placement (node_name);

CREATE TABLE fun_ai_deploy_app_run (
    app_id             TEXT PRIMARY KEY,
    user_id            TEXT,
    node_name          TEXT,
    last_job_id        INTEGER,
    last_job_status    TEXT,
    status             TEXT    NOT NULL,
    image              TEXT,
    commit_sha         TEXT,
    deploy_url         TEXT,
    error_message      TEXT,
    recent_images_json TEXT    NOT NULL DEFAULT '[]',
    updated_at         INTEGER NOT NULL
);
CREATE INDEX idx_app_run_user ON fun_ai_deploy_app_run (user_id, status);

CREATE TABLE fun_ai_deploy_runner (
    runner_id    TEXT PRIMARY KEY,
    remote_addr  TEXT,
    legacy       INTEGER NOT NULL DEFAULT 0,
    jobs_claimed INTEGER NOT NULL DEFAULT 0,
    last_seen_at INTEGER NOT NULL,
    created_at   INTEGER NOT NULL
);

CREATE TABLE fun_ai_deploy_audit (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    at     INTEGER NOT NULL,
    actor  TEXT    NOT NULL,
    action TEXT    NOT NULL,
    target TEXT    NOT NULL,
    detail TEXT
);
