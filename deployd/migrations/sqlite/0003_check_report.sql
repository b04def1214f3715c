-- The latest connectivity check of each host (functl check --all): one row per reporter,
-- the probes as the JSON the agent sent. Times are epoch milliseconds.
CREATE TABLE fun_ai_deploy_check_report (
    reporter     TEXT    NOT NULL,
    name         TEXT    NOT NULL,
    remote_addr  TEXT,
    violations   INTEGER NOT NULL DEFAULT 0,
    report_json  TEXT    NOT NULL,
    probed_at    INTEGER NOT NULL,
    received_at  INTEGER NOT NULL,
    PRIMARY KEY (reporter, name)
);
