-- The deployd replicas that share this database (one on SQLite; the table is the same on
-- every engine).
CREATE TABLE fun_ai_deploy_replica (
    replica_id   TEXT    NOT NULL PRIMARY KEY,
    internal_url TEXT    NOT NULL,
    started_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL
);
