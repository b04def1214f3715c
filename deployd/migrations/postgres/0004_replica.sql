-- The deployd replicas that share this database: each keeps its row fresh, and wakes the
-- long-polls of the others at the URL it finds here after its commits.
CREATE TABLE fun_ai_deploy_replica (
    replica_id   VARCHAR(64)  NOT NULL PRIMARY KEY,
    internal_url VARCHAR(512) NOT NULL,
    started_at   BIGINT       NOT NULL,
    last_seen_at BIGINT       NOT NULL
);
