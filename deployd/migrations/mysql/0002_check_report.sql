-- The latest connectivity check of each host (functl check --all): one row per reporter,
-- the probes as the JSON the agent sent. Times are epoch milliseconds.
CREATE TABLE fun_ai_deploy_check_report (
    reporter     VARCHAR(16)  NOT NULL,
    name         VARCHAR(128) NOT NULL,
    remote_addr  VARCHAR(64),
    violations   BIGINT       NOT NULL DEFAULT 0,
    report_json  MEDIUMTEXT   NOT NULL,
    probed_at    BIGINT       NOT NULL,
    received_at  BIGINT       NOT NULL,
    PRIMARY KEY (reporter, name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
