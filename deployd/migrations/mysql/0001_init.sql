-- deployd schema, MySQL/MariaDB dialect (InnoDB, utf8mb4, bytewise collation as SQLite):
-- the tables of the SQLite dialect, for several deployd replicas sharing one database.
-- Times are epoch milliseconds; flags are 0/1 integers as in every dialect.

CREATE TABLE fun_ai_deploy_job (
    id               BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    type             VARCHAR(32)  NOT NULL,
    status           VARCHAR(16)  NOT NULL,
    app_id           VARCHAR(64)  NOT NULL,
    user_id          VARCHAR(64),
    payload_json     MEDIUMTEXT   NOT NULL,
    runner_id        VARCHAR(128),
    lease_expire_at  BIGINT,
    attempt          BIGINT       NOT NULL DEFAULT 1,
    max_attempts     BIGINT       NOT NULL DEFAULT 3,
    phase            VARCHAR(32),
    phase_message    TEXT,
    error_message    MEDIUMTEXT,
    image            TEXT,
    commit_sha       VARCHAR(64),
    runtime_node     TEXT,
    deploy_url       TEXT,
    cancel_requested BIGINT       NOT NULL DEFAULT 0,
    log_received     BIGINT       NOT NULL DEFAULT 0,
    log_stored       BIGINT       NOT NULL DEFAULT 0,
    log_truncated    BIGINT       NOT NULL DEFAULT 0,
    created_at       BIGINT       NOT NULL,
    updated_at       BIGINT       NOT NULL,
    started_at       BIGINT,
    finished_at      BIGINT,
    -- MySQL has no partial unique index: the app id while the job is active, NULL after
    -- (NULLs never collide), so the engine keeps one active job per app across replicas.
    active_app_id    VARCHAR(64) GENERATED ALWAYS AS
        (CASE WHEN status IN ('PENDING', 'RUNNING') THEN app_id ELSE NULL END) STORED,
    UNIQUE KEY uq_job_active_app (active_app_id),
    KEY idx_job_status_id (status, id),
    KEY idx_job_app_id (app_id, id),
    KEY idx_job_user_status (user_id, status),
    KEY idx_job_lease (status, lease_expire_at),
    KEY idx_job_runner (runner_id, status),
    -- The change poll of the other replicas: jobs changed since a moment.
    KEY idx_job_updated (updated_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE fun_ai_deploy_job_log (
    id       BIGINT   NOT NULL AUTO_INCREMENT PRIMARY KEY,
    job_id   BIGINT   NOT NULL,
    `offset` BIGINT   NOT NULL,
    data     LONGBLOB NOT NULL,
    KEY idx_job_log_job (job_id, `offset`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE fun_ai_deploy_runtime_node (
    node_name         VARCHAR(128) NOT NULL PRIMARY KEY,
    agent_base_url    VARCHAR(512) NOT NULL,
    gateway_base_url  VARCHAR(512) NOT NULL,
    disk_free_pct     DOUBLE       NOT NULL DEFAULT 0,
    disk_free_bytes   BIGINT       NOT NULL DEFAULT 0,
    container_count   BIGINT       NOT NULL DEFAULT 0,
    enabled           BIGINT       NOT NULL DEFAULT 1,
    draining          BIGINT       NOT NULL DEFAULT 0,
    remote_addr       VARCHAR(64),
    last_heartbeat_at BIGINT,
    created_at        BIGINT       NOT NULL,
    updated_at        BIGINT       NOT NULL,
    -- Placement at claim: the usable nodes in the order placement prefers them.
    KEY idx_node_choice (enabled, draining, disk_free_bytes DESC, disk_free_pct DESC,
        container_count ASC, node_name ASC)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE fun_ai_deploy_runtime_placement (
    app_id     VARCHAR(64)  NOT NULL PRIMARY KEY,
    user_id    VARCHAR(64),
    node_name  VARCHAR(128) NOT NULL,
    created_at BIGINT       NOT NULL,
    updated_at BIGINT       NOT NULL,
    KEY idx_placement_node (node_name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE fun_ai_deploy_app_run (
    app_id             VARCHAR(64) NOT NULL PRIMARY KEY,
    user_id            VARCHAR(64),
    node_name          VARCHAR(128),
    last_job_id        BIGINT,
    last_job_status    VARCHAR(16),
    status             VARCHAR(16) NOT NULL,
    image              TEXT,
    commit_sha         VARCHAR(64),
    deploy_url         TEXT,
    error_message      MEDIUMTEXT,
    recent_images_json MEDIUMTEXT  NOT NULL,
    updated_at         BIGINT      NOT NULL,
    KEY idx_app_run_user (user_id, status)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE fun_ai_deploy_runner (
    runner_id    VARCHAR(128) NOT NULL PRIMARY KEY,
    remote_addr  VARCHAR(64),
    legacy       BIGINT       NOT NULL DEFAULT 0,
    jobs_claimed BIGINT       NOT NULL DEFAULT 0,
    last_seen_at BIGINT       NOT NULL,
    created_at   BIGINT       NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE fun_ai_deploy_audit (
    id     BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    at     BIGINT       NOT NULL,
    actor  VARCHAR(255) NOT NULL,
    action VARCHAR(64)  NOT NULL,
    target VARCHAR(255) NOT NULL,
    detail TEXT
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- One row per user with jobs: creating a job locks it, so the per-user limit on active
-- apps holds when replicas create jobs of one user at the same moment.
CREATE TABLE fun_ai_deploy_user_lock (
    user_id VARCHAR(64) NOT NULL PRIMARY KEY
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
