-- The latest connectivity check of each host (functl check --all): one row per reporter,
-- the probes as the JSON the agent sent. Times are epoch milliseconds.
CREATE TABLE fun_ai_deploy_check_report (
    reporter     TEXT COLLATE "C" NOT NULL,
    name         TEXT COLLATE "C" NOT NULL,
    remote_addr  TEXT,
    violations   BIGINT           NOT NULL DEFAULT 0,
    report_json  TEXT             NOT NULL,
    probed_at    BIGINT           NOT NULL,
    received_at  BIGINT           NOT NULL,
    PRIMARY KEY (reporter, name)
);
